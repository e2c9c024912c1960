"""Freed memory handed back to the OS between a run's steps and within its largest ones.

glibc keeps the heap pages of freed blocks mapped (numpy's arrays of a few MB come from the heap
once larger ones have been freed), so a step's temporaries would stay in the process's RSS after it.
"""

from __future__ import annotations

import ctypes
import gc
from collections.abc import Callable


def _malloc_trim() -> Callable[[int], int] | None:
    try:
        trim: Callable[[int], int] = ctypes.CDLL(None).malloc_trim  # glibc
        return trim
    except (OSError, AttributeError, TypeError):
        return None


_TRIM = _malloc_trim()


def give_back_memory(collect: bool = True) -> bool:
    """Hand the heap pages a step's freed arrays left behind back to the OS, where the C library can
    (glibc keeps them mapped: about 200 MB of them after the candidates of a million articles). With
    ``collect``, what the step left in reference cycles is freed first: a full collection costs tens
    of milliseconds, worth it where a step's cycles hold megabytes (a cached bound method makes one)."""
    if collect:
        gc.collect()
    return _TRIM is not None and bool(_TRIM(0))
