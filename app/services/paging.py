"""One page of results: the paging arithmetic, written once for every list in Seatwise."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Page[T]:
    """The items of one page, and where that page sits among all the results."""

    items: Sequence[T]
    page: int
    pages: int
    total: int
    size: int

    @property
    def offset(self) -> int:
        """How many results come before this page."""
        return (self.page - 1) * self.size

    @property
    def shown(self) -> int:
        """Results up to the end of this page."""
        return self.offset + len(self.items)

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


def bounds(total: int, page: int, size: int) -> tuple[int, int]:
    """(page, pages): `page` clamped to 1..pages; an empty result has one empty page."""
    pages = max((total + size - 1) // size, 1)
    return min(max(page, 1), pages), pages


def paginate[T](items: Sequence[T], page: int, size: int) -> Page[T]:
    """The page `page` of `items` (already filtered and sorted)."""
    page, pages = bounds(len(items), page, size)
    start = (page - 1) * size
    return Page(items[start : start + size], page, pages, len(items), size)
