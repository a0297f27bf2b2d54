"""Messages between the trusted grader and the sandboxed child: data only, size-capped.

A frame is an 8-byte big-endian length followed by a ``torch.save`` payload.
The length prefix matters: grandchildren of the child keep inherited sockets
open, so a reader can never wait for EOF. The trusted side decodes with
``torch.load(weights_only=True)`` -- PyTorch's restricted unpickler, which
refuses any class that is not a tensor or plain container -- and then walks
the result again, so no tensor subclass, no custom object and nothing with its
own ``__eq__`` ever reaches a hidden test.

Before the unpickler sees a byte, the archive itself is checked with the
standard library's ``zipfile`` (stored entries only, sizes within the cap, a
small pickle): no decompression bomb, no pickle that expands into gigabytes
of references. After it, every tensor is rebuilt as a fresh plain tensor
(``torch.Tensor.detach`` called on the class, so no attribute the payload set
on the instance survives), and a tensor that views more elements than its
storage holds (a stride-0 "expand" of a few bytes into terabytes) is refused.
"""
from __future__ import annotations

import io
import select
import socket
import struct
import time
import zipfile
from collections import OrderedDict

import torch

HEADER = struct.Struct(">Q")
DEFAULT_MAX_BYTES = 256 * 1024 * 1024
HANDLE_KEY = "__handle__"
MAX_DEPTH = 32
MAX_ITEMS = 1_000_000
MAX_PICKLE_BYTES = 16 * 1024 * 1024  # the object structure; tensor data lives in separate entries
MAX_DIMS = 64


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


def check_archive(payload: bytes, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
    """Refuse anything but an uncompressed torch.save archive of sane size, before unpickling it."""
    try:
        with zipfile.ZipFile(io.BytesIO(payload)) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, RuntimeError) as err:
        raise WireError(f"the answer is not a torch.save archive ({type(err).__name__})") from None
    total = 0
    for entry in entries:
        if entry.compress_type != zipfile.ZIP_STORED or entry.flag_bits & 0x1:
            raise WireError("the answer holds a compressed or encrypted entry")
        total += entry.file_size
        if entry.filename.endswith(".pkl") and entry.file_size > MAX_PICKLE_BYTES:
            raise WireError(f"the answer's structure is over {MAX_PICKLE_BYTES:,} bytes")
    if total > max_bytes or not any(e.filename.endswith("data.pkl") for e in entries):
        raise WireError("the answer's archive is over the size limit or has no data.pkl")


def recv_trusted(sock: socket.socket, *, deadline: float | None = None, max_bytes: int = DEFAULT_MAX_BYTES):
    """Receive from the untrusted side: archive check, restricted unpickling, then a strict type walk."""
    payload = recv_raw(sock, deadline=deadline, max_bytes=max_bytes)
    check_archive(payload, max_bytes)
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
        return _plain_tensor(obj)
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


def _plain_tensor(obj: torch.Tensor) -> torch.Tensor:
    """A fresh plain tensor over the same data: no instance attributes, no autograd history, no lazy bits."""
    tensor = torch.Tensor.detach(obj)  # called on the class: an attribute set on the instance cannot stand in
    if type(tensor) is not torch.Tensor:
        raise WireError("the answer holds a tensor that does not detach to a plain tensor")
    if tensor.layout != torch.strided or tensor.is_sparse or tensor.is_quantized or tensor.is_nested:
        raise WireError("the answer holds a sparse, quantized, nested or otherwise non-strided tensor")
    if tensor.dim() > MAX_DIMS:
        raise WireError("the answer holds a tensor with too many dimensions")
    if tensor.device.type != "meta":
        held = tensor.untyped_storage().nbytes()
        if tensor.numel() * tensor.element_size() > held or any(s < 0 for s in tensor.stride()):
            raise WireError("the answer holds a tensor that views more elements than its storage holds")
    if tensor.is_conj() or tensor.is_neg():
        tensor = tensor.resolve_conj().resolve_neg()
    return tensor
