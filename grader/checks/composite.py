"""Error carried forward: a composite (a whole model, or a module built from the student's own parts) is judged on
its own wiring, given the student's own parts, so that one mistake inside a part is charged once, in the part's tests.

- Counts and layouts: what the reference wiring gives when built from the student's own parts (the parts measured
  in the sandbox, the rest computed here).
- Functions: a hybrid, the reference skeleton here whose parts are the part instances inside the student's own model
  (remote children, reached through the proxies); only the skeleton's own weights are the reference's.
- A part that does not run on the inputs the composite gives it is named (``PartBroken``): fix it first.

Counts and layouts still come from the sandbox: a hidden test credits them only when a behavioural test of the same
composite passes (``@pytest.mark.confirmed_by``), so a composite that ignores its parts or fakes a count gets nothing.
"""
from __future__ import annotations

import copy
from typing import Iterable

import torch

from grader.checks.calls import passes_through
from grader.checks.compare import close
from grader.checks.failures import fail
from grader.checks.measure import Layout, param_count, state_dict_layout
from grader.checks.weights import load_weights, strided_weights
from grader.sandbox.client import StudentRaised

_notes: list[str] = []


def note(text: str) -> None:
    """A message for a test that passes (e.g. its points came from the hybrid); the pytest plugin shows it."""
    _notes.append(text)


def take_notes() -> str:
    text = "\n".join(_notes)
    _notes.clear()
    return text


def carried_forward(composite: str, parts: Iterable[str], what: str = "output") -> str:
    names = ", ".join(f"`{p}`" for p in sorted(set(parts)))
    return (f"your {composite} is wired right; its {what} differs from the reference only because of {names}, "
            f"charged in the {names} tests (error carried forward).")


def part_paths(module: torch.nn.Module, types: Iterable[str]) -> list[str]:
    """Dotted paths of the outermost submodules of ``module`` whose class is named in ``types``."""
    types, paths = set(types), []
    for path, sub in module.named_modules():
        if path and type(sub).__name__ in types and not any(path.startswith(p + ".") for p in paths):
            paths.append(path)
    return paths


def child(obj, path: str):
    """The submodule at a dotted path of a local or a remote (student) module: ``layer1.0`` → obj.layer1[0]."""
    for name in path.split("."):
        obj = obj[int(name)] if name.isdigit() else getattr(obj, name)
    return obj


class PartBroken(Exception):
    """A student's part raised on the input its composite gives it."""

    def __init__(self, path: str, part: str, shape: tuple, err: StudentRaised):
        super().__init__(path)
        self.path, self.part, self.shape, self.err = path, part, shape, err


def fix_part_first(composite: str, broken: PartBroken) -> None:
    fail(f"{composite} cannot be judged yet: your `{broken.part}` at {broken.path} raised {broken.err.type_name} "
         f"on the input of shape {broken.shape} that {composite} gives it ({broken.err.message.splitlines()[0]}).",
         f"fix `{broken.part}` first (its own tests say how); {composite}'s tests judge its wiring once its parts "
         f"run")


class RemotePart(torch.nn.Module):
    """One of the student's parts inside the trusted skeleton: forward sends the tensor to the sandbox.

    The part computes in ``dtype`` (the student's model's); its answer comes back in the skeleton's dtype.
    """

    def __init__(self, remote, path: str, part: str, dtype: torch.dtype):
        super().__init__()
        self._remote, self._path, self._part, self._dtype = remote, path, part, dtype

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        try:
            out = self._remote(x.to(self._dtype))
        except StudentRaised as err:
            if passes_through(err):
                raise
            raise PartBroken(self._path, self._part, tuple(x.shape), err) from None
        return out.to(x.dtype) if isinstance(out, torch.Tensor) else out


def hybrid(skeleton: torch.nn.Module, mine, paths: list[str], dtype: torch.dtype) -> torch.nn.Module:
    """A copy of the reference ``skeleton`` whose parts at ``paths`` are the student's (children of ``mine``)."""
    model = copy.deepcopy(skeleton)
    for path in paths:
        parent, _, name = path.rpartition(".")
        owner = model.get_submodule(parent) if parent else model
        setattr(owner, name, RemotePart(child(mine, path), path, type(model.get_submodule(path)).__name__, dtype))
    return model


def hybrid_output(skeleton: torch.nn.Module, mine, paths: list[str], dtype: torch.dtype, x: torch.Tensor):
    """The hybrid's output on ``x`` (raises PartBroken where a student's part fails on its input)."""
    with torch.no_grad():
        return hybrid(skeleton, mine, paths, dtype)(x)


def _under(key: str, paths: Iterable[str]) -> str:
    return next((p for p in paths if key.startswith(p + ".")), "")


def load_given_parts(mine, ref_sd: dict[str, torch.Tensor], paths: list[str], seed: int, dtype) -> str:
    """The reference's weights into the student's model (by name, else by shape); where its parts' layouts differ
    from the reference's, the skeleton's own weights by name and each part's by name/shape or, where the part's
    layout is its own, seeded weights of its own layout. Returns how."""
    try:
        return load_weights(mine, ref_sd)
    except Exception:  # noqa: BLE001 - a layout that does not line up: load part by part below
        pass
    own = {k: v for k, v in ref_sd.items() if not _under(k, paths)}
    mine_keys = {k for k, _, _ in state_dict_layout(mine) if not _under(k, paths)}
    if mine_keys != set(own):
        fail("your model's own layers (outside its parts) do not line up with the reference's by name "
             f"(only in the reference: {sorted(set(own) - mine_keys)[:5]}; only in yours: "
             f"{sorted(mine_keys - set(own))[:5]}).", "keep the reference's names for the layers between the parts")
    mine.load_state_dict(own, strict=False)
    for i, path in enumerate(paths):
        part = child(mine, path)
        part_sd = {k[len(path) + 1:]: v for k, v in ref_sd.items() if k.startswith(path + ".")}
        try:
            load_weights(part, part_sd)
        except Exception:  # noqa: BLE001 - the part's own layout: its own seeded weights, the same in the hybrid
            part.load_state_dict(strided_weights(state_dict_layout(part), seed=seed + 1 + i, dtype=dtype))
    return "by name for the model's own layers, part by part for its blocks"


def layout_given_parts(ref_layout: Layout, mine_layout: Layout, paths: list[str]) -> Layout:
    """The reference's layout with each part's entries replaced by the student's part's entries (same prefix)."""
    out, done = [], set()
    for key, shape, dtype in ref_layout:
        path = _under(key, paths)
        if not path:
            out.append((key, shape, dtype))
        elif path not in done:
            done.add(path)
            out += [entry for entry in mine_layout if entry[0].startswith(path + ".")]
    return out


def count_given_parts(ref: torch.nn.Module, mine, paths: list[str]) -> int | None:
    """The parameter count of the reference wiring built from the student's parts (counted in the sandbox); None
    where the student's model has no part at one of the reference's paths."""
    total = sum(p.numel() for p in ref.parameters())
    for path in paths:
        try:
            got = param_count(child(mine, path))
        except StudentRaised as err:
            if passes_through(err):
                raise
            return None
        total += got - sum(p.numel() for p in ref.get_submodule(path).parameters())
    return total


def matches_given_parts(got, hybrid_out: torch.Tensor | None, **tol) -> bool:
    return hybrid_out is not None and close(got, hybrid_out, **tol)
