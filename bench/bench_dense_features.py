"""CPU of `features.extract` per archive image, as the index and the matcher's dense features call it (issue 8).

The matcher extracts a candidate's dense features from its file at the file's size and at twice it
(`match.DENSE_FEATURES`: 2,500 and 8,000 keypoints, chosen among four times as many), the index 400 at
the prepared size; dense extraction was the largest part of the long publication's CPU at 150 k. This
times each step of `extract` on a corpus's archive images (read, prepare, ORB detect, `_spread`, ORB
compute) in this process on one OpenCV thread, and with `--base WORKTREE` times the `features.py` of
another checkout (a base commit's) on the same images, interleaved image by image, and checks that both
give the same keypoints, in the same order, and the same descriptors: a before/after in one run.

    .venv/bin/python bench/bench_dense_features.py CORPUS [--images 24] [--base WORKTREE]
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import cv2
import numpy as np

from emcensus.figures import features
from emcensus.figures.index import PIXEL_SUFFIXES, read_pixels
from emcensus.figures.match import DENSE_FEATURES, DENSE_SIDE

STEPS = ("prepare", "detect", "spread", "compute", "extract")


def _load(path: Path) -> ModuleType:
    """A `features.py` of another checkout, as a module of its own (its imports are this checkout's)."""
    spec = importlib.util.spec_from_file_location("base_features", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def _calls(grey: np.ndarray) -> dict[str, dict[str, Any]]:
    """`extract`'s arguments as the index and the matcher's dense features pass them for this image."""
    calls = {"index 400": {"n_features": features.ARCHIVE_FEATURES}}
    for upsample, wanted in DENSE_FEATURES.items():
        side = min(DENSE_SIDE, upsample * max(grey.shape))
        calls[f"dense {upsample}x {wanted}"] = {"n_features": wanted, "min_side": side,
                                                "max_side": max(side, features.MAX_SIDE)}
    return calls


def _timed(spent: dict[str, float], step: str, work: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    start = time.process_time()
    value = work(*args, **kwargs)
    spent[step] += time.process_time() - start
    return value


def _steps(module: ModuleType, grey: np.ndarray, spent: dict[str, float], n_features: int,
           **sides: int) -> None:
    """`extract`'s steps one by one, as it runs them (its own `detector`; a checkout older than
    `features.detector` is timed with this checkout's)."""
    image, _ = _timed(spent, "prepare", module.prepare, grey, **sides)
    orb = getattr(module, "detector", features.detector)(n_features)
    detected = _timed(spent, "detect", orb.detect, image, None)
    kept = _timed(spent, "spread", module._spread, detected, n_features, image.shape)  # noqa: SLF001
    _timed(spent, "compute", orb.compute, image, kept)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", type=Path, help="a bench corpus (its archive/ folder is read)")
    parser.add_argument("--images", type=int, default=24, help="archive images, spread over the sorted list")
    parser.add_argument("--base", type=Path, default=None, help="a checkout whose features.py is compared")
    args = parser.parse_args()
    cv2.setNumThreads(1)
    files = sorted(p for p in (args.corpus / "archive").rglob("*") if p.suffix.lower() in PIXEL_SUFFIXES)
    files = files[::max(1, len(files) // args.images)][:args.images]
    versions = {"this": features}
    if args.base is not None:
        versions = {"base": _load(args.base / "src/emcensus/figures/features.py"), **versions}
    spent: dict[tuple[str, str], dict[str, float]] = defaultdict(lambda: dict.fromkeys(STEPS, 0.0))
    read, different = 0.0, []
    for path in files:
        start = time.process_time()
        grey = features.to_grey8(read_pixels(str(path)))
        read += time.process_time() - start
        for call, kwargs in _calls(grey).items():
            results = {}
            for name, module in versions.items():
                _steps(module, grey, spent[name, call], **kwargs)
                results[name] = _timed(spent[name, call], "extract", module.extract, grey, **kwargs)
            first = next(iter(results.values()))
            if any(not (np.array_equal(r.points, first.points) and np.array_equal(r.descriptors, first.descriptors))
                   for r in results.values()):
                different.append(f"{path.name} {call}")
    print(f"{len(files)} archive images of {args.corpus}, {grey.shape[1]}x{grey.shape[0]} the last; "
          f"read and grey {1000 * read / len(files):.1f} ms CPU each; one OpenCV thread")
    for (name, call), steps in spent.items():
        print(f"{call:>18} {name:>4}: " + ", ".join(f"{step} {1000 * s / len(files):.1f}" for step, s in steps.items())
              + " ms CPU per image")
    if len(versions) > 1:
        print(f"identical keypoints, order and descriptors: {len(files) * len(_calls(grey)) - len(different)} of "
              f"{len(files) * len(_calls(grey))} extractions" + (f"; different: {', '.join(different)}" if different else ""))


if __name__ == "__main__":
    main()
