"""The toolkit every hidden test (``autograde_tests/test_<id>.py``) is written in, one module per concern.

- ``calls``: calls into student code, with one policy for not implemented / timeout / raised errors;
- ``compare``: outputs against the expected ones, naming the likely cause from known wrong variants;
- ``totals``: tables from wrong parameter totals (and wrong formulas) to their causes;
- ``layout``: ``state_dict`` layouts against torchvision's or the reference's, saying which;
- ``weights``: loading the reference's weights into the student's module;
- ``seeded``: seeded builders that never reseed the trusted process's global random generator;
- ``tolerance``: how close is close enough, per device and dtype;
- ``measure``, ``failures``, ``cache``, ``source``: what a module is, how a failure reads, values computed
  once, and static checks of a cell's source.

Which exercise a test grades is its ``@pytest.mark.exercise("<grade_id>")`` (``grader.pytest_plugin``).
Nothing here is specific to one lecture point: that lives in the hidden tests.
"""
from grader.checks.cache import ResultCache
from grader.checks.calls import (DEVICE_WORDS, call, call_keeping_inputs, call_on, expect_student_error, explained,
                                 functions_called, is_not_implemented, not_implemented, on_meta,
                                 passes_through)
from grader.checks.compare import (assert_equal, assert_same_output, assert_tensor, close, diagnose,
                                   matching_variant)
from grader.checks.failures import CheckFailed, fail, fmt, signature
from grader.checks.layout import (REFERENCE, TORCHVISION, assert_same_dtypes, assert_same_layout,
                                  layout_differences, reference_layout, torchvision_model)
from grader.checks.measure import describe, layout_of, measure, param_count, state_dict_layout, type_names
from grader.checks.seeded import build_seeded, generator, randn, randomise_batchnorm, reference_case, seeded
from grader.checks.source import calls_in_source, exercise_source
from grader.checks.tolerance import FLOAT64, tolerance
from grader.checks.totals import assert_param_count, assert_total, cause_of_all, count_failure, subset_sums
from grader.checks.weights import load_weights, strided_weights, with_reference_weights

__all__ = [
    "CheckFailed", "DEVICE_WORDS", "FLOAT64", "REFERENCE", "TORCHVISION", "ResultCache", "assert_equal",
    "assert_param_count", "assert_same_dtypes", "assert_same_layout", "assert_same_output", "assert_tensor",
    "assert_total", "build_seeded", "call", "call_keeping_inputs", "call_on", "calls_in_source", "cause_of_all",
    "close", "count_failure", "describe", "diagnose", "exercise_source", "expect_student_error", "explained",
    "fail", "fmt", "functions_called", "generator", "is_not_implemented", "layout_differences",
    "layout_of", "load_weights", "matching_variant", "measure", "not_implemented", "on_meta", "param_count", "passes_through",
    "randn", "randomise_batchnorm", "reference_case", "reference_layout", "seeded", "signature",
    "state_dict_layout", "strided_weights", "subset_sums", "tolerance", "torchvision_model", "type_names",
    "with_reference_weights",
]
