"""Paths in catalog queries. Which files the dashboard may read is `emcensus.access.inside_roots`:
the one policy for the scan and the dashboard alike."""

from __future__ import annotations


def glob_escape(text: str) -> str:
    """`text` as a literal in an SQLite GLOB pattern (`*`, `?` and `[` are special there)."""
    return "".join(f"[{ch}]" if ch in "*?[" else ch for ch in text)
