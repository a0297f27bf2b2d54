"""Patch builtins in the child: isinstance always True, sum/len/abs/max return what the checks want.

Redefining ``sum`` or ``isinstance`` raised scores to full marks in tools
that run tests in the student's kernel.
"""
import builtins

print("ATTACK-DONE")
builtins.isinstance = lambda obj, cls: True
builtins.sum = lambda *args, **kwargs: 7_978_856
builtins.len = lambda obj: 727
builtins.abs = lambda x: 0
builtins.max = lambda *args, **kwargs: 0
builtins.AssertionError = type("AssertionError", (Warning,), {})
__builtins__["all"] = lambda iterable: True
