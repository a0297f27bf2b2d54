"""The cheaper tensor transport (grader/wire.py raw frames) gives both sides exactly what torch.save gave, and the
grader's side refuses a malformed raw frame as it refuses any answer that is not plain data."""
from __future__ import annotations

import io
import json
from collections import OrderedDict

import pytest
import torch

from grader import wire
from grader.wire import RAW_FRAME, TORCH_FRAME, WireError


def _through_torch_save(obj, trusted: bool):
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    frame = TORCH_FRAME + buffer.getvalue()
    return wire.decode_trusted(frame) if trusted else torch.load(io.BytesIO(frame[1:]), weights_only=True)


def _through_dumps(obj, trusted: bool):
    frame = wire.dumps(obj)
    if trusted:
        return wire.decode_trusted(frame)
    if frame[:1] == RAW_FRAME:
        tree, tensors = wire._raw_tensors(frame[1:], wire.DEFAULT_MAX_BYTES, restore_grad=True)
        return wire._untag(tree, tensors)
    return wire._loads_json(frame[1:]) if frame[:1] == wire.JSON_FRAME else torch.load(io.BytesIO(frame[1:]))


def _same(a, b) -> bool:
    if isinstance(a, torch.Tensor):
        return (type(a) is type(b) and a.dtype == b.dtype and a.shape == b.shape and a.stride() == b.stride()
                and a.requires_grad == b.requires_grad and a.storage_offset() == b.storage_offset()
                and a.untyped_storage().nbytes() == b.untyped_storage().nbytes()
                and torch.equal(a.detach().resolve_conj(), b.detach().resolve_conj()))
    if isinstance(a, dict):
        return (type(a) is type(b) and list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
                and getattr(a, "_metadata", None) == getattr(b, "_metadata", None))
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(_same(p, q) for p, q in zip(a, b))
    return type(a) is type(b) and a == b


X = torch.randn(2, 3, 5, 5)
RAW = [X, (X, 3, "a", torch.Size([1, 2]), torch.float64), {"op": "call", "args": [X], "kwargs": {}},
       torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4)).state_dict(),
       torch.tensor(3.5), torch.ones(3, dtype=torch.bfloat16), torch.ones(2, dtype=torch.complex64),
       torch.randn(3, requires_grad=True), torch.tensor([True, False]), {"~T": X}]
FALLBACK = [[torch.arange(6).view(2, 3).t()], (X, X), X[1], torch.zeros(0), torch.nn.Parameter(torch.randn(2)),
            (torch.randn(2) * 1j).conj()]


@pytest.mark.parametrize("obj", RAW + FALLBACK, ids=lambda o: type(o).__name__)
@pytest.mark.parametrize("trusted", [False, True], ids=["child", "grader"])
def test_raw_frames_give_what_torch_save_gave(obj, trusted):
    frame = wire.dumps(obj)
    assert frame[:1] == (RAW_FRAME if any(obj is r for r in RAW) else TORCH_FRAME)
    assert _same(_through_torch_save(obj, trusted), _through_dumps(obj, trusted))


def _raw(tree, specs, data: bytes = b"\0" * 256) -> bytes:
    header = json.dumps({"tree": tree, "tensors": specs}).encode()
    start = -(-(5 + len(header)) // wire.RAW_ALIGN) * wire.RAW_ALIGN
    return RAW_FRAME + len(header).to_bytes(4, "big") + header + b"\0" * (start - 5 - len(header)) + data


@pytest.mark.parametrize("frame", [
    RAW_FRAME + b"\0\0",  # truncated
    _raw({"~T": 0}, [["float32", [4], 0, 16, False], ["float32", [4], 0, 16, False]]),  # overlapping
    _raw({"~T": 0}, [["float32", [4], 8, 16, False]]),  # not aligned
    _raw({"~T": 0}, [["object", [4], 0, 16, False]]),  # unknown dtype
    _raw({"~T": 0}, [["float32", [5], 0, 16, False]]),  # size does not match the shape
    _raw({"~T": 0}, [["float32", [1 << 20], 0, 1 << 22, False]]),  # past the frame's end
    _raw([{"~T": 0}, {"~T": 0}], [["float32", [4], 0, 16, False]]),  # one tensor twice
    _raw({"~T": 3}, [["float32", [4], 0, 16, False]]),  # a tensor it does not hold
    _raw({"~T": 0}, [["float32", [-4], 0, 16, False]]),  # a negative size
], ids=["truncated", "overlap", "unaligned", "dtype", "size", "past-end", "twice", "missing", "negative"])
def test_malformed_raw_frames_are_refused(frame):
    with pytest.raises(WireError):
        wire.decode_trusted(frame)


def test_a_raw_answer_wraps_handles_in_the_same_walk():
    frame = wire.dumps({"ok": True, "value": [X, {wire.HANDLE_KEY: 7, "type": "Conv2d", "mro": ["Module"]}],
                        "output": ""})
    reply = wire.decode_trusted(frame, handle=lambda h: ("proxy", h[wire.HANDLE_KEY]))
    assert torch.equal(reply["value"][0], X) and reply["value"][1] == ("proxy", 7) and reply["output"] == ""


def test_a_tensor_free_answer_is_tagged_once_and_keeps_its_json(monkeypatch):
    """JSON frames (most answers: descriptions, numbers, handles) are walked once; only a raw walk that tagged
    an OrderedDict as ``~od`` walks again, so that an OrderedDict still travels as plain JSON."""
    shapes = {"ok": True, "value": {"state_dict": [("w", (4, 3), "float32")], "size": torch.Size([2, 3])}}
    ordered = {"v": OrderedDict(a=1, b=(2, 3))}
    walks = []  # one entry per walk over a whole message: was it the raw walk (tensors collected)?
    real_tag = wire._tag

    def counted(obj, tensors=None):
        if obj is shapes or obj is ordered:
            walks.append(tensors is not None)
        return real_tag(obj, tensors)

    monkeypatch.setattr(wire, "_tag", counted)
    assert wire.dumps(shapes) == (b'J{"ok":true,"value":{"state_dict":[{"~t":["w",{"~t":[4,3]},"float32"]}],'
                                  b'"size":{"~s":[2,3]}}}')
    assert walks == [True]
    walks.clear()
    assert wire.dumps(ordered) == b'J{"v":{"a":1,"b":{"~t":[2,3]}}}' and walks == [True, False]
    assert wire.decode_trusted(wire.dumps(shapes))["value"]["state_dict"] == [("w", (4, 3), "float32")]
