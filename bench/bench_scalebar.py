"""Published scale bars read from rendered panels (target: >= 95 % right, <= 1 % wrong).

    .venv/bin/python bench/bench_scalebar.py [--panels 200] [--seed 0]

Each panel is a micrograph-like field 100-600 px wide with one bar of either polarity (sometimes on
a box), its label above, below or beside it in DejaVu Sans (regular or bold), 1-2-5 and other
values in nm, µm, mm, pm and Å, RGB or grey, after JPEG q40-90 (`figures.barpanels.make_bar_panel`).
Right: the value read equals the printed one. Wrong: a value that is not. Unread: no value (no bar,
or a label that did not parse). Length: |bar length - drawn| <= 3 px, over panels where a bar was
returned; "right value on a bar measured within 3 px" is what `fov_from_bar` needs.
"""

from __future__ import annotations

import argparse
import re
import resource
import time
from collections import Counter

import numpy as np

from emcensus.figures.barpanels import DrawnBar, make_bar_panel
from emcensus.figures.ocr import model_path
from emcensus.figures.scalebar import ScaleBar, read_scale_bar


def failure_class(found: ScaleBar | None, truth: DrawnBar, result: str) -> str:
    """Why a panel was not read right: no bar, another bar, the bar's label unread (by note), wrong."""
    if found is None:
        return "unread: no bar with a label returned"
    if not _overlaps(found.bbox, truth.bbox):
        return f"{result}: another bar or line returned"
    if result == "wrong":
        return "wrong: the drawn bar, label misread"
    quoted_out = re.sub(r"'[^']*'", "…", found.note or "no note")
    return "unread: drawn bar, " + re.sub(r"\d+", "N", quoted_out)


def _cpu_seconds() -> float:
    """CPU time of this process and of its finished children."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _overlaps(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    return min(a[2], b[2]) > max(a[0], b[0]) and min(a[3], b[3]) >= max(a[1], b[1]) - 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--panels", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--show", action="store_true", help="print every panel not read right")
    args = parser.parse_args()
    if model_path() is None:
        raise SystemExit("rapidocr (with its recognition model) is not installed: labels cannot be read")
    rng = np.random.default_rng(args.seed)
    outcome: Counter[str] = Counter()
    by_width: dict[str, Counter[str]] = {}
    length_ok = length_total = right_and_measured = 0
    elapsed = cpu = 0.0
    failures: Counter[str] = Counter()
    for number in range(args.panels):
        pixels, truth = make_bar_panel(rng)
        started, cpu_started = time.perf_counter(), _cpu_seconds()
        found = read_scale_bar(pixels)
        elapsed += time.perf_counter() - started
        cpu += _cpu_seconds() - cpu_started
        if found is None or found.value_m is None:
            result = "unread"
        else:
            result = "right" if abs(found.value_m / truth.value_m - 1) < 1e-6 else "wrong"
        if found is not None:
            length_total += 1
            length_ok += abs(found.bar_px - truth.bar_px) <= 3
            right_and_measured += result == "right" and abs(found.bar_px - truth.bar_px) <= 3
        outcome[result] += 1
        if result != "right":
            failures[failure_class(found, truth, result)] += 1
        band = "100-199 px" if pixels.shape[1] < 200 else "200-399 px" if pixels.shape[1] < 400 else "400-600 px"
        by_width.setdefault(band, Counter())[result] += 1
        if args.show and result != "right":
            print(f"#{number:<4} {result:7} {pixels.shape[1]}x{pixels.shape[0]} drawn {truth.label!r} {truth.bar_px} px "
                  f"{'white' if truth.white else 'black'} -> {found}")
    n = args.panels
    print(f"panels: {n} (seed {args.seed})")
    print(f"right : {outcome['right']:4} ({outcome['right'] / n:6.1%})   target >= 95 %")
    print(f"wrong : {outcome['wrong']:4} ({outcome['wrong'] / n:6.1%})   target <= 1 %")
    print(f"unread: {outcome['unread']:4} ({outcome['unread'] / n:6.1%})")
    print(f"bar length within 3 px: {length_ok}/{length_total} of the bars returned")
    print(f"right value on a bar measured within 3 px (what a field of view from the bar needs): "
          f"{right_and_measured} ({right_and_measured / n:.1%})")
    for name, count in failures.most_common():
        print(f"  {name}: {count}")
    for band in sorted(by_width):
        counts = by_width[band]
        total = sum(counts.values())
        print(f"  {band}: {counts['right']}/{total} right, {counts['wrong']} wrong")
    print(f"time: {elapsed / n * 1000:.0f} ms wall, {cpu / n * 1000:.0f} ms CPU per panel "
          "(OCR included; wall grows with the machine's load)")


if __name__ == "__main__":
    main()
