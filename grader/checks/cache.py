"""Values a hidden-test module computes once: per grading run, or per submission."""
from __future__ import annotations


class ResultCache:
    """One per hidden-test module: values computed once per grading run (reference modules and outputs,
    reused for every student) and values computed once per submission (a student's model built on meta
    and shared by several tests), dropped when the next submission comes."""

    def __init__(self) -> None:
        self.run: dict = {}
        self.student = None
        self.submission: dict = {}

    def once(self, key, build):
        if key not in self.run:
            self.run[key] = build()
        return self.run[key]

    def per_submission(self, student, key, build):
        if self.student is not student:
            self.student, self.submission = student, {}
        if key not in self.submission:
            self.submission[key] = build()
        return self.submission[key]
