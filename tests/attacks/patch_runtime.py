"""Rewrite the grader's own code running in the child (grader.sandbox.runtime).

Every error becomes a success with the value None, ``len``/``iter`` lie, and
the "exit" request is ignored, so the child stays and keeps answering.
"""
import grader.sandbox.runtime as runtime

_handle = runtime.Runtime.handle


def handle(self, request):
    if request.get("op") == "len":
        return 727
    try:
        return _handle(self, request)
    except BaseException:
        return None


runtime.Runtime.handle = handle
runtime.Runtime.error_report = lambda self, err: {"type": "None", "mro": [], "message": "", "traceback": ""}
print("ATTACK-DONE")
