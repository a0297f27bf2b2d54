"""Messages between the trusted grader and the sandboxed child: data only, size-capped.

A frame is an 8-byte big-endian length, a kind byte and the payload: ``J``
for tensor-free data as JSON (tuples, dtypes, meta and empty tensors and the
like tagged), ``R`` for JSON plus dense CPU tensors' bytes, ``T`` for a
``torch.save`` archive (anything else).
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
import json
import select
import socket
import struct
import time
import zipfile
from collections import OrderedDict
from enum import Enum
from typing import Any, Callable

import torch

HEADER = struct.Struct(">Q")
DEFAULT_MAX_BYTES = 256 * 1024 * 1024
HANDLE_KEY = "__handle__"
MAX_DEPTH = 32
MAX_ITEMS = 1_000_000
MAX_PICKLE_BYTES = 16 * 1024 * 1024  # the object structure; tensor data lives in separate entries
MAX_DIMS = 64
_JSON_SCALARS = frozenset({str, int, float, bool, type(None)})  # what JSON carries as it is
TOO_MANY_ITEMS = "the answer is nested too deeply or holds too many items"


class Op(str, Enum):
    """The requests the trusted side sends a child (``grader.sandbox.runtime`` answers each one)."""

    RUN_CELL = "run_cell"  # label, source: run one notebook cell
    GET = "get"  # name: a name the notebook defined
    GETATTR = "getattr"  # target, attr
    DESCRIBE = "describe"  # target: grader.sandbox.describe.describe of it
    LEN = "len"  # target
    ITER = "iter"  # target: its items, as a list
    GETITEM = "getitem"  # target, key
    CALL = "call"  # target, args, kwargs (device, trace, return_args: optional)
    METHOD = "method"  # target, name, args, kwargs
    EXIT = "exit"  # end the child


def request(op: Op, **fields) -> dict:
    """One request as it travels (the operation by its plain name)."""
    return {"op": op.value, **fields}


class WireError(Exception):
    """The other side sent something that is not an acceptable message."""


class PeerGone(WireError):
    """The other side closed the connection (it exited or was killed)."""


class PeerTimeout(WireError):
    """No complete message arrived before the deadline."""


JSON_FRAME, TORCH_FRAME, RAW_FRAME = b"J", b"T", b"R"


class _NeedsTorch(Exception):
    pass


def _tag(obj, tensors: list | None = None):
    """Plain data as JSON, with the few non-JSON types tagged. A tensor needs torch.save, unless ``tensors``
    is given and the tensor is one that ``_raw_tensor`` takes: then it is appended there and tagged by index
    (and an OrderedDict keeps its type and a state_dict's ``_metadata``, as through torch.save)."""
    kind = type(obj)
    if obj is None or kind in (bool, int, str):
        return obj
    if kind is float:
        return obj
    if kind is list:
        return [_tag(item, tensors) for item in obj]
    if kind is tuple:
        return {"~t": [_tag(item, tensors) for item in obj]}
    if kind is OrderedDict and tensors is not None:
        extra = vars(obj)
        if set(extra) - {"_metadata"}:
            raise _NeedsTorch
        tensors.ordered_dicts = True
        metadata = extra.get("_metadata")
        return {"~od": [[[_tag(key, tensors), _tag(value, tensors)] for key, value in obj.items()],
                        None if metadata is None else _tag(metadata, tensors)]}
    if kind in (dict, OrderedDict):
        if all(type(key) is str and not key.startswith("~") for key in obj):
            return {key: _tag(value, tensors) for key, value in obj.items()}
        return {"~d": [[_tag(key, tensors), _tag(value, tensors)] for key, value in obj.items()]}
    if kind is torch.Size:
        return {"~s": [int(n) for n in obj]}
    if kind is torch.dtype:
        return {"~dt": str(obj).removeprefix("torch.")}
    if kind is torch.device:
        return {"~dev": str(obj)}
    if kind is complex:
        return {"~c": [obj.real, obj.imag]}
    if kind is bytes:
        return {"~b": obj.hex()}
    if kind is torch.Tensor and _dataless(obj):
        return {"~M": [obj.device.type, str(obj.dtype).removeprefix("torch."), list(obj.shape), list(obj.stride()),
                       bool(obj.requires_grad)]}
    if tensors is not None and kind is torch.Tensor and _raw_tensor(obj, tensors):
        tensors.add(obj)
        return {"~T": len(tensors) - 1}
    raise _NeedsTorch


# Raw tensor frames: dtypes sent as bytes (anything else goes through torch.save), by name as the tag "~dt".
RAW_DTYPES = {str(d).removeprefix("torch."): d for d in (
    torch.float16, torch.bfloat16, torch.float32, torch.float64, torch.complex64, torch.complex128, torch.uint8,
    torch.int8, torch.int16, torch.int32, torch.int64, torch.bool)}
RAW_ALIGN = 64


def _plain_dense(tensor: torch.Tensor) -> bool:
    return (tensor.layout == torch.strided and not tensor.is_quantized and not tensor.is_conj()
            and not tensor.is_neg() and str(tensor.dtype).removeprefix("torch.") in RAW_DTYPES)


def _dataless(tensor: torch.Tensor) -> bool:
    """A tensor with no data to send: on the meta device (the shape checks' inputs and outputs), or an empty CPU
    tensor with an empty storage. Its dtype, shape, strides and requires_grad travel as JSON ("~M") and come out
    as torch.load gives them (a meta tensor's storage offset is not kept by torch.save either)."""
    if not _plain_dense(tensor):
        return False
    if tensor.device.type == "meta":
        return True
    return (tensor.device.type == "cpu" and tensor.numel() == 0 and not tensor.storage_offset()
            and not tensor.untyped_storage().nbytes())


def _raw_tensor(tensor: torch.Tensor, seen: "_RawTensors") -> bool:
    """Can this tensor travel as its bytes and come out the same as through torch.save: a dense CPU tensor of a
    common dtype that shares its storage with no other tensor of the message (torch.save would keep that
    sharing). A view travels with its whole storage, its strides and its offset, as through torch.save: the
    seeded test weights are such views (a 218 MB Hankel matrix over a 53 kB storage)."""
    if not _plain_dense(tensor) or tensor.device.type != "cpu":
        return False
    storage = tensor.untyped_storage()
    if not storage.nbytes() or storage.nbytes() % tensor.element_size():
        return False
    return storage.data_ptr() not in seen.storages


def _owns_its_storage(tensor: torch.Tensor) -> bool:
    """Laid out contiguously over exactly its storage: sent as a plain 5-field entry, else with strides."""
    return (tensor.is_contiguous() and not tensor.storage_offset()
            and tensor.untyped_storage().nbytes() == tensor.numel() * tensor.element_size())


def _dataless_tensor(spec) -> torch.Tensor:
    """The tensor a "~M" tag names, its fields checked (an empty CPU tensor, or any shape on meta)."""
    if type(spec) is not list or len(spec) != 5:
        raise WireError("a data-less tensor entry is malformed")
    device, name, shape, stride, grad = spec
    dtype = RAW_DTYPES.get(name) if type(name) is str else None
    if (device not in ("meta", "cpu") or dtype is None or type(grad) is not bool
            or not _dims(shape, 1 << 62) or not _dims(stride, 1 << 62) or len(stride) != len(shape)):
        raise WireError("a data-less tensor entry is malformed")
    if device == "cpu" and 0 not in shape:
        raise WireError("a data-less CPU tensor entry has elements")
    tensor = torch.empty_strided(shape, stride, dtype=dtype, device=device)
    if grad:
        tensor.requires_grad_(True)
    return tensor


def _dims(values, limit: int) -> bool:
    return (type(values) is list and len(values) <= MAX_DIMS
            and all(type(n) is int and 0 <= n <= limit for n in values))


def _raw_frame(tree, tensors: list[torch.Tensor]) -> bytearray:
    """RAW_FRAME: a 4-byte header length, the header (JSON: the tagged tree and each tensor's dtype, shape,
    offset, byte count and requires_grad, and for a view its strides and storage offset too), padding to
    RAW_ALIGN, then each tensor's storage bytes at its offset."""
    specs, offset = [], 0
    for tensor in tensors:
        size = tensor.untyped_storage().nbytes()
        spec = [str(tensor.dtype).removeprefix("torch."), list(tensor.shape), offset, size,
                bool(tensor.requires_grad)]
        if not _owns_its_storage(tensor):  # a view: its storage's bytes, then where the view lies in them
            spec += [list(tensor.stride()), tensor.storage_offset()]
        specs.append(spec)
        offset += -(-size // RAW_ALIGN) * RAW_ALIGN
    header = json.dumps({"tree": tree, "tensors": specs}, separators=(",", ":")).encode()
    start = -(-(1 + 4 + len(header)) // RAW_ALIGN) * RAW_ALIGN
    out = bytearray(start + offset)
    out[0:1] = RAW_FRAME
    out[1:5] = len(header).to_bytes(4, "big")
    out[5:5 + len(header)] = header
    if offset:
        flat = torch.frombuffer(out, dtype=torch.uint8)
        for tensor, (_, _, at, size, *_) in zip(tensors, specs):
            storage = torch.tensor([], dtype=torch.uint8).set_(tensor.untyped_storage())
            flat[start + at:start + at + size].copy_(storage)
    return out  # not bytes(out): a copy of every tensor's bytes more, on each message


def _raw_tensors(payload: bytes | memoryview, max_bytes: int,
                 restore_grad: bool) -> tuple[object, list[torch.Tensor]]:
    """The tree and the tensors of a RAW_FRAME's payload (the frame less its kind byte), every field checked:
    known dtypes, sane shapes, each tensor's bytes inside the frame, aligned, in order and not overlapping.
    Each tensor gets its own storage, copied out of the payload: none of them shares memory with the frame."""
    if len(payload) < 4:
        raise WireError("the answer's raw frame is truncated")
    length = int.from_bytes(payload[:4], "big")
    if length > min(len(payload) - 4, MAX_PICKLE_BYTES):
        raise WireError("the answer's raw frame has a header over its size")
    header = json.loads(str(payload[4:4 + length], "utf-8"))
    if type(header) is not dict or type(header.get("tensors")) is not list or "tree" not in header:
        raise WireError("the answer's raw frame has no tree or tensor list")
    start = -(-(1 + 4 + length) // RAW_ALIGN) * RAW_ALIGN - 1
    if start > len(payload):
        buffer = memoryview(bytearray())
    elif isinstance(payload, memoryview) and not payload.readonly:
        buffer = payload[start:]  # a received frame (recv_raw's bytearray): read where it lies
    else:
        buffer = memoryview(bytearray(memoryview(payload)[start:]))  # writable, so torch.frombuffer does not warn
    tensors, end = [], 0
    for spec in header["tensors"][:MAX_ITEMS]:
        if type(spec) is not list or len(spec) not in (5, 7):
            raise WireError("the answer's raw frame has a malformed tensor entry")
        name, shape, at, size, grad = spec[:5]
        dtype = RAW_DTYPES.get(name) if type(name) is str else None
        if (dtype is None or not _dims(shape, max_bytes)
                or type(at) is not int or type(size) is not int or at < end or at % RAW_ALIGN
                or at + size > len(buffer) or type(grad) is not bool):
            raise WireError("the answer's raw frame has a tensor entry out of bounds or of an unknown dtype")
        numel = 1
        for n in shape:
            numel *= n
        itemsize = torch.empty((), dtype=dtype).element_size()
        if len(spec) == 5:
            if numel * itemsize != size or size == 0:
                raise WireError("the answer's raw frame has a tensor whose size does not match its shape")
            tensor = torch.empty(shape, dtype=dtype)  # its own resizable storage, as torch.load would give
            tensor.reshape(-1).copy_(torch.frombuffer(buffer, dtype=dtype, count=numel, offset=at))
        else:
            tensor = _strided_view(buffer, dtype, itemsize, shape, at, size, spec[5], spec[6], max_bytes)
        if grad and restore_grad:  # the child gets what torch.save would give it; the grader detaches anyway
            tensor.requires_grad_(True)
        tensors.append(tensor)
        end = at + size
    return header["tree"], tensors


def _strided_view(buffer: memoryview, dtype: torch.dtype, itemsize: int, shape: list, at: int, size: int,
                  stride, offset, max_bytes: int) -> torch.Tensor:
    """A raw frame's view entry: a fresh storage of ``size`` bytes and the view over it, as torch.load rebuilds
    one. Checked here, not by torch: ``set_`` would grow a storage too small for the view instead of failing."""
    if (not _dims(stride, max_bytes) or len(stride) != len(shape) or type(offset) is not int or offset < 0
            or size <= 0 or size % itemsize):
        raise WireError("the answer's raw frame has a malformed view entry")
    elements = size // itemsize
    if 0 not in shape and offset + sum((n - 1) * s for n, s in zip(shape, stride)) >= elements:
        raise WireError("the answer's raw frame has a view that reaches past its storage")
    storage = torch.empty(elements, dtype=dtype)
    storage.copy_(torch.frombuffer(buffer, dtype=dtype, count=elements, offset=at))
    return torch.empty(0, dtype=dtype).set_(storage.untyped_storage(), offset, shape, stride)


def _untag(obj, tensors: list | None = None):
    if isinstance(obj, list):
        return [_untag(item, tensors) for item in obj]
    if not isinstance(obj, dict):
        return obj
    if len(obj) == 1:
        ((key, value),) = obj.items()
        if key == "~t" and isinstance(value, list):
            return tuple(_untag(item, tensors) for item in value)
        if key == "~d" and isinstance(value, list):
            return {_untag(pair[0], tensors): _untag(pair[1], tensors)
                    for pair in value if isinstance(pair, list) and len(pair) == 2}
        if key == "~s" and isinstance(value, list) and all(type(n) is int for n in value):
            return torch.Size(value)
        if key == "~dt" and isinstance(value, str):
            dtype = getattr(torch, value, None)
            if not isinstance(dtype, torch.dtype):
                raise WireError(f"unknown dtype {value[:40]!r}")
            return dtype
        if key == "~dev" and isinstance(value, str):
            return torch.device(value[:40])
        if key == "~c" and isinstance(value, list) and len(value) == 2:
            return complex(float(value[0]), float(value[1]))
        if key == "~b" and isinstance(value, str):
            return bytes.fromhex(value)
        if key == "~M":
            return _dataless_tensor(value)
        if tensors is not None:  # only inside a raw frame
            if key == "~T" and type(value) is int:
                return _take_tensor(tensors, value)
            if key == "~od" and isinstance(value, list) and len(value) == 2 and isinstance(value[0], list):
                out = OrderedDict((_untag(pair[0], tensors), _untag(pair[1], tensors))
                                  for pair in value[0] if isinstance(pair, list) and len(pair) == 2)
                if value[1] is not None:
                    out._metadata = _untag(value[1], tensors)
                return out
    return {key: _untag(value, tensors) for key, value in obj.items()}


def _take_tensor(tensors: list, index: int) -> torch.Tensor:
    """Tensor ``index`` of a raw frame, once: no two places of a message may share one tensor's memory."""
    if not 0 <= index < len(tensors) or tensors[index] is None:
        raise WireError("the answer's raw frame names a tensor it does not hold, or one twice")
    tensor, tensors[index] = tensors[index], None
    return tensor


class _RawTensors(list):
    """The tensors a raw frame carries, the addresses of their storages (a state_dict of a few hundred tensors was
    checked against every earlier one: quadratic), and whether the walk tagged an OrderedDict as one (``~od``)."""

    ordered_dicts = False

    def __init__(self) -> None:
        super().__init__()
        self.storages: set[int] = set()

    def add(self, tensor: torch.Tensor) -> None:
        self.append(tensor)
        self.storages.add(tensor.untyped_storage().data_ptr())


def dumps(obj) -> bytes | bytearray:
    """Tensor-free messages (most of them: handles, numbers, descriptions) go as JSON, ten times cheaper
    than a torch.save archive; dense CPU tensors in plain containers as a raw frame (JSON plus their bytes,
    no zip archive, no pickle: several times cheaper again); anything else through torch.save."""
    tensors = _RawTensors()
    try:
        tree = _tag(obj, tensors)
        if not tensors:  # a JSON frame: an OrderedDict stays plain JSON there, as it always was (tagged again
            if tensors.ordered_dicts:  # without raw mode only where the raw walk tagged one as "~od")
                tree = _tag(obj)
            return JSON_FRAME + json.dumps(tree, separators=(",", ":")).encode()
        return _raw_frame(tree, tensors)
    except (_NeedsTorch, RecursionError):
        buffer = io.BytesIO()
        torch.save(obj, buffer)
        return TORCH_FRAME + buffer.getvalue()


def _loads_json(payload: bytes | memoryview):
    try:
        return _untag(json.loads(str(payload, "utf-8")))
    except (ValueError, UnicodeDecodeError, RecursionError, TypeError, RuntimeError) as err:
        raise WireError(f"the answer is not valid data ({type(err).__name__})") from None


COPY_BELOW = 1 << 16  # a payload this small is copied behind its length header and sent in one call


def send(sock: socket.socket, obj) -> int:
    """Send one message; returns its size on the wire. A large payload (tensors) is sent after its header as
    it is, not copied into one string with it first."""
    payload = dumps(obj)
    header = HEADER.pack(len(payload))
    if len(payload) < COPY_BELOW:
        sock.sendall(header + payload)
    else:
        sock.sendall(header)
        sock.sendall(payload)
    return len(header) + len(payload)


class Meter:
    """The trusted side's round trips with its children, counted while profiling (``grader.profiling``).

    ``Child.request`` adds to the one in ``meter`` when it is set; unset (the default) it costs one
    global lookup per request. Encoding, sending and decoding are the wire's seconds; ``wait_s`` runs
    from the request sent to the answer's last byte received: the sandbox's side (its own decoding of
    the request and encoding of the answer included). ``wire_cpu_s`` is this thread's CPU time in the
    wire's seconds: on busy cores the wall-clock seconds also hold the time other processes ran (the
    child that was just woken, the other workers), which the CPU time leaves out.

    The ``child_*`` seconds are the child's own CPU time as its answers report it (``runtime.serve``): the
    requests' work (``code``: the student's code; ``describe``: the grader's description of a module) and
    its side of the wire. They come from untrusted code and are only ever printed by the profile.
    """

    __slots__ = ("requests", "bytes_sent", "bytes_received", "wire_s", "wait_s", "wire_cpu_s",
                 "child_code_cpu_s", "child_describe_cpu_s", "child_wire_cpu_s")

    def __init__(self) -> None:
        self.requests = self.bytes_sent = self.bytes_received = 0
        self.wire_s = self.wait_s = self.wire_cpu_s = 0.0
        self.child_code_cpu_s = self.child_describe_cpu_s = self.child_wire_cpu_s = 0.0

    def snapshot(self) -> tuple[int, int, int, float, float, float, float, float, float]:
        return (self.requests, self.bytes_sent, self.bytes_received, self.wire_s, self.wait_s, self.wire_cpu_s,
                self.child_code_cpu_s, self.child_describe_cpu_s, self.child_wire_cpu_s)

    def add_child_cpu(self, op: object, reported: object) -> None:
        """Add an answer's ``cpu`` field, [request's work, wire] in seconds, if it is one (else nothing)."""
        if not (isinstance(reported, list) and len(reported) == 2
                and all(type(x) is float and 0.0 <= x <= MAX_REPORTED_CPU_S for x in reported)):
            return
        work, wire_cpu = reported
        if op == Op.DESCRIBE:
            self.child_describe_cpu_s += work
        else:
            self.child_code_cpu_s += work
        self.child_wire_cpu_s += wire_cpu


MAX_REPORTED_CPU_S = 3600.0  # a child's report beyond an hour is a lie (or a clock gone wrong): not counted


meter: Meter | None = None


def _recv_exactly(sock: socket.socket, count: int, deadline: float | None) -> bytearray:
    """``count`` bytes, received straight into one buffer (not joined from chunks: a copy less of a large frame)."""
    buffer = bytearray(count)
    view, got = memoryview(buffer), 0
    while got < count:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([sock], [], [], left)[0]:
                raise PeerTimeout("no answer before the time limit")
        received = sock.recv_into(view[got:], min(count - got, 1 << 20))
        if not received:
            raise PeerGone("the connection was closed")
        got += received
    return buffer


def recv_raw(sock: socket.socket, *, deadline: float | None = None,
             max_bytes: int = DEFAULT_MAX_BYTES) -> bytearray:
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


def recv_trusted(sock: socket.socket, *, deadline: float | None = None, max_bytes: int = DEFAULT_MAX_BYTES,
                 handle: Callable[[dict], Any] | None = None):
    """Receive from the untrusted side: archive check, restricted unpickling, then a strict type walk."""
    return decode_trusted(recv_raw(sock, deadline=deadline, max_bytes=max_bytes), max_bytes, handle=handle)


def decode_trusted(frame: bytes | bytearray, max_bytes: int = DEFAULT_MAX_BYTES, *,
                   handle: Callable[[dict], Any] | None = None):
    """One frame from the untrusted side, decoded (``recv_trusted`` without the socket, so it can be timed).

    ``handle``, if given, replaces each ``{HANDLE_KEY: n, ...}`` dict inside the answer's ``value`` (after
    that dict passed the checks) with what it returns: the caller's proxy, built in the same walk.
    """
    kind, payload = bytes(frame[:1]), memoryview(frame)[1:]  # a view: no copy of a large frame
    if kind in (JSON_FRAME, RAW_FRAME):
        try:
            if kind == JSON_FRAME:
                tree, walk = _json_tree(payload), _untag_checked
            else:
                tree, tensors = _raw_tensors(payload, max_bytes, restore_grad=False)
                walk = lambda obj, depth=0, budget=None, inner=None: _untag_checked(  # noqa: E731
                    obj, depth, budget, inner, tensors)
            return _answer(tree, walk, _Guarded(handle) if handle else None)
        except _HandleFailed as failed:
            raise failed.error from None  # the caller's own error, as if it had wrapped the value itself
        except (ValueError, UnicodeDecodeError, RecursionError, TypeError, RuntimeError) as err:
            raise WireError(f"the answer is not valid data ({type(err).__name__})") from None
    if kind != TORCH_FRAME:
        raise WireError("the answer is not a message of the grader's protocol")
    check_archive(payload, max_bytes)
    try:
        obj = torch.load(io.BytesIO(payload), weights_only=True)
    except Exception as err:  # the restricted loader raises several types
        raise WireError(f"the answer was not plain data ({type(err).__name__})") from None
    return _answer(obj, validate, handle)


class _HandleFailed(Exception):
    def __init__(self, error: Exception):
        self.error = error


class _Guarded:
    """``handle``, with its own errors kept apart from the decoding's (which mean "not valid data")."""

    __slots__ = ("handle",)

    def __init__(self, handle: Callable[[dict], Any]):
        self.handle = handle

    def __call__(self, value: dict):
        try:
            return self.handle(value)
        except Exception as err:
            raise _HandleFailed(err) from None


def _answer(obj, walk, handle):
    """``walk(obj)``, with ``handle`` applied only inside an answer's ``value``: the rest of the envelope (its
    error, its output) stays data."""
    if handle is None or type(obj) not in (dict, OrderedDict) or "value" not in obj:
        return walk(obj)
    budget = [MAX_ITEMS - 1]
    out = {}
    for key, value in obj.items():
        if type(key) not in (str, int):
            raise WireError("the answer holds a dict with a key that is not a string or integer")
        out[key] = walk(value, 1, budget, handle if key == "value" else None)
    return out


def _json_tree(payload: bytes | memoryview):
    try:
        return json.loads(str(payload, "utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError, TypeError, RuntimeError) as err:
        raise WireError(f"the answer is not valid data ({type(err).__name__})") from None


def _spend_item(budget: list[int] | None, depth: int) -> list[int]:
    """One more item of an answer: the budget shared by ``validate`` and ``_untag_checked`` (a fresh one for a
    new answer), refused past ``MAX_ITEMS`` items or ``MAX_DEPTH`` levels."""
    budget = budget if budget is not None else [MAX_ITEMS]
    budget[0] -= 1
    if budget[0] < 0 or depth > MAX_DEPTH:
        raise WireError(TOO_MANY_ITEMS)
    return budget


def _untag_checked(obj, depth: int = 0, budget: list[int] | None = None, handle=None, tensors: list | None = None):
    """``validate(_untag(obj))`` in one walk over a decoded JSON tree (whose only types are JSON's and the
    tagged ones), with ``handle`` applied to handle dicts: three walks of a large answer cost three times one."""
    budget = _spend_item(budget, depth)
    kind = type(obj)
    if kind is list:
        return _checked_items(obj, depth + 1, budget, handle, tensors)
    if kind is not dict:
        return obj  # str, int, float, bool, None: JSON's scalars
    if len(obj) == 1:
        ((key, value),) = obj.items()
        if key == "~t" and type(value) is list:
            return tuple(_untag_checked(item, depth + 1, budget, handle, tensors) for item in value)
        pairs = value if key == "~d" and type(value) is list else None
        if tensors is not None and key == "~T" and type(value) is int:
            return _plain_tensor(_take_tensor(tensors, value))  # validate's check of a tensor
        if key == "~M":
            return _plain_tensor(_dataless_tensor(value))
        if tensors is not None and key == "~od" and type(value) is list and len(value) == 2 and type(value[0]) is list:
            pairs = value[0]  # an OrderedDict becomes a plain dict here, as validate makes it
        if pairs is not None:
            out = {}
            for pair in pairs:
                if type(pair) is list and len(pair) == 2:
                    name = _untag(pair[0], tensors)
                    hash(name)  # an unhashable key: TypeError, "not valid data" as in _untag
                    if type(name) not in (str, int):
                        raise WireError("the answer holds a dict with a key that is not a string or integer")
                    out[name] = _untag_checked(pair[1], depth + 1, budget, handle, tensors)
            return out
        if key in ("~s", "~dt", "~dev", "~c", "~b"):
            budget[0] += 1  # counted again by validate
            return validate(_untag(obj), depth, budget)  # a leaf of the tagged kinds: untag, then check
    inner = None if HANDLE_KEY in obj else handle  # a handle's own fields stay data
    out = dict(zip(obj, _checked_items(obj.values(), depth + 1, budget, inner, tensors)))
    return handle(out) if handle is not None and HANDLE_KEY in out else out


def _checked_items(items, depth: int, budget: list[int], handle, tensors: list | None) -> list:
    """``_untag_checked`` of each item at ``depth``, in order. Scalars and lists of scalars (a shape, a row of a
    description) are counted and kept here, without a call each: a description of a DenseNet-121 holds some
    10,000 of them, and a call per item made its check about eight times as slow as parsing its JSON."""
    out = []
    for item in items:
        kind = type(item)
        if kind in _JSON_SCALARS:
            budget[0] -= 1
            if budget[0] < 0 or depth > MAX_DEPTH:
                raise WireError(TOO_MANY_ITEMS)
            out.append(item)
        elif kind is list and set(map(type, item)) <= _JSON_SCALARS:
            budget[0] -= 1 + len(item)
            if budget[0] < 0 or depth + bool(item) > MAX_DEPTH:
                raise WireError(TOO_MANY_ITEMS)
            out.append(item)
        else:
            out.append(_untag_checked(item, depth, budget, handle, tensors))
    return out


def recv_plain(sock: socket.socket, *, deadline: float | None = None, max_bytes: int = DEFAULT_MAX_BYTES):
    """Receive from the trusted side (used by the child; trusts the grader)."""
    frame = recv_raw(sock, deadline=deadline, max_bytes=max_bytes)
    kind, payload = bytes(frame[:1]), memoryview(frame)[1:]
    if kind == JSON_FRAME:
        return _loads_json(payload)
    if kind == RAW_FRAME:
        tree, tensors = _raw_tensors(payload, max_bytes, restore_grad=True)
        return _untag(tree, tensors)
    return torch.load(io.BytesIO(payload), weights_only=True)


_SCALARS = _JSON_SCALARS | {bytes}


def validate(obj, depth: int = 0, budget: list[int] | None = None, handle: Callable[[dict], Any] | None = None):
    """Return ``obj`` rebuilt from exact built-in types; raise WireError on anything else (``handle``: see
    ``decode_trusted``)."""
    budget = _spend_item(budget, depth)
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
        return kind(validate(item, depth + 1, budget, handle) for item in obj)
    if kind in (dict, OrderedDict):
        out = {}
        inner = None if HANDLE_KEY in obj else handle  # a handle's own fields stay data
        for key, value in obj.items():
            if type(key) not in (str, int):
                raise WireError("the answer holds a dict with a key that is not a string or integer")
            out[key] = validate(value, depth + 1, budget, inner)
        return handle(out) if handle is not None and HANDLE_KEY in out else out
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
