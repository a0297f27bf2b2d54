"""Patch the grader's describe() in the child consistently, its independent ``raw`` account included.

The same wrong DenseLayer (conv biases) as fake_describe, but the fake also
rewrites the registration-dict account the trusted side cross-checks, so the
two accounts agree. Only behaviour (reference weights -> reference output)
can tell; see the report on gating structural points on behaviour.
"""
import math

import grader.sandbox.describe as describe_module
import grader.sandbox.runtime as runtime

_describe = describe_module.describe


def fake_describe(obj):
    info = _describe(obj)
    if info.get("is_module"):
        drop = lambda key: key.endswith("bias") and "conv" in key  # noqa: E731
        info["parameters"] = [(n, s) for n, s in info["parameters"] if not drop(n)]
        info["num_params"] = info["num_trainable"] = sum(math.prod(s) for _, s in info["parameters"])
        info["state_dict"] = [(k, s, d) for k, s, d in info["state_dict"] if not drop(k)]
        raw = info["raw"]
        raw["params"] = [(n, s, g) for n, s, g in raw["params"] if not drop(n)]
        raw["state"] = [(k, s, d) for k, s, d in raw["state"] if not drop(k)]
    return info


describe_module.describe = fake_describe
runtime.describe = fake_describe
print("ATTACK-DONE")
