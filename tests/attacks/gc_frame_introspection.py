"""Introspect the interpreter: gc objects, frames above this cell, sys.modules, looking for the grader's secrets.

Walks sys._getframe() up to the runtime, reads its request, scans every live
string for the hidden tests' or the solution's text, and looks for a
``reference`` module or test module in sys.modules.
"""
import gc
import inspect
import sys

secrets = ["def test_" + "dense_layer_parameters", "### BEGIN " + "SOLUTION", "autograde" + "_tests/test_"]
own = "Introspect the " + "interpreter"  # this cell's own source is in memory too
frame = sys._getframe()
while frame is not None:
    if "request" in frame.f_locals:
        request = frame.f_locals["request"]
    frame = frame.f_back
for obj in gc.get_objects():
    if isinstance(obj, dict):
        for value in list(obj.values())[:50]:
            if isinstance(value, str) and any(s in value for s in secrets) and own not in value:
                print("ATTACK-SUCCESS: secret text in memory", value[:60])
for name in list(sys.modules):
    if name.startswith(("reference_", "test_", "autograde")) or name in ("reference", "conftest"):
        print("ATTACK-SUCCESS: module", name)
stack = [f.function for f in inspect.stack()]
print("ATTACK-DONE")
