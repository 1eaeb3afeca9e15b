"""The one union-find: near-duplicate groups and split components are both built on it."""

from __future__ import annotations

from emcensus.unionfind import UnionFind


def test_sets_are_labelled_by_their_smallest_item_whatever_the_order_of_unions() -> None:
    for pairs in ([("c", "d"), ("d", "a"), ("x", "y")], [("x", "y"), ("a", "d"), ("d", "c")]):
        forest = UnionFind(["d", "c", "b", "a", "y", "x"])
        for a, b in pairs:
            forest.union(a, b)
        assert forest.smallest() == {"a": "a", "c": "a", "d": "a", "b": "b", "x": "x", "y": "x"}
        assert forest.find("c") == forest.find("a") != forest.find("x")
    assert "a" in forest and "z" not in forest
