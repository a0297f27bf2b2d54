"""Error carried forward: a composite (a whole model, or a module built from the student's own parts) is judged on
its own wiring, given the student's own parts, so that one mistake inside a part is charged once, in the part's tests.

- Counts and layouts: what the reference wiring gives when built from the student's own parts (the parts measured
  in the sandbox, the rest computed here).
- Functions: a hybrid, the reference skeleton here whose parts are the student's own part class built in the sandbox
  with the arguments the reference wiring gives it, carrying the weights of the part at the same place in the
  student's own model; only the skeleton's own weights are the reference's. (Fresh instances, not the model's own:
  a stage built with the wrong stride would otherwise hide inside "its parts".)
- A part that does not run on the inputs the composite gives it is named (``PartBroken``): fix it first.

Counts and layouts still come from the sandbox: a hidden test credits them only when a behavioural test of the same
composite passes (``@pytest.mark.confirmed_by``), so a composite that ignores its parts or fakes a count gets nothing.
"""
from __future__ import annotations

import copy
from typing import Callable, Iterable

import torch

from grader.checks.calls import passes_through
from grader.checks.compare import close
from grader.checks.failures import CheckFailed, fail
from grader.checks.measure import Layout, state_dict_layout
from grader.checks.weights import load_weights, strided_weights
from grader.i18n import N_, _
from grader.sandbox.client import StudentRaised

_notes: list[str] = []


def note(text: str) -> None:
    """A message for a test that passes (e.g. its points came from the hybrid); the pytest plugin shows it."""
    _notes.append(text)


def take_notes() -> str:
    text = "\n".join(dict.fromkeys(_notes))   # each note once, in order
    _notes.clear()
    return text


def carried_forward(composite: str, parts: Iterable[str], what: str | None = None) -> str:
    """The note of a composite credited given its parts; ``what`` (default: its output) is what differs."""
    names = ", ".join(f"`{p}`" for p in sorted(set(parts)))
    words = (N_("your {composite} is wired right; its {what} differ from the reference only because of {names}, "
                "charged in the {names} tests (error carried forward).") if what is not None and what.endswith("s")
             else N_("your {composite} is wired right; its {what} differs from the reference only because of "
                     "{names}, charged in the {names} tests (error carried forward)."))
    return _(words, composite=composite, what=_("output") if what is None else what, names=names)


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
    first_line = (broken.err.message.splitlines() or [""])[0]
    fail(_("{composite} cannot be judged yet: your `{part}` at {path} raised {error_type} on the input of shape "
           "{shape} that {composite} gives it ({error_message}).", composite=composite, part=broken.part,
           path=broken.path, error_type=broken.err.type_name, shape=broken.shape, error_message=first_line),
         _("fix `{part}` first (its own tests say how); {composite}'s tests judge its wiring once its parts run",
           part=broken.part, composite=composite))


def part_inputs(ref: torch.nn.Module, paths: list[str], x: torch.Tensor) -> dict[str, tuple]:
    """{path: the shape of the input the reference wiring gives the part there} (one forward, meta works)."""
    shapes: dict[str, tuple] = {}

    def record(path: str):
        def hook(_module, args) -> None:   # returns None: the part's input is left as it is
            shapes.setdefault(path, tuple(args[0].shape))
        return hook
    hooks = [ref.get_submodule(p).register_forward_pre_hook(record(p)) for p in paths]
    try:
        with torch.no_grad():
            ref(x)
    finally:
        for hook in hooks:
            hook.remove()
    return shapes


def first_broken_part(ref: torch.nn.Module, paths: list[str], x: torch.Tensor,
                      build: Callable[[str], object]) -> PartBroken | None:
    """The first student part (``build(path)``: the part as the reference wiring builds it, on meta) that raises
    on the input the reference wiring gives it; None when every part runs, so the composite is to blame."""
    for path, shape in part_inputs(ref, paths, x).items():
        try:
            build(path)(torch.empty(shape, device="meta"))
        except StudentRaised as err:
            if passes_through(err):
                raise
            return PartBroken(path, type(ref.get_submodule(path)).__name__, shape, err)
    return None


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
        out = out.to(x.dtype) if isinstance(out, torch.Tensor) else out
        self.seen = (x, out)   # the last input and output, to tell which parts differ from the reference's
        return out


def copy_sharing_weights(module: torch.nn.Module) -> torch.nn.Module:
    """A deep copy of ``module`` that shares its parameters: its own modules and buffers (batch norm's running
    statistics, which a pass in training mode updates), but the weights themselves, which a forward pass under
    ``no_grad`` never writes, not copied (a ResNet-18 skeleton's 45 MB for every hybrid)."""
    return copy.deepcopy(module, {id(p): p for p in module.parameters()})


def hybrid(skeleton: torch.nn.Module, parts: dict[str, object], dtype: torch.dtype) -> torch.nn.Module:
    """A copy of the reference ``skeleton`` whose parts at the dotted paths of ``parts`` are the student's (run it
    under ``no_grad``: it shares the skeleton's weights)."""
    model = copy_sharing_weights(skeleton)
    for path, part in parts.items():
        parent, _, name = path.rpartition(".")
        owner = model.get_submodule(parent) if parent else model
        setattr(owner, name, RemotePart(part, path, type(model.get_submodule(path)).__name__, dtype))
    return model


