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
                and a.device == b.device and a.requires_grad == b.requires_grad
                and a.storage_offset() == b.storage_offset()
                and a.untyped_storage().nbytes() == b.untyped_storage().nbytes()
                and (a.device.type == "meta" or torch.equal(a.detach().resolve_conj(), b.detach().resolve_conj())))
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
# views travel with their whole storage, strides and offset, as through torch.save
HANKEL = torch.randn(4 + 6 - 1).as_strided((4, 6), (1, 1))
VIEWS = [[torch.arange(6).view(2, 3).t()], X[1], {"w": HANKEL, "b": torch.randn(4)}, torch.randn(4, 5)[1:3, ::2],
         torch.randn(3, 8)[:0], torch.randn(2, 3, 4, 5).to(memory_format=torch.channels_last)]
# no data at all: meta tensors (any strides) and empty CPU tensors go as JSON
DATALESS = [torch.empty(2, 3, 224, 224, device="meta"), (torch.empty(4, 6, device="meta").t(), 3),
            torch.empty(2, 3, 4, 5, device="meta").to(memory_format=torch.channels_last),
            {"x": torch.empty(2, 16, 9, 9, device="meta", dtype=torch.float16, requires_grad=True)},
            torch.zeros(0), torch.empty(2, 0, 4, dtype=torch.int64)]
FALLBACK = [(X, X), (HANKEL, HANKEL[1:]), torch.nn.Parameter(torch.randn(2)), (torch.randn(2) * 1j).conj(),
            torch.nn.Parameter(torch.empty(3, device="meta"))]


def _expected_frame(obj) -> bytes:
    if any(obj is r for r in RAW + VIEWS):
        return RAW_FRAME
    return wire.JSON_FRAME if any(obj is d for d in DATALESS) else TORCH_FRAME


@pytest.mark.parametrize("obj", RAW + VIEWS + DATALESS + FALLBACK, ids=lambda o: type(o).__name__)
@pytest.mark.parametrize("trusted", [False, True], ids=["child", "grader"])
def test_raw_frames_give_what_torch_save_gave(obj, trusted):
    """The same value on both sides; the grader refuses the same answers (a Hankel view, which reads more
    elements than its storage holds, is refused as an answer either way)."""
    frame = wire.dumps(obj)
    assert frame[:1] == _expected_frame(obj)
    outcomes = []
    for through in (_through_torch_save, _through_dumps):
        try:
            outcomes.append(through(obj, trusted))
        except WireError:
            outcomes.append(WireError)
    if outcomes[0] is WireError or outcomes[1] is WireError:
        assert outcomes == [WireError, WireError] and trusted
    else:
        assert _same(*outcomes)


def test_a_view_costs_its_storage_not_its_shape():
    """The seeded Hankel weights: a 4096x9216 view of 13,311 numbers travels in about 53 kB, not 151 MB."""
    storage = torch.randn(4096 + 9216 - 1)
    frame = wire.dumps({"classifier.1.weight": storage.as_strided((4096, 9216), (1, 1))})
    assert frame[:1] == RAW_FRAME and len(frame) < storage.numel() * 4 + 4096
    tree, tensors = wire._raw_tensors(frame[1:], wire.DEFAULT_MAX_BYTES, restore_grad=True)
    weight = wire._untag(tree, tensors)["classifier.1.weight"]
    assert weight.stride() == (1, 1) and torch.equal(weight[5, 7:9], storage[12:14])


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
    _raw({"~T": 0}, [["float32", [4], 0, 16, False, [1], 1]]),  # a view past its storage (set_ would grow it)
    _raw({"~T": 0}, [["float32", [2, 2], 0, 16, False, [1], 0]]),  # strides not matching the shape
    _raw({"~T": 0}, [["float32", [2], 0, 16, False, [-1], 3]]),  # a negative stride
    _raw({"~T": 0}, [["float32", [2], 0, 10, False, [1], 0]]),  # a storage of part of an element
    _raw({"~T": 0}, [["float32", [8], 0, 16, False, [0], 0]]),  # an expand: more elements than storage
    b"J" + json.dumps({"~M": ["cpu", "float32", [4], [1], False]}).encode(),  # data-less with elements
    b"J" + json.dumps({"~M": ["cuda", "float32", [0], [1], False]}).encode(),  # another device
    b"J" + json.dumps({"~M": ["meta", "object", [2], [1], False]}).encode(),  # unknown dtype
    b"J" + json.dumps({"~M": ["meta", "float32", [2, 3], [1], False]}).encode(),  # strides not matching
    b"J" + json.dumps({"~M": ["meta", "float32", [1 << 62, 1 << 62], [1, 1], False]}).encode(),  # overflow
], ids=["truncated", "overlap", "unaligned", "dtype", "size", "past-end", "twice", "missing", "negative",
        "view-past-storage", "view-strides", "view-negative-stride", "view-partial", "view-expand",
        "dataless-elements", "dataless-device", "dataless-dtype", "dataless-strides", "dataless-overflow"])
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


