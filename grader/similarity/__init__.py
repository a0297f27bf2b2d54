"""Similar-code pairs, MOSS-style, computed inside the kit (no code leaves the machine).

- ``tokens``: a cell's own code as a normalised token stream (stub lines removed, identifiers and literals
  replaced by placeholders);
- ``fingerprints``: winnowed k-gram hashes of that stream, computed per unit at grading time and stored in
  the result under ``"fingerprints"``;
- ``index``: the inverted index fingerprint → students per exercise, the discounts (base file, MOSS ``-m``),
  and the scored pairs with their matching lines.

Nothing here changes a grade: the pairs are shown to a TA, who decides.
"""
from grader.similarity.fingerprints import FINGERPRINT_VERSION, fingerprint_cells, fingerprint_source
from grader.similarity.index import Pair, SimilarityReport, find_pairs

__all__ = ["FINGERPRINT_VERSION", "Pair", "SimilarityReport", "find_pairs", "fingerprint_cells",
           "fingerprint_source"]
