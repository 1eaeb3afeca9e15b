"""Synthetic facility archives with ground truth, and a corpus of broken files, for tests and demos.

Names are imported lazily so that `python -m emcensus.demo.generate` runs the module only once.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "PAPER_IMAGES": "emcensus.demo.generate",
    "generate_archive": "emcensus.demo.generate",
    "paper_scale": "emcensus.demo.generate",
    "plan_archive": "emcensus.demo.generate",
    "Manifest": "emcensus.demo.manifest",
    "ManifestFile": "emcensus.demo.manifest",
    "OrphanSidecar": "emcensus.demo.manifest",
    "make_bad_corpus": "emcensus.demo.badcorpus",
    "permissions_enforced": "emcensus.demo.badcorpus",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'emcensus.demo' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