def _random_tree(rng, depth: int):
    """A JSON tree as a child might send it: scalars, lists of scalars (shapes), mixed lists, dicts, a few tags."""
    roll = rng.random()
    if depth <= 0 or roll < 0.3:
        return rng.choice([0, 7, -3, 2.5, "w", "", True, None, "~t"])
    if roll < 0.5:
        return [rng.choice([1, 64, 3, "float32", None]) for _ in range(rng.randrange(0, 5))]
    if roll < 0.75:
        return [_random_tree(rng, depth - 1) for _ in range(rng.randrange(0, 4))]
    if roll < 0.9:
        return {f"k{i}": _random_tree(rng, depth - 1) for i in range(rng.randrange(0, 4))}
    return rng.choice([{"~t": [_random_tree(rng, depth - 1), 3]}, {"~s": [2, 3]}, {"~dt": "float64"},
                       {"~d": [[1, _random_tree(rng, depth - 1)], ["a", [4, 5]]]}])


def _deep(levels: int, leaf):
    tree = leaf
    for i in range(levels):
        tree = [tree] if i % 2 else {"v": tree}
    return tree


def _outcome(walk, tree):
    try:
        return walk(tree)
    except WireError:
        return WireError


@pytest.mark.parametrize("max_items", [12, 40, 1_000_000])
def test_the_answers_walk_equals_validate_of_untag_at_every_limit(monkeypatch, max_items):
    """The walk that checks a JSON answer (counting lists of scalars without a call each) accepts and refuses
    exactly what ``validate(_untag(tree))`` does: same values, same types, refused past the item budget or past
    MAX_DEPTH levels, wherever the last item sits (a scalar, a list of scalars, a dict's value, an empty list)."""
    import random

    monkeypatch.setattr(wire, "MAX_ITEMS", max_items)
    rng = random.Random(1234)
    trees = [_random_tree(rng, 6) for _ in range(400)]
    for levels in range(wire.MAX_DEPTH - 3, wire.MAX_DEPTH + 3):
        trees += [_deep(levels, leaf) for leaf in (1, [1, 2], [], [[]], {"x": 3}, {"x": [4]}, {})]
    outcomes = {"accepted": 0, "refused": 0}
    for tree in trees:
        expected = _outcome(lambda t: wire.validate(wire._untag(t)), json.loads(json.dumps(tree)))
        got = _outcome(wire._untag_checked, json.loads(json.dumps(tree)))
        assert got == expected and repr(got) == repr(expected), tree
        outcomes["refused" if got is WireError else "accepted"] += 1
    assert outcomes["accepted"] > 50 and outcomes["refused"] > 5  # both sides of each limit were reached


@pytest.mark.parametrize("size", [3, 70_000], ids=["one-call", "header-then-payload"])
def test_a_message_through_a_socket_arrives_whole_and_owns_its_memory(size):
    """``send`` then ``recv_plain``/``recv_trusted`` over a real socket pair: a small message goes in one call, a
    large one as header then payload; both arrive equal, and every tensor received has a storage of its own,
    none of them in the received frame (which is read in place, not copied first)."""
    import socket
    import threading

    for receive in (wire.recv_plain, wire.recv_trusted):
        view = HANKEL if receive is wire.recv_plain else torch.randn(4, 5)[1:3, ::2]  # the grader refuses a Hankel
        message = {"ok": True, "value": {"w": torch.randn(size, 3), "b": torch.arange(size), "h": view},
                   "output": ""}
        ours, theirs = socket.socketpair()
        with ours, theirs:
            sizes = []
            sender = threading.Thread(target=lambda: sizes.append(wire.send(theirs, message)))
            sender.start()  # a frame over the socket buffer needs a reader while it is written
            got = receive(ours)
            sender.join()
            value = got["value"]
            assert sizes == [wire.HEADER.size + len(wire.dumps(message))]
            assert all(torch.equal(value[k], message["value"][k]) for k in ("w", "b", "h"))
            pointers = {t.untyped_storage().data_ptr() for t in value.values()}
            assert len(pointers) == 3
            for tensor in value.values():  # allocated by torch, as torch.load gives it: not over the frame's bytes
                assert tensor.untyped_storage().resizable()
                assert tensor.untyped_storage().nbytes() == message["value"][
                    next(k for k in value if value[k] is tensor)].untyped_storage().nbytes()
