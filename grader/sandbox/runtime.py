"""The program inside the sandboxed child: run the student's cells, then answer calls.

Everything here is untrusted once the first student cell has run (the student
can patch this very module), so the trusted side re-checks every answer
(``grader.wire.recv_trusted``). This module only has to be *useful* to an
honest submission: it keeps non-data objects (modules, classes, functions)
behind numbered handles and sends data by value.
"""
from __future__ import annotations

import builtins
import linecache
import os
import signal
import socket
import sys
import time
import traceback
import types
from collections import OrderedDict
from contextlib import nullcontext

import torch

from grader import wire
from grader.wire import Op
from grader.sandbox.describe import count_calls, describe, for_the_wire, type_names

MAX_OUTPUT_CHARS = 4000


class CappedWriter:
    """Keeps the first few thousand characters a cell prints; an output bomb costs nothing."""

    def __init__(self, limit: int = MAX_OUTPUT_CHARS):
        self.limit, self.parts, self.size, self.dropped = limit, [], 0, 0

    def write(self, text) -> int:
        text = str(text)
        room = self.limit - self.size
        if room > 0:
            self.parts.append(text[:room])
            self.size += min(room, len(text))
        self.dropped += max(0, len(text) - max(room, 0))
        return len(text)

    def flush(self) -> None:
        pass

    def take(self) -> str:
        text = "".join(self.parts)
        if self.dropped:
            text += f"\n... ({self.dropped:,} more characters not kept)"
        self.parts, self.size, self.dropped = [], 0, 0
        return text


class CellTimeout(BaseException):
    """Raised by the alarm; a BaseException so a bare ``except Exception`` in student code cannot swallow it."""


def _on_alarm(signum, frame):
    raise CellTimeout("time limit reached")


