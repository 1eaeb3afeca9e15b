"""Which files the dashboard may read: only those inside the catalog's scan roots.

Images are addressed by catalog id, so a path never comes from the request; still, a file that
resolves outside every root (a symlink inside a root pointing elsewhere, a root moved since the
scan) is refused rather than read.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from emcensus.errors import EmcensusError


class ForbiddenPathError(EmcensusError):
    """A catalogued file resolves outside the catalog's scan roots; the dashboard will not read it."""


def inside_roots(path: str | os.PathLike[str], roots: Iterable[str]) -> Path:
    """The resolved `path` if it lies in one of `roots` (symlinks resolved on both sides), else raise."""
    real = Path(os.path.realpath(path))
    for root in roots:
        real_root = Path(os.path.realpath(root))
        if real == real_root or real_root in real.parents:
            return real
    raise ForbiddenPathError(f"{path} resolves to {real}, outside the catalog's scan roots: not served")


def glob_escape(text: str) -> str:
    """`text` as a literal in an SQLite GLOB pattern (`*`, `?` and `[` are special there)."""
    return "".join(f"[{ch}]" if ch in "*?[" else ch for ch in text)
