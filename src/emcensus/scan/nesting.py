"""Nested roots: a file belongs to the innermost registered root that holds it.

A root's walk leaves out the folders that are other registered roots inside it (whether or not the
same command scans them): they are walked as their own roots, and what the catalog holds under
them is never marked missing by the outer walk. Roots are compared resolved (`access.is_under`, as
the dashboard's `inside_roots`): a root given by another spelling of a registered root's folder, or
of a folder inside one, takes that root's spelling, so that a file has one path in the catalog.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from emcensus.access import is_under


def registered_spelling(path: str, registered: Iterable[str]) -> str:
    """`path` as the innermost registered root holding it spells it (a symlink spelling of that root's
    folder, or of a folder below it, a symlink inside that root included: the root's walk never
    follows it, it goes to the folder the link points to); `path` itself when none holds it. Paths
    are resolved by `os.path.realpath`: a bind mount of a root's folder is another folder to it."""
    real = os.path.realpath(path)
    holders = [(len(real_root), root, real_root) for root in registered
               if is_under(real, real_root := os.path.realpath(root))]
    if not holders:
        return path
    _, root, real_root = max(holders)
    return root if real == real_root else os.path.join(root, os.path.relpath(real, real_root))


def nested_roots(root: str, registered: Iterable[str]) -> frozenset[str]:
    """The registered roots strictly inside `root`, spelled as its walk meets them, the outermost of
    each nest only (the walk never reaches those below them): what the walk of `root` leaves out."""
    real = os.path.realpath(root)
    inside = {os.path.join(root, os.path.relpath(real_other, real)) for other in registered
              if (real_other := os.path.realpath(other)) != real and is_under(real_other, real)}
    return frozenset(path for path in inside if not any(is_under(path, other) and path != other for other in inside))


def enclosing_roots(root: str, registered: Iterable[str]) -> list[str]:
    """The registered roots that hold `root` strictly inside them (the rows they may still hold under it
    are its own: `Catalog.take_over`)."""
    real = os.path.realpath(root)
    return [other for other in registered
            if (real_other := os.path.realpath(other)) != real and is_under(real, real_other)]


def outside(paths: Iterable[str], nested: frozenset[str]) -> list[str]:
    """`paths` not under any of the `nested` roots (those belong to the inner roots' own walks)."""
    if not nested:
        return list(paths)
    prefixes = tuple(os.path.join(root, "") for root in nested)
    return [path for path in paths if not path.startswith(prefixes)]


__all__ = ["enclosing_roots", "nested_roots", "outside", "registered_spelling"]