def hybrid_output(skeleton: torch.nn.Module, parts: dict[str, object], dtype: torch.dtype, x: torch.Tensor,
                  wrong: set[str] | None = None, train: bool | None = None):
    """The hybrid's output on ``x`` (raises PartBroken where a student's part fails on its input), in training
    mode or not as ``train`` says (None: the skeleton's own modes). ``wrong`` collects the names of the parts whose
    output differs from the reference part's (in the same mode) on the same input."""
    with torch.no_grad():
        model = hybrid(skeleton, parts, dtype)
        if train is not None:
            model.train(train)
        out = model(x)
        if wrong is not None:
            for path in parts:
                seen = getattr(model.get_submodule(path), "seen", None)
                ref_part = copy_sharing_weights(skeleton.get_submodule(path))
                if train is not None:
                    ref_part.train(train)
                if seen is not None and not close(seen[1], ref_part(seen[0]), atol=1e-4, rtol=1e-4):
                    wrong.add(type(ref_part).__name__)
        return out


def _under(key: str, paths: Iterable[str]) -> str:
    return next((p for p in paths if key.startswith(p + ".")), "")


def load_given_parts(mine, ref_sd: dict[str, torch.Tensor], parts: dict[str, object], seed: int, dtype) -> None:
    """Weights for the judgement given the student's parts: the skeleton's own by name from the reference, each
    part's (the reference's by name or shape, else seeded weights of the part's own layout) loaded both into the
    student's part at that path in ``mine`` and into ``parts[path]`` (the part as the reference wiring builds it).
    Fails where the student's model is not the reference wiring around its parts."""
    own = {k: v for k, v in ref_sd.items() if not _under(k, parts)}
    mine_keys = {k for k, _, _ in state_dict_layout(mine) if not _under(k, parts)}
    if mine_keys != set(own):
        fail(_("your model's own layers (outside its blocks) do not line up with the reference's by name "
               "(only in the reference: {missing}; only in yours: {extra}).", missing=sorted(set(own) - mine_keys)[:5],
               extra=sorted(mine_keys - set(own))[:5]),
             _("keep the reference's names for the layers between the blocks"))
    mine.load_state_dict(own, strict=False)
    for i, (path, part) in enumerate(parts.items()):
        part_sd = weights_for(part, {k[len(path) + 1:]: v for k, v in ref_sd.items() if k.startswith(path + ".")},
                              seed + 1 + i, dtype)
        load_weights(child(mine, path), part_sd)


def weights_for(part, ref_part_sd: dict[str, torch.Tensor], seed: int, dtype) -> dict[str, torch.Tensor]:
    """Load the reference part's weights into the student's part (by name, else by shape) or, where its layout is
    its own, seeded weights of that layout; returns what was loaded, by the student part's own keys."""
    layout = state_dict_layout(part)
    try:
        how = load_weights(part, ref_part_sd)
        return ref_part_sd if how == "by name" else dict(zip([k for k, _, _ in layout], ref_part_sd.values()))
    except (CheckFailed, StudentRaised) as err:   # keys that fit, shapes that do not: the student's load raises
        if isinstance(err, StudentRaised) and passes_through(err):
            raise
        own = strided_weights(layout, seed=seed, dtype=dtype)
        part.load_state_dict(own)
        return own


def layout_given_parts(ref_layout: Layout, part_layouts: dict[str, Layout]) -> Layout:
    """The reference's layout with each part's entries replaced by the student's part's layout (prefixed)."""
    out, done = [], set()
    for key, shape, dtype in ref_layout:
        path = _under(key, part_layouts)
        if not path:
            out.append((key, shape, dtype))
        elif path not in done:
            done.add(path)
            out += [(f"{path}.{k}", shape_, dt) for k, shape_, dt in part_layouts[path]]
    return out


def count_given_parts(ref: torch.nn.Module, part_counts: dict[str, int]) -> int:
    """The parameter count of the reference wiring built from the student's parts (their counts from the sandbox)."""
    return sum(p.numel() for p in ref.parameters()) + sum(
        n - sum(p.numel() for p in ref.get_submodule(path).parameters()) for path, n in part_counts.items())


def outputs_given_parts(composite: str, mine, skeleton: torch.nn.Module, ref_sd: dict | None,
                        build_parts: Callable[[], dict[str, object]] | dict[str, object], x: torch.Tensor,
                        dtype: torch.dtype, seed: int = 3, wrong: set[str] | None = None, train: bool = False):
    """(the student's composite's output, the hybrid's) on ``x``, the same weights in both, in eval (or train)
    mode; (None, None) where the student's model is not the reference wiring around its parts, and the first
    None where the student's model raises. ``build_parts()``: the student's parts as the reference wiring
    builds them, on x's device in ``dtype``; ``ref_sd``: the weights to load (None: already loaded). Fails,
    naming the part, where a part does not run on the input the reference wiring gives it."""
    try:
        parts = build_parts() if callable(build_parts) else build_parts
        if ref_sd is not None:
            load_given_parts(mine, ref_sd, parts, seed, dtype)
        for module in (mine, *parts.values()):
            module.train(train)
    except (CheckFailed, StudentRaised) as err:
        if isinstance(err, StudentRaised) and passes_through(err):
            raise
        return None, None
    skeleton_dtype = next(skeleton.parameters()).dtype
    try:
        given = hybrid_output(skeleton, parts, dtype, x.to(skeleton_dtype), wrong, train=train)
    except PartBroken as broken:
        fix_part_first(composite, broken)
    try:
        return mine(x.to(dtype)), given
    except StudentRaised as err:
        if passes_through(err):
            raise
        return None, given
