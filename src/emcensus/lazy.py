"""Public names of a package imported on first use (PEP 562): a command pays for the modules it
uses, not for every reader, numpy and pyarrow that a package's names could reach."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import Any


def lazy_names(package: str, sources: dict[str, str]) -> Callable[[str], Any]:
    """The module `__getattr__` of `package`: `sources` maps each public name to the module that
    defines it; the first use imports that module and keeps the name in the package."""
    namespace = sys.modules[package].__dict__

    def __getattr__(name: str) -> Any:
        if name not in sources:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = namespace[name] = getattr(importlib.import_module(sources[name]), name)
        return value

    return __getattr__
