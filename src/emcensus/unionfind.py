"""Disjoint sets: what joins confirmed near-duplicate pairs into groups (`quality.duplicates`) and
images that share a project, session or duplicate group into split components (`reuse.splits`)."""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import Generic, TypeVar

Item = TypeVar("Item", bound=Hashable)


class UnionFind(Generic[Item]):
    """Disjoint sets over the given items (path halving, union by size)."""

    def __init__(self, items: Iterable[Item]):
        self._parent: dict[Item, Item] = {item: item for item in items}
        self._size: dict[Item, int] = dict.fromkeys(self._parent, 1)

    def __contains__(self, item: object) -> bool:
        return item in self._parent

    def find(self, item: Item) -> Item:
        """The representative of `item`'s set."""
        parent = self._parent
        while parent[item] != item:
            parent[item] = parent[parent[item]]
            item = parent[item]
        return item

    def union(self, a: Item, b: Item) -> None:
        """Join the sets of `a` and `b`."""
        a, b = self.find(a), self.find(b)
        if a == b:
            return
        if self._size[a] < self._size[b]:
            a, b = b, a
        self._parent[b] = a
        self._size[a] += self._size[b]

    def smallest(self) -> dict[Item, Item]:
        """Every item → the smallest item of its set: a label that does not depend on the order in
        which the sets were joined."""
        roots = {item: self.find(item) for item in self._parent}
        least: dict[Item, Item] = {}
        for item, root in roots.items():
            if root not in least or item < least[root]:  # type: ignore[operator]
                least[root] = item
        return {item: least[root] for item, root in roots.items()}


__all__ = ["UnionFind"]
