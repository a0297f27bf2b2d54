"""The coordinator's writer thread (grader/recorder.py): fast, and what it leaves on disk is always consistent.

No grading here: ready-made results (a real assignment's tests, not run) are
handed to a Recorder as the backends hand theirs over. The capacity figures
themselves are measured by ``python -m bench.cluster --capacity-only``.
"""
from __future__ import annotations

import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from rich.console import Console

from grader.course import project_root
from grader.gradebook import Gradebook
from grader.recorder import Recorder, RecordingError
from grader.run import Unit, _not_graded

TASK = "vgg"


def _ready(student: str):
    unit = Unit(student, TASK, None, [f"{student}: a note from discovery"])
    return unit, _not_graded(unit, "no notebook found")


def _recorded(out: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(out / "gradebook.db", timeout=30) as db:
        return db.execute("SELECT student_id, result_json FROM results ORDER BY student_id").fetchall()


def test_a_unit_handed_over_is_committed_with_its_files_as_soon_as_the_writer_catches_up(tmp_path):
    out = tmp_path / "grades"
    book = Gradebook(out / "gradebook.db")
    console = Console(file=io.StringIO(), width=200)
    with Recorder(book, out, console) as recorder:
        unit, result = _ready("s1")
        recorder.record(unit, result, "sub", "tests")
        deadline = time.monotonic() + 10
        while not _recorded(out):  # another connection sees it while the run goes on
            assert time.monotonic() < deadline, "a lone unit was not committed while the recorder was open"
            time.sleep(0.05)
        assert (out / "results" / "s1" / f"{TASK}.json").is_file() and (out / "feedback" / "s1" / f"{TASK}.html").is_file()
        for student in ("s2", "s3"):
            recorder.record(*_ready(student), "sub", "tests")
    assert [student for student, _ in _recorded(out)] == ["s1", "s2", "s3"]
    assert book.is_current("s3", TASK, "sub", "tests")
    book.close()
    assert [line.split(":")[0].strip() for line in console.file.getvalue().splitlines()] == ["s1/vgg", "s2/vgg", "s3/vgg"]


def test_a_unit_whose_files_cannot_be_written_leaves_no_row_and_stops_the_run(tmp_path):
    out = tmp_path / "grades"
    (out / "results").mkdir(parents=True)
    (out / "results" / "s2").write_text("a file where the student's folder should be")
    book = Gradebook(out / "gradebook.db")
    with pytest.raises(RecordingError, match=str(out)):
        with Recorder(book, out, Console(file=io.StringIO())) as recorder:
            for student in ("s1", "s2", "s3"):
                recorder.record(*_ready(student), "sub", "tests")
    recorded = [student for student, _ in _recorded(out)]
    assert "s2" not in recorded and recorded in (["s1"], ["s1", "s3"])  # s3 only if it was written with s1
    for student in recorded:
        assert (out / "results" / student / f"{TASK}.json").is_file()
    book.close()


def test_the_writer_writes_the_page_its_worker_rendered_unless_the_coordinator_changed_the_unit(tmp_path):
    """Workers render feedback pages (grader.outputs.with_page) so the one writer only writes them; a page made
    stale on the coordinator's side (discovery's notes added, a grader failure) is rendered again."""
    from grader.backends import complete
    from grader.outputs import render_feedback, with_page, write_unit

    out = tmp_path / "grades"
    unit, result = _ready("s1")
    assert with_page(result).page == render_feedback(result)
    result.page = "<html>the page its worker rendered</html>"
    write_unit(out, result)
    assert (out / "feedback" / "s1" / f"{TASK}.html").read_text(encoding="utf-8") == \
        "<html>the page its worker rendered</html>"
    assert result.page is None, "a written page is not held for the rest of the run"
    assert "page" not in result.to_dict() and "page" not in result.public()

    unit, result = _ready("s2")  # discovery noted something about this submission: the worker never saw it
    result.problems, result.page = [], "<html>rendered without discovery's note</html>"
    complete(unit, result)
    write_unit(out, result)
    page = (out / "feedback" / "s2" / f"{TASK}.html").read_text(encoding="utf-8")
    assert "s2: a note from discovery" in page and page == render_feedback(result)

    unit, result = _ready("s3")
    result.grader_failure, result.page = True, "<html>stale</html>"
    write_unit(out, result)
    assert (out / "feedback" / "s3" / f"{TASK}.html").read_text(encoding="utf-8") == render_feedback(result)


def test_a_new_unit_file_is_created_in_place_and_a_regraded_one_replaced_whole(tmp_path, monkeypatch):
    """New files skip the temporary file and its rename (the writer's costliest step); a file already there (a
    re-grade, or one cut short by a killed run) is replaced by a rename, so a reader never sees half of it."""
    import grader.outputs as outputs

    renames: list[tuple[str, str]] = []
    real_replace = os.replace
    monkeypatch.setattr(outputs.os, "replace", lambda a, b: (renames.append((Path(a).name, Path(b).name)),
                                                             real_replace(a, b))[1])
    out = tmp_path / "grades"
    unit, result = _ready("s1")
    outputs.write_unit(out, result)
    json_file = out / "results" / "s1" / f"{TASK}.json"
    first = json_file.read_text(encoding="utf-8")
    assert renames == [] and json.loads(first)["student_id"] == "s1"
    assert json_file.stat().st_mode & 0o777 == 0o666 & ~_umask()

    json_file.write_text(first[:10])  # what a run killed mid-write leaves behind
    outputs.write_unit(out, result)
    assert json_file.read_text(encoding="utf-8") == first
    assert renames == [(f".{TASK}.json.tmp", f"{TASK}.json"), (f".{TASK}.html.tmp", f"{TASK}.html")]
    assert sorted(p.name for p in json_file.parent.iterdir()) == [f"{TASK}.json"]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


class _HeldConsole(io.StringIO):
    """A console file whose first write waits until ``release`` is set: holds the writer after its first batch."""

    def __init__(self, release: threading.Event):
        super().__init__()
        self.release = release

    def write(self, text: str) -> int:
        self.release.wait(timeout=10)
        return super().write(text)


def test_a_failing_unit_in_the_last_batch_still_lets_the_run_stop(tmp_path):
    """The last unit fails while close() waits: its stop signal shared that batch, so the writer must not wait
    for another (CI once hung here for an hour)."""
    out = tmp_path / "grades"
    (out / "results").mkdir(parents=True)
    (out / "results" / "s2").write_text("a file where the student's folder should be")
    book = Gradebook(out / "gradebook.db")
    release = threading.Event()

    raised: list[BaseException] = []

    def run_and_close() -> None:
        try:
            with Recorder(book, out, Console(file=_HeldConsole(release))) as recorder:
                recorder.record(*_ready("s1"), "sub", "tests")  # the writer prints it, then is held
                recorder.record(*_ready("s2"), "sub", "tests")  # queued, then close() queues the stop signal
                threading.Timer(0.5, release.set).start()  # s2 and the stop signal now make one batch
        except BaseException as err:
            raised.append(err)

    closing = threading.Thread(target=run_and_close, daemon=True)  # a hung writer fails the test, not the suite
    closing.start()
    closing.join(timeout=30)
    assert not closing.is_alive(), "close() still waits for a writer that failed on the last batch"
    assert len(raised) == 1 and isinstance(raised[0], RecordingError) and str(out) in str(raised[0])
    assert [student for student, _ in _recorded(out)] == ["s1"]
    book.close()


KILLED_WRITER = """
import sys
from pathlib import Path
from rich.console import Console
from grader.gradebook import Gradebook
from grader.recorder import Recorder
from grader.run import Unit, _not_graded

out = Path(sys.argv[1])
with Recorder(Gradebook(out / "gradebook.db"), out, Console(file=open("/dev/null", "w")), commit_every=20) as recorder:
    for i in range(100_000):
        unit = Unit(f"s{i:06d}", "vgg", None, [])
        recorder.record(unit, _not_graded(unit, "no notebook found"), "sub", "tests")
"""


def test_a_coordinator_killed_while_it_records_leaves_every_committed_unit_with_its_files(tmp_path):
    out = tmp_path / "grades"
    env = {**os.environ, "PYTHONPATH": str(project_root())}
    child = subprocess.Popen([sys.executable, "-c", KILLED_WRITER, str(out)], cwd=project_root(), env=env)
    try:
        deadline = time.monotonic() + 120
        while True:  # kill it once some units are committed and more are on their way
            assert child.poll() is None and time.monotonic() < deadline, "the recording process ended early"
            try:
                if len(_recorded(out)) >= 40:
                    break
            except sqlite3.OperationalError:  # no database yet
                pass
            time.sleep(0.05)
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.kill()
        child.wait()
    rows = _recorded(out)
    assert 40 <= len(rows) < 100_000
    for student, result_json in rows:
        public = json.loads((out / "results" / student / f"{TASK}.json").read_text(encoding="utf-8"))
        assert public["student_id"] == student and public["status"] == json.loads(result_json)["status"]
        assert (out / "feedback" / student / f"{TASK}.html").read_text(encoding="utf-8").endswith("</html>")