class Runtime:
    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.namespace: dict = {"__name__": "__main__", "__builtins__": builtins}
        self.handles: dict[int, object] = {}
        self.handle_of: dict[int, int] = {}
        self.output = CappedWriter()

    # --- encoding -----------------------------------------------------------------
    def encode(self, obj, depth: int = 0):
        if depth > wire.MAX_DEPTH:
            raise ValueError("the value is nested too deeply to send back")
        kind = type(obj)
        if obj is None or kind in (bool, int, float, str, bytes, complex, torch.dtype, torch.device):
            return obj
        if isinstance(obj, torch.Size):
            return torch.Size(obj)
        if isinstance(obj, torch.Tensor) and kind in (torch.Tensor, torch.nn.Parameter):
            tensor = obj.detach()
            if tensor.device.type != "meta" and (not tensor.is_contiguous() or tensor.untyped_storage().nbytes()
                                                 != tensor.numel() * tensor.element_size()):
                # a view would ship its whole base storage, an expanded tensor would be refused as a storage trick
                tensor = tensor.clone(memory_format=torch.contiguous_format)
            return tensor
        if kind in (list, tuple) or isinstance(obj, types.GeneratorType):
            return [self.encode(item, depth + 1) for item in obj] if kind is not tuple else tuple(
                self.encode(item, depth + 1) for item in obj)
        if kind in (dict, OrderedDict):
            return {key: self.encode(value, depth + 1) for key, value in obj.items()}
        if type(obj).__module__ == "numpy":
            return self.encode(torch.as_tensor(obj) if hasattr(obj, "shape") and obj.shape else obj.item(), depth)
        return self.new_handle(obj)

    def new_handle(self, obj) -> dict:
        key = self.handle_of.get(id(obj))
        if key is None or self.handles.get(key) is not obj:
            key = len(self.handles) + 1
            self.handles[key] = obj
            self.handle_of[id(obj)] = key
        return {wire.HANDLE_KEY: key, "type": type(obj).__name__, "mro": type_names(obj), "callable": callable(obj)}

    def decode(self, obj):
        if isinstance(obj, dict):
            if wire.HANDLE_KEY in obj:
                return self.handles[obj[wire.HANDLE_KEY]]
            return {key: self.decode(value) for key, value in obj.items()}
        if isinstance(obj, list):
            return [self.decode(item) for item in obj]
        if isinstance(obj, tuple):
            return tuple(self.decode(item) for item in obj)
        return obj

    def target(self, ref):
        if isinstance(ref, str):
            if ref not in self.namespace:
                raise NameError(f"name '{ref}' is not defined in your notebook")  # = checks.failures.NOT_DEFINED
            return self.namespace[ref]
        return self.decode(ref)

    # --- operations ---------------------------------------------------------------
    def run_cell(self, label: str, source: str) -> None:
        filename = f"<cell {label}>"
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        exec(compile(source, filename, "exec"), self.namespace)

    def get(self, request: dict):
        return self.target(request["name"])

    def get_attribute(self, request: dict):
        return getattr(self.target(request["target"]), request["attr"])

    def description(self, request: dict):
        return for_the_wire(describe(self.target(request["target"])))

    def length(self, request: dict):
        return len(self.target(request["target"]))

    def items(self, request: dict):
        return list(self.target(request["target"]))

    def get_item(self, request: dict):
        return self.target(request["target"])[self.decode(request["key"])]

    def cell(self, request: dict) -> None:
        self.run_cell(request["label"], request["source"])

    def call(self, request: dict):
        fn = self.target(request["target"])
        if request["op"] == Op.METHOD:
            fn = getattr(fn, request["name"])
        args, kwargs = self.decode(request.get("args", [])), self.decode(request.get("kwargs", {}))
        device = request.get("device")
        with torch.device(device) if device else nullcontext():
            if request.get("trace"):
                result, called = count_calls(lambda: fn(*args, **kwargs), set(request["trace"]))
                return {"result": result, "called": called}
            result = fn(*args, **kwargs)
            if request.get("return_args"):  # lets the trusted side see whether the call changed its inputs
                return {"result": result, "args": args}
            return result

    DISPATCH = {Op.RUN_CELL: cell, Op.GET: get, Op.GETATTR: get_attribute, Op.DESCRIBE: description, Op.LEN: length,
                Op.ITER: items, Op.GETITEM: get_item, Op.CALL: call, Op.METHOD: call}

    def handle(self, request: dict):
        try:
            op = Op(request.get("op"))
            answer = self.DISPATCH[op]
        except (ValueError, KeyError):
            raise ValueError(f"unknown request {request.get('op')!r}") from None
        return answer(self, request)

    def error_report(self, err: BaseException) -> dict:
        frames = [f for f in traceback.extract_tb(err.__traceback__) if f.filename.startswith("<cell")]
        lines = [f"  {f.filename[1:-1]}, line {f.lineno}, in {f.name}" + (f"\n    {f.line}" if f.line else "")
                 for f in frames]
        if isinstance(err, SyntaxError) and err.filename and err.filename.startswith("<cell"):
            lines.append(f"  {err.filename[1:-1]}, line {err.lineno}: {(err.text or '').strip()}")
        return {"type": type(err).__name__, "mro": type_names(err),
                "message": str(err)[:2000], "traceback": "\n".join(lines[-8:])}

    def serve(self) -> None:
        signal.signal(signal.SIGALRM, _on_alarm)
        sys.stdout = sys.stderr = self.output
        cpu = time.thread_time
        # While the trusted side profiles (its requests carry "meter"), each answer says how this process's CPU
        # time went: the request's own work, and the wire (decoding this request, encoding this answer, sending
        # the one before). Not measured otherwise: a profiling aid, never read for a grade.
        metering, sent_cpu = False, 0.0
        while True:
            began = cpu() if metering else None
            try:
                request = wire.recv_plain(self.sock)
            except wire.PeerGone:
                return
            if request.get("op") == Op.EXIT:
                return
            metering = bool(request.get("meter"))
            received = cpu() if metering else 0.0
            wire_cpu = sent_cpu + (received - began if metering and began is not None else 0.0)
            handled = 0.0
            reply: dict
            try:
                signal.setitimer(signal.ITIMER_REAL, float(request.get("timeout") or 0))
                try:
                    value = self.handle(request)
                finally:
                    signal.setitimer(signal.ITIMER_REAL, 0)
                    handled = cpu() if metering else 0.0
                # a description is plain data already (describe.for_the_wire): no handles to make, no walk
                reply = {"ok": True, "value": value if request.get("op") == Op.DESCRIBE else self.encode(value)}
            except CellTimeout:
                reply = {"ok": False, "timeout": request.get("timeout")}
            except BaseException as err:  # student code may raise anything, SystemExit included
                reply = {"ok": False, "error": self.error_report(err)}
            reply["output"] = self.output.take()
            if metering:
                encoded = cpu()
                handled = handled or encoded
                reply["cpu"] = [handled - received, wire_cpu + encoded - handled]
            try:
                wire.send(self.sock, reply)
            except (ValueError, TypeError, RuntimeError) as err:  # e.g. an unpicklable value
                wire.send(self.sock, {"ok": False, "output": "", "error": {
                    "type": type(err).__name__, "mro": type_names(err),
                    "message": f"the value could not be sent back: {err}", "traceback": ""}})
            sent_cpu = cpu() - encoded if metering else 0.0


def main(sock: socket.socket) -> None:
    """Entry point in the forked child; never returns to the zygote's loop."""
    try:
        Runtime(sock).serve()
    finally:
        os._exit(0)
