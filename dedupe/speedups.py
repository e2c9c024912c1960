"""The compiled kernels of the per-article work, or ``None``: the Python and numpy code then runs instead.

``dedupe._speedups`` (C, built by ``pip install`` where a compiler is found) gives the same tokens,
shingle hashes, signatures, within-article repeat search (``may_repeat``, the paragraph clusters),
one-paragraph-a-line split, scans for the characters ftfy acts on and count of shared shingles as the
code it stands in for, several times faster (``tests/test_speedups.py`` and ``tests/test_repair.py``
compare the two).
``DEDUPE_PURE_PYTHON=1`` in the environment leaves it unused, to compare or to rule it out.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType


def _load() -> ModuleType | None:
    if os.environ.get("DEDUPE_PURE_PYTHON"):
        return None
    try:
        return importlib.import_module("dedupe._speedups")
    except ImportError:  # not built: no compiler at install time
        return None


native = _load()
