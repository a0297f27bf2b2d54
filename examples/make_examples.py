"""Build examples/submissions/ — the bundled class that `make grade` grades — from the kit's own notebooks.

Run after `make release` whenever a solution changes:  .venv/bin/python examples/make_examples.py
Each student shows one kind of submission a TA meets; tests/test_examples.py checks every score
against examples/expected_scores.json, and the README lists them.
"""
from __future__ import annotations

import copy
import shutil
from pathlib import Path

import nbformat

from grader.course import assignment, assignment_ids

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "examples" / "submissions"


def load(kind: str, task: str) -> nbformat.NotebookNode:
    files = assignment(task, ROOT)
    return nbformat.read(files.source_notebook if kind == "solution" else files.release_notebook, as_version=4)


def cell(nb: nbformat.NotebookNode, grade_id: str):
    for c in nb.cells:
        if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == grade_id:
            return c
    raise KeyError(grade_id)


def edit(nb, grade_id: str, old: str, new: str):
    """Replace text in one cell; fail loudly if the solution changed and the edit no longer applies."""
    target = cell(nb, grade_id)
    if old not in target.source:
        raise SystemExit(f"make_examples: {grade_id!r} no longer contains {old!r}; update this script")
    target.source = target.source.replace(old, new, 1)
    return nb


def write(student: str, task: str, nb, name: str | None = None, folder: bool = True) -> None:
    path = OUT / student / (task if folder else "") / (name or f"{task}.ipynb")
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)


def solution(task):
    """What a student who solved everything submits: the release, each stub filled with the reference body."""
    filled = copy.deepcopy(load("release", task))
    source = load("solution", task)
    for target in filled.cells:
        grade_id = target.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if target.get("metadata", {}).get("nbgrader", {}).get("solution"):
            lines = cell(source, grade_id).source.splitlines()
            target.source = "\n".join(line for line in lines if line.strip() not in MARKERS)
    return filled


MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION")


def main() -> None:
    shutil.rmtree(OUT, ignore_errors=True)
    tasks = assignment_ids(ROOT)  # the course's assignments, from course.toml

    # alice: every exercise right — full marks everywhere
    for task in tasks:
        write("alice", task, solution(task))

    # bob: opened the notebooks and submitted them untouched — 0 everywhere
    for task in tasks:
        write("bob", task, load("release", task))

    # chris: the typical mistakes, one per assignment
    write("chris", "alexnet", edit(solution("alexnet"), "relu", "return torch.where(x <= 0, 0, x)",
                                   "return F.relu(x)  # the built-in: not what the exercise asks"))
    write("chris", "vgg", edit(solution("vgg"), "conv_params", "out_channels, bias=False):",
                               "out_channels, bias=True):  # counts the biases too"))
    write("chris", "inception", edit(solution("inception"), "inception",
                                     "[self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)]",
                                     "[self.branch1(x), self.branch3(x), self.branch2(x), self.branch4(x)]"))
    write("chris", "resnet", edit(solution("resnet"), "basic_block",
                                  "if stride != 1 or in_channels != out_channels * self.expansion:",
                                  "if False:  # 'the shortcut is always the identity'"))
    write("chris", "densenet", edit(solution("densenet"), "transition",
                                    "self.pool = nn.AvgPool2d(kernel_size=2, stride=2)",
                                    "self.pool = nn.MaxPool2d(kernel_size=2, stride=2)"))

    # dana: broken files of every kind — each gets a row and a reason, nothing else is lost
    (OUT / "dana" / "alexnet").mkdir(parents=True, exist_ok=True)
    text = nbformat.writes(solution("alexnet"))
    (OUT / "dana" / "alexnet" / "alexnet.ipynb").write_text(text[: len(text) // 2], encoding="utf-8")  # truncated
    write("dana", "vgg", edit(solution("vgg"), "conv_params", "bias=False):", "bias=False)  # the colon is missing"))
    renamed = edit(solution("inception"), "inception", "class Inception(nn.Module):", "class InceptionBlock(nn.Module):")
    write("dana", "inception", renamed)
    deleted = solution("resnet")
    deleted.cells.remove(cell(deleted, "bottleneck"))
    write("dana", "resnet", deleted)
    hang = solution("densenet")
    target = cell(hang, "dense_channels")
    target.source += "\n\n\nsteps = 0\nwhile steps >= 0:  # meant to stop, never does\n    steps += 1\n"
    write("dana", "densenet", hang)

    # 김서연: careful work with two slips (ResNet v1's stride on the first 1x1; DenseNet without the final ReLU)
    for task in ("alexnet", "vgg", "inception"):
        write("김서연", task, solution(task))
    v1 = edit(solution("resnet"), "bottleneck", "conv1x1(in_channels, mid_channels)", "conv1x1(in_channels, mid_channels, stride)")
    write("김서연", "resnet", edit(v1, "bottleneck", "conv3x3(mid_channels, mid_channels, stride)",
                                "conv3x3(mid_channels, mid_channels)"))
    write("김서연", "densenet", edit(solution("densenet"), "densenet", "out = F.relu(features)", "out = features"))

    # frank: saved the notebook next to, not inside, the assignment folder — graded, with a note
    write("frank", "vgg", solution("vgg"), folder=False)

    # mallory: right answers plus an attempt to read the hidden tests and patch builtins — flagged for review
    attack = solution("alexnet")
    cell(attack, "relu_module").source += (
        "\n\nimport builtins, os\n"
        "for root in ('autograde_tests', '../autograde_tests', '/work/main/autograde_tests'):\n"
        "    try:\n        print(os.listdir(root))\n    except OSError as err:\n        print(err)\n"
        "builtins.sum = lambda *args, **kwargs: 61_100_840\n")
    write("mallory", "alexnet", attack)
    print(f"wrote {sum(1 for _ in OUT.rglob('*.ipynb'))} notebooks under {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
