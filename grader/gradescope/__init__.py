"""Gradescope's autograder route: a zip that Gradescope builds once, and a run that grades one upload.

Gradescope's specification (https://gradescope-autograders.readthedocs.io/en/latest/specs/):
the zip's root holds ``setup.sh`` and ``run_autograder``; the zip is unpacked to
``/autograder/source``, ``run_autograder`` is copied to ``/autograder/run_autograder`` and
run as root with ``/autograder`` as the working directory; the upload is in
``/autograder/submission``; the result goes to ``/autograder/results/results.json``.

- ``build``: writes ``dist/gradescope/<assignment>.zip`` (``make gradescope``);
- ``autograder``: the supervisor ``run_autograder`` starts; it always writes ``results.json``;
- ``worker``: grades the notebook with the kit's normal path (``grader.unit.grade_unit``);
- ``results``: turns the kit's per-unit result into Gradescope's ``results.json``.
"""
