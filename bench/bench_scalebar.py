"""Published scale bars read from rendered panels (target: >= 95 % right, <= 1 % wrong).

    .venv/bin/python bench/bench_scalebar.py [--panels 200] [--seed 0]

Each panel is a micrograph-like field 100-600 px wide with one bar of either polarity (sometimes on
a box), its label above, below or beside it in DejaVu Sans (regular or bold), 1-2-5 and other
values in nm, µm, mm, pm and Å, RGB or grey, after JPEG q40-90 (`figures.barpanels.make_bar_panel`).
Right: the value read equals the printed one. Wrong: a value that is not. Unread: no value (no bar,
or a label that did not parse). Length: |bar length - drawn| <= 3 px, over panels where a bar was
returned; "right value on a bar measured within 3 px" is what `fov_from_bar` needs.

    .venv/bin/python bench/bench_scalebar.py --documents CORPUS/papers [--truth CORPUS/truth.json]

reads every panel of real documents as `figures match` splits them (a `bench_figures` corpus), and
scores the values against the generator's truth on the split panel that overlaps a true one best
(IoU >= 0.5): every true panel with a bar counts once, one that no split panel overlaps (or whose
page or document gave no figure) as unread. With `--show`, each panel not read right says why: the
read and the bar returned, and where the true bar lies among the candidates and how long it is
measured there (a bar measured wrong leaves a right reading unconfirmed by a matched field of view).

    ... --documents CORPUS/papers --truth CORPUS/truth.json --catalog BASE/census.sqlite

also runs `figures match` over the corpus with that catalog's figures index (as `bench_figures`
left it under BASE) and scores `scale_bar_m` as the product reports it, where the matched image's
field of view may choose between disagreeing reads: on the panels it lists, and over all true
panels with a bar (a panel not listed scored by its read alone), beside the reads' own scores.
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import time
from collections import Counter
from pathlib import Path

import numpy as np

from emcensus.figures.barpanels import DrawnBar, make_bar_panel
from emcensus.figures import scalebar
from emcensus.figures.documents import iter_figures
from emcensus.figures.index import VisualIndex, index_folder
from emcensus.figures import match as match_module
from emcensus.figures.match import Matcher, document_paths, match_documents
from emcensus.figures.ocr import LineRead, model_path
from emcensus.figures.panels import split_panels
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


class _CountedOcr:
    """The scale-bar reader's OCR call, counted: reads per panel are what its time is made of."""

    def __init__(self) -> None:
        self.reads = 0
        self.per_panel: list[int] = []  # reads of each panel read so far
        self._read_line = scalebar.read_line

    def __call__(self, image: np.ndarray) -> LineRead:
        self.reads += 1
        return self._read_line(image)

    def read(self, pixels: np.ndarray) -> ScaleBar | None:
        """`read_scale_bar` on a panel, its reads counted apart."""
        before = self.reads
        found = read_scale_bar(pixels)
        self.per_panel.append(self.reads - before)
        return found

    def summary(self) -> str:
        """Reads per panel: mean, 95th percentile and most, against the cap (`scalebar.MAX_READS`)."""
        panels = max(len(self.per_panel), 1)
        return (f"OCR reads: {sum(self.per_panel) / panels:.2f} per panel ({sum(self.per_panel)} in all), "
                f"95th percentile {np.percentile(self.per_panel or [0], 95):.0f}, most {max(self.per_panel, default=0)}, "
                f"{sum(reads >= scalebar.MAX_READS for reads in self.per_panel)} panels at the cap of {scalebar.MAX_READS}")


