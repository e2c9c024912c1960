"""Read-only sequences that hold their items compactly (in a file, or packed in bytes) and make
an item only when it is asked for: a run's listing and its article records."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from typing import TypeVar, overload

T = TypeVar("T")


class Packed(Sequence[T]):
    """A sequence by position: a subclass gives ``__len__`` and ``_item(i)`` for ``0 <= i < len``;
    this gives indexing from the end, slices (as lists) and ``IndexError``."""

    @abstractmethod
    def _item(self, i: int) -> T: ...

    @overload
    def __getitem__(self, i: int) -> T: ...

    @overload
    def __getitem__(self, i: slice) -> list[T]: ...

    def __getitem__(self, i: int | slice) -> T | list[T]:
        if isinstance(i, slice):
            return [self._item(k) for k in range(*i.indices(len(self)))]
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(i)
        return self._item(i)
