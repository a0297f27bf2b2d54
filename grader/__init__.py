"""Trusted grader for the Modern CNN kit."""
import sys

# jsonschema (imported by nbformat) checks the "iri" format with rfc3987-syntax when that package is installed,
# and rfc3987-syntax builds 39 Earley parsers when it is imported: 2.6 s of CPU in every process that reads a
# notebook (`make check`, `make grade`, each worker). jupyter-events' extras install it; nothing the kit
# validates has an "iri" format. Marking it absent makes jsonschema skip that checker, as it does wherever the
# package is not installed. Processes that never import the grader (nbgrader's own commands) are unchanged.
sys.modules.setdefault("rfc3987_syntax", None)
