"""Trusted grader for the Modern CNN kit."""
