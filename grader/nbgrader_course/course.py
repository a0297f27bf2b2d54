"""The nbgrader course a submissions folder belongs to, read from its ``nbgrader_config.py``.

``make grade SUBMISSIONS=submitted`` grades into the course's gradebook when the
folder is the course's ``submitted_directory``: the nearest folder above it with
an ``nbgrader_config.py`` whose configured submitted folder is this one. Any other
folder (the bundled examples, a plain folder of notebooks) is graded without
touching any nbgrader gradebook, so a demo run never adds fake students to a roster.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from traitlets.config import Config
from traitlets.config.loader import PyFileConfigLoader

CONFIG_FILE = "nbgrader_config.py"


def load_config(root: Path) -> Config:
    """nbgrader's configuration as its own commands see it from ROOT: the Jupyter config folders, then ROOT's file."""
    from jupyter_core.paths import jupyter_config_path

    config = Config()
    for folder in [*reversed(jupyter_config_path()), str(root)]:  # lowest priority first
        if (Path(folder) / CONFIG_FILE).is_file():
            config.merge(PyFileConfigLoader(CONFIG_FILE, path=folder).load_config())
    return config


@dataclass
class Course:
    """An nbgrader course root and the settings the kit needs from it."""
    root: Path
    config: Config

    def coursedir(self):
        from nbgrader.coursedir import CourseDirectory

        coursedir = CourseDirectory(config=self.config)
        coursedir.root = str(self.root)
        return coursedir

    def folder(self, step: str) -> Path:
        """ROOT/<step directory>, e.g. folder("submitted_directory")."""
        return self.root / getattr(self.coursedir(), step)

    @property
    def db_url(self) -> str:
        return self.coursedir().db_url

    @property
    def course_id(self) -> str:
        return self.coursedir().course_id


def prepare_environment() -> None:
    """nbgrader runs ``alembic`` (a console script of this venv) for some database commands."""
    bin_dir = str(Path(sys.executable).parent)
    if bin_dir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"


def ensure_database_folder(db_url: str) -> None:
    """A SQLite ``db_url``'s folder must exist before nbgrader can open the file."""
    prefix = "sqlite:///"
    if db_url.startswith(prefix):
        Path(db_url[len(prefix):]).parent.mkdir(parents=True, exist_ok=True)


def open_course(root: Path) -> Course:
    root = root.resolve()
    if not (root / CONFIG_FILE).is_file():
        raise FileNotFoundError(f"{root}: no {CONFIG_FILE}; not an nbgrader course root")
    course = Course(root, load_config(root))
    ensure_database_folder(course.db_url)
    prepare_environment()
    return course


def course_for(submissions: Path) -> Course | None:
    """The course whose submitted folder SUBMISSIONS is, or None (a plain folder of submissions)."""
    target = submissions.resolve()
    for folder in [target, *target.parents]:
        if (folder / CONFIG_FILE).is_file():
            course = Course(folder, load_config(folder))
            if course.folder("submitted_directory").resolve() == target:
                return open_course(folder)
            return None
    return None
