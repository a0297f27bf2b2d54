"""A sandboxed module's description travels compact (grader.sandbox.describe.for_the_wire: lists for tuples, a
reported list left out where it equals the registered one) and comes back whole (``from_wire``): equal to the
description made in-process, and still refused where the two accounts disagree."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from grader import wire
from grader.reference import load_reference
from grader.sandbox.describe import InconsistentDescription, describe, for_the_wire, from_wire, verify

NETWORKS = [("alexnet", "AlexNet"), ("vgg", "vgg16"), ("inception", "GoogLeNet"), ("resnet", "resnet50"),
            ("densenet", "densenet121")]


def _sent_and_received(info: dict) -> tuple[bytes, dict]:
    frame = wire.dumps({"ok": True, "value": info, "output": ""})
    return frame, wire.decode_trusted(frame)["value"]


@pytest.mark.parametrize("assignment,builder", NETWORKS)
def test_a_description_comes_back_equal_to_the_local_one_in_half_the_bytes(assignment, builder):
    with torch.device("meta"):
        module = getattr(load_reference(assignment), builder)()
    local = describe(module)
    compact, received = _sent_and_received(for_the_wire(local))
    whole = from_wire(received)
    verify(whole)
    assert whole == local
    assert type(whole["state_dict"][0]) is tuple and type(whole["state_dict"][0][1]) is tuple
    tagged, _ = _sent_and_received(local)  # how a description travelled before
    assert len(compact) < 0.5 * len(tagged)


class ReportsNoParameters(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3)

    def named_parameters(self, *args, **kwargs):
        return iter([])

    def parameters(self, recurse=True):
        return iter([])


def test_a_module_whose_reports_differ_from_its_registrations_sends_both_and_is_refused():
    sent = for_the_wire(describe(ReportsNoParameters()))
    assert sent["parameters"] == [] and sent["state_dict"] is None  # its state_dict() was not overridden
    _, received = _sent_and_received(sent)
    with pytest.raises(InconsistentDescription, match="parameter count"):
        verify(from_wire(received))


@pytest.mark.parametrize("broken", [
    {"is_module": True, "parameters": None, "state_dict": None, "children": []},  # no raw account
    {"is_module": True, "parameters": None, "state_dict": None, "children": [],
     "raw": {"params": [["w", "not a shape", True]], "state": [], "children": []}},
    {"is_module": True, "parameters": [["w"]], "state_dict": None, "children": [],
     "raw": {"params": [], "state": [], "children": []}},
])
def test_a_malformed_description_is_refused(broken):
    with pytest.raises(InconsistentDescription, match="malformed"):
        from_wire(broken)
