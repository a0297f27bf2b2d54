"""Messages between the trusted grader and the sandboxed child: data only, size-capped.

A frame is an 8-byte big-endian length followed by a ``torch.save`` payload.
The length prefix matters: grandchildren of the child keep inherited sockets
open, so a reader can never wait for EOF. The trusted side decodes with
``torch.load(weights_only=True)`` -- PyTorch's restricted unpickler, which
refuses any class that is not a tensor or plain container -- and then walks
the result again, so no tensor subclass, no custom object and nothing with its
own ``__eq__`` ever reaches a hidden test.
"""
from __future__ import annotations

import io
import select
import socket
import struct
import time
from collections import OrderedDict

import torch

HEADER = struct.Struct(">Q")
DEFAULT_MAX_BYTES = 256 * 1024 * 1024
HANDLE_KEY = "__handle__"
MAX_DEPTH = 32
MAX_ITEMS = 1_000_000


class WireError(Exception):
    """The other side sent something that is not an acceptable message."""


class PeerGone(WireError):
    """The other side closed the connection (it exited or was killed)."""


class PeerTimeout(WireError):
    """No complete message arrived before the deadline."""


def dumps(obj) -> bytes:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


def send(sock: socket.socket, obj) -> None:
    payload = dumps(obj)
    sock.sendall(HEADER.pack(len(payload)) + payload)


def _recv_exactly(sock: socket.socket, count: int, deadline: float | None) -> bytes:
    chunks, remaining = [], count
    while remaining:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([sock], [], [], left)[0]:
                raise PeerTimeout("no answer before the time limit")
        chunk = sock.recv(min(remaining, 1 << 20))
        if not chunk:
            raise PeerGone("the connection was closed")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def recv_raw(sock: socket.socket, *, deadline: float | None = None, max_bytes: int = DEFAULT_MAX_BYTES) -> bytes:
    (length,) = HEADER.unpack(_recv_exactly(sock, HEADER.size, deadline))
    if length > max_bytes:
        raise WireError(f"a message of {length:,} bytes is over the {max_bytes:,}-byte limit")
    return _recv_exactly(sock, length, deadline)


def recv_trusted(sock: socket.socket, *, deadline: float | None = None, max_bytes: int = DEFAULT_MAX_BYTES):
    """Receive from the untrusted side: restricted unpickling, then a strict type walk."""
    payload = recv_raw(sock, deadline=deadline, max_bytes=max_bytes)
    try:
        obj = torch.load(io.BytesIO(payload), weights_only=True)
    except Exception as err:  # the restricted loader raises several types
        raise WireError(f"the answer was not plain data ({type(err).__name__})") from None
    return validate(obj)


def recv_plain(sock: socket.socket, *, deadline: float | None = None, max_bytes: int = DEFAULT_MAX_BYTES):
    """Receive from the trusted side (used by the child; trusts the grader)."""
    payload = recv_raw(sock, deadline=deadline, max_bytes=max_bytes)
    return torch.load(io.BytesIO(payload), weights_only=True)


_SCALARS = (bool, int, float, str, bytes, type(None))


def validate(obj, depth: int = 0, budget: list[int] | None = None):
    """Return ``obj`` rebuilt from exact built-in types; raise WireError on anything else."""
    budget = budget if budget is not None else [MAX_ITEMS]
    budget[0] -= 1
    if budget[0] < 0 or depth > MAX_DEPTH:
        raise WireError("the answer is nested too deeply or holds too many items")
    kind = type(obj)
    if kind in _SCALARS:
        return obj
    if kind is complex:
        return obj
    if isinstance(obj, torch.Tensor):
        if kind not in (torch.Tensor, torch.nn.Parameter):
            raise WireError(f"the answer holds a tensor subclass ({kind.__name__}), not a plain tensor")
        if obj.is_sparse or obj.layout != torch.strided:
            raise WireError("the answer holds a sparse or non-strided tensor")
        return obj.detach() if kind is torch.nn.Parameter else obj
    if kind in (torch.dtype, torch.Size, torch.device):
        return obj
    if kind in (list, tuple):
        return kind(validate(item, depth + 1, budget) for item in obj)
    if kind in (dict, OrderedDict):
        out = {}
        for key, value in obj.items():
            if type(key) not in (str, int):
                raise WireError("the answer holds a dict with a key that is not a string or integer")
            out[key] = validate(value, depth + 1, budget)
        return out
    raise WireError(f"the answer holds a {kind.__name__}, which is not plain data")