def _overlaps(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    return min(a[2], b[2]) > max(a[0], b[0]) and min(a[3], b[3]) >= max(a[1], b[1]) - 1


def _iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    inter = max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _bar_among_candidates(panel: np.ndarray, bar: dict, size_px: list[int] | None) -> str:
    """Where the true bar (its box in the generated panel's pixels, scaled to the split panel) is among
    the candidates whose labels `read_scale_bar` tries, and how long it is measured there: tells a bar
    missed or measured wrong (no matched FOV can confirm a right reading) from a label lost."""
    factor = panel.shape[1] / size_px[0] if size_px else 1.0
    x0, y0, x1, y1 = (v * factor for v in bar["bbox"])
    for rank, (found, _) in enumerate(scalebar._candidates(panel)[:scalebar.MAX_CANDIDATES]):
        if abs((found.y0 + found.y1) / 2 - (y0 + y1) / 2) <= 3 and min(found.x1, x1) > max(found.x0, x0):
            length = found.x1 - found.x0
            return (f"true bar is candidate {rank + 1}, measured {length:.0f} of {x1 - x0:.0f} px "
                    f"({length / (x1 - x0) - 1:+.0%})")
    return "true bar not among the candidates"


Listed = dict[tuple[str, int], list[tuple[tuple[float, ...], float | None]]]


class _ProductReads:
    """`figures match`'s own call of `read_scale_bar` (with the matched fields of view it passes),
    timed and its OCR reads counted: the scale-bar share of a publication's CPU."""

    def __init__(self, counted: _CountedOcr) -> None:
        self.counted, self.panels, self.reads, self.cpu = counted, 0, 0, 0.0
        self._read_scale_bar = match_module.read_scale_bar

    def __call__(self, pixels: np.ndarray, fovs_m: list[float]) -> ScaleBar | None:
        before, cpu_before = self.counted.reads, _cpu_seconds()
        found = self._read_scale_bar(pixels, fovs_m)
        self.panels, self.reads = self.panels + 1, self.reads + self.counted.reads - before
        self.cpu += _cpu_seconds() - cpu_before
        return found

    def summary(self) -> str:
        panels = max(self.panels, 1)
        return (f"figures match's scale-bar reading (matched panels, their fields of view given): {self.panels} panels, "
                f"{self.reads / panels:.2f} OCR reads and {self.cpu / panels * 1000:.0f} ms CPU per panel")


def product_values(truth_path: str, catalog_path: str, counted: _CountedOcr) -> Listed:
    """(document name, page) -> (panel box, scale_bar_m) of every panel `figures match` lists with the
    catalog's figures index, each article's documents matched with its year as the CLI does (in this
    process, so that its scale-bar reads are counted)."""
    timed = match_module.read_scale_bar = _ProductReads(counted)
    matcher = Matcher(VisualIndex.load(index_folder(catalog_path)))
    papers = Path(truth_path).parent / "papers"
    listed: Listed = {}
    for article in json.load(open(truth_path))["articles"]:
        documents = [papers / name for name in article["documents"]]
        for found in match_documents(documents, matcher, year_of=lambda _a, year=article["year"]: year):
            if not found.weak:
                listed.setdefault((Path(found.document).name, found.page), []).append(
                    (found.panel_bbox, found.scale_bar_m))
    print(timed.summary())
    return listed


def _score(value_m: float | None, true_m: float) -> str:
    return "unread" if value_m is None else "right" if abs(value_m / true_m - 1) < 1e-6 else "wrong"


def _score_listed(values: list[float | None], true_m: float) -> str:
    """A true panel that `figures match` lists more than once (a match per archive image, each with
    its own FOV to settle the reads): wrong where any of its values is, right where one is."""
    scores = {_score(value, true_m) for value in values}
    return next(name for name in ("wrong", "right", "unread") if name in scores)


def bench_documents(folder: str, truth_path: str | None, counted: _CountedOcr, show: bool = False,
                    listed: Listed | None = None) -> None:
    """Every panel of the documents read as `figures match` reads it (split, then `read_scale_bar`:
    the value it reports; the matched image's FOV only adds a note). With a truth, every true panel
    that has a bar is counted once: scored on the split panel that overlaps it best (IoU >= 0.5), or
    counted as a splitter miss when none does (not left out of the denominator)."""
    truth: dict[tuple[str, int], list[tuple[str, list[float], dict | None, list[int] | None]]] = {}
    if truth_path:
        for article in json.load(open(truth_path))["articles"]:
            for figure in article["figures"]:
                for panel in figure["panels"]:
                    bar = (panel.get("geometry") or {}).get("scale_bar")
                    truth.setdefault((figure["document"], figure["page"]), []).append(
                        (f"fig {figure['number']}{panel['letter']} ({panel['kind']}"
                         f"{', vector' if figure.get('vector') else ''})", panel["bbox_pt"], bar,
                         (panel.get("geometry") or {}).get("size_px")))
    outcome: Counter[str] = Counter()
    product: Counter[str] = Counter()
    product_listed: Counter[str] = Counter()
    by_kind: dict[str, Counter[str]] = {}
    failures: list[str] = []
    panels, elapsed, cpu = 0, 0.0, 0.0
    seen: set[str] = set()
    for path in document_paths([folder]):
        read: list[tuple[tuple[float, ...], ScaleBar | None, int, np.ndarray]] = []
        for figure in iter_figures(path):
            for box in split_panels(figure.pixels):
                panel = figure.pixels[box[1]:box[3], box[0]:box[2]]
                started, cpu_started = time.perf_counter(), _cpu_seconds()
                found = counted.read(panel)
                elapsed += time.perf_counter() - started
                cpu += _cpu_seconds() - cpu_started
                panels += 1
                read.append((figure.region(box), found, figure.page, panel))
        claimed: set[int] = set()
        seen.add(path.name)
        # every page the truth has panels on: a page no figure was taken from holds splitter misses
        for page in sorted(page for document, page in truth if document == path.name):
            for name, bbox, bar, panel_size in truth[(path.name, page)]:
                ious = [(_iou(bbox, region), i) for i, (region, _, on, _) in enumerate(read) if on == page]
                best, index = max(ious, default=(0.0, -1))
                kind = path.suffix.lower()
                if best >= 0.5:
                    claimed.add(index)
                if bar is None:
                    if best >= 0.5 and read[index][1] and read[index][1].value_m:
                        outcome["no bar, a value read"] += 1
                        failures.append(f"{path.name} p{page} {name}: no bar, read {read[index][1].label!r}")
                    continue
                true = bar["value_m"]
                if best < 0.5:
                    result, why = "unread: no split panel overlaps it (IoU >= 0.5)", f"best IoU {best:.2f}"
                else:
                    found = read[index][1]
                    if found is None or found.value_m is None:
                        result = "unread (no bar with a label)" if found is None else "unread (label not parsed)"
                        why = "" if found is None else f"bar {found.bar_px:.0f} px, note {found.note!r}; "
                    else:
                        right = abs(found.value_m / true - 1) < 1e-6
                        result = "right" if right else "wrong"
                        why = f"read {found.label!r}, bar {found.bar_px:.0f} px; "
                    why += "" if result == "right" else _bar_among_candidates(read[index][3], bar, panel_size)
                outcome[result] += 1
                by_kind.setdefault(kind, Counter())[result] += 1
                if listed is not None:
                    raw = read[index][1].value_m if best >= 0.5 and read[index][1] else None
                    shown = [value for box, value in listed.get((path.name, page), []) if _iou(bbox, box) >= 0.5]
                    score = _score_listed(shown, true) if shown else _score(raw, true)
                    product[score] += 1
                    if shown:
                        product_listed[score] += 1
                        if score != result.split(" ")[0].rstrip(":"):
                            failures.append(f"{path.name} p{page} {name}: figures match reports "
                                            f"{shown!r} ({score}), the read alone {result}")
                if result != "right":
                    failures.append(f"{path.name} p{page} {name}: true {bar['label']!r} {bar['bar_px']:.0f} px"
                                    f"{' (mislabelled)' if bar.get('mislabelled') else ''} -> {result}: {why}")
        for i, (_, found, _, _) in enumerate(read):
            if i not in claimed:
                outcome["split panel with no true one: " + ("read" if found and found.value_m else "unread")] += 1
    for (document, page), panels_there in sorted(truth.items()):
        for name, _, bar, _ in panels_there:
            if document not in seen and bar is not None:  # a document of the truth not read at all
                outcome["unread: its document not read"] += 1
                product["unread"] += 1
                failures.append(f"{document} p{page} {name}: true {bar['label']!r}: document not read")
    print(f"document panels: {panels} from {folder}")
    with_bar = sum(count for name, count in outcome.items() if name.split(" ")[0].rstrip(":") in ("right", "wrong", "unread"))
    for name, count in sorted(outcome.items()):
        share = f" ({count / with_bar:.1%} of {with_bar} true panels with a bar)" if with_bar and name.split(" ")[0].rstrip(":") in ("right", "wrong", "unread") else ""
        print(f"  {name}: {count}{share}")
    for kind, counts in sorted(by_kind.items()):
        print(f"  {kind}: {counts['right']}/{sum(counts.values())} right, {counts['wrong']} wrong")
    for title, counts in (("figures match, panels it lists", product_listed),
                          ("figures match over all true panels with a bar (not listed: the read)", product)):
        if listed is not None:
            total = sum(counts.values())
            print(f"  {title}: " + ", ".join(f"{counts[name]} {name} ({counts[name] / max(total, 1):.1%})"
                                              for name in ("right", "wrong", "unread")) + f" of {total}")
    if show:
        print("\n".join(failures))
    print(f"time: {elapsed / panels * 1000:.0f} ms wall, {cpu / panels * 1000:.0f} ms CPU per panel")
    print(counted.summary())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--panels", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--show", action="store_true", help="print every panel not read right")
    parser.add_argument("--documents", help="read every panel of the documents in this folder instead")
    parser.add_argument("--truth", help="with --documents: a bench_figures corpus's truth.json to score against")
    parser.add_argument("--catalog", help="with --truth: the corpus's census.sqlite (figures index built): also "
                                          "score scale_bar_m as `figures match` reports it")
    args = parser.parse_args()
    if model_path() is None:
        raise SystemExit("rapidocr (with its recognition model) is not installed: labels cannot be read")
    counted = scalebar.read_line = _CountedOcr()
    if args.documents:
        listed = product_values(args.truth, args.catalog, counted) if args.catalog and args.truth else None
        bench_documents(args.documents, args.truth, counted, args.show, listed)
        return
    rng = np.random.default_rng(args.seed)
    outcome: Counter[str] = Counter()
    by_width: dict[str, Counter[str]] = {}
    length_ok = length_total = right_and_measured = 0
    elapsed = cpu = 0.0
    failures: Counter[str] = Counter()
    for number in range(args.panels):
        pixels, truth = make_bar_panel(rng)
        started, cpu_started = time.perf_counter(), _cpu_seconds()
        found = counted.read(pixels)
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
    print(counted.summary())


if __name__ == "__main__":
    main()
