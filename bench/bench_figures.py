"""Finding published images (issue 8), measured in one run on a generated figure corpus.

Generates a corpus (`emcensus.figures.synth`: archive with repeats and magnification series,
articles with authored panels, SI, distractors, a vector figure, a thesis .docx, a talk .pptx, a
slide screenshot), scans it, builds the visual index, matches every article and prints: precision and recall of
(article, image) pairs against the truth, repeat/series confusions (a match that is another member
of a true source's group), the same per panel (two repeats side by side, each matched to the other's
panel, keep every pair right), ms per image indexed (wall, and per core), s per article matched, the
index's size on disk, CPU per panel matched and per panel on which nothing verified (plots, distractors,
misses: every fallback step runs on those), every miss and false match with what the author did to its
panels (crop fraction, scale, JPEG, edits), so that a failing case can be named, and whether Table 1
from the accepted matches (`figures accept` on a copy of the catalog) equals Table 1 from the truth ledger.

    .venv/bin/python bench/bench_figures.py [--articles 12] [--images 300] [--workers 2] [--size 640x480]
                                            [--keep DIR] [--compare-deep N] [--long N] [--steps OUT.json]

`--keep DIR`: generate, scan and index into DIR the first time, reuse them afterwards (to measure
the matcher alone after a change to it; the index is rebuilt when the features change).
`--compare-deep N`: match first with `Matcher(deep_candidates=N)` (4 = `DENSE_CANDIDATES`: no
deeper dense check) and print its time and P/R, then the default matcher: a before/after in one run.
`--long N`: N long publications (`synth.LONG_PANELS` panels, an article with its SI) added to a new
corpus, each one's CPU printed apart; the archive and the other publications stay those of the seed.
`--steps OUT.json` (with `--workers 0`): every panel's matcher steps, with the evidence each had and its
CPU, written to OUT.json and summed up (`bench/match_steps.py`).

The index at 150 k images (memory, recall and matching time against it): `bench/bench_index_scale.py`.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import tempfile
import time
from collections.abc import Sequence
from contextlib import ExitStack, nullcontext
from pathlib import Path

from match_steps import StepTrace, traced_documents
from match_steps import table as step_table
from emcensus.analysis.publications import article_id, read_ledger
from emcensus.catalog import Catalog
from emcensus.figures.index import VisualIndex, index_folder, update_index
from emcensus.figures.match import FoundPanel, Matcher, PanelResult, match_documents
from emcensus.figures.synth import TRUTH_NAME, CorpusTruth, make_figure_corpus
from emcensus.report.build import catalog_table1
from emcensus.scan import RootSpec, scan


class TimedMatcher(Matcher):
    """The product's matcher, noting the CPU seconds of each panel and whether anything verified on it
    (when it matches in this process: `--workers 0`; worker processes note theirs in their own copy)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.panels: list[tuple[float, bool]] = []

    def match_panel(self, pixels, *, not_after_year=None) -> PanelResult:
        start = time.process_time()
        result = super().match_panel(pixels, not_after_year=not_after_year)
        self.panels.append((time.process_time() - start, bool(result.matches)))
        return result


def _cpu_with_children() -> float:
    """CPU seconds of this process and its finished children (the index's worker processes)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _panel_notes(truth: CorpusTruth, article: str, image: str) -> list[str]:
    """What the author did to each panel of `article` that shows `image` (absolute path)."""
    by_path = {str(truth.image_path(img.path)): img for img in truth.images}
    notes = []
    for a, figure, panel in truth.panels():
        if article_id(a.article) != article:
            continue
        sources = [panel.source] if panel.source and not panel.montage else [m.source for m in panel.montage]
        if not any(str(truth.image_path(s)) == image for s in sources if s):
            continue
        g = panel.geometry
        img = by_path[image]
        where = f"{figure.document} fig {figure.number}{panel.letter}{' vector' if figure.vector else ''}"
        if g is None:
            notes.append(f"{where}: {panel.kind}")
            continue
        crop = (g.crop_box_px[2] - g.crop_box_px[0]) / img.width
        notes.append(f"{where}: {panel.kind} {img.relation}/{img.texture}, panel {g.size_px[0]}x{g.size_px[1]} px, "
                     f"crop {crop:.0%} of width, scale {g.scale:.2f}, rot {g.rotation_deg:.1f}, flip '{g.flip}', "
                     f"jpeg {g.jpeg_quality}, edits {', '.join(g.edits) or '-'}")
    return notes


def _match_all(truth: CorpusTruth, matcher: Matcher, workers: int = 0
               ) -> tuple[dict[tuple[str, str], float], list[FoundPanel], float, float, list[tuple[float, float]]]:
    """(article, image) -> best score over every publication of the corpus, the matches themselves;
    wall and CPU seconds (of the `workers` matching processes too: `match_documents` ends its pool
    with each publication); the (CPU, wall) seconds of each publication."""
    papers = Path(truth.papers)
    found: dict[tuple[str, str], float] = {}
    panels: list[FoundPanel] = []
    per_publication: list[tuple[float, float]] = []
    t0, c0 = time.perf_counter(), _cpu_with_children()
    for article in truth.articles:
        documents = [papers / name for name in article.documents]
        c1, t1 = _cpu_with_children(), time.perf_counter()
        for f in match_documents(documents, matcher, year_of=lambda _a, y=article.year: y, workers=workers):
            key = (f.article, f.match.path)
            found[key] = max(found.get(key, 0.0), f.match.score)
            panels.append(f)
        per_publication.append((_cpu_with_children() - c1, time.perf_counter() - t1))
    return found, panels, time.perf_counter() - t0, _cpu_with_children() - c0, per_publication


def _long_publications(truth: CorpusTruth, per_publication: list[tuple[float, float]]) -> list[str]:
    """A line for each long publication (`--long`): its pages and panels, its wall and CPU seconds against
    issue 8's target (a 10-page article with its SI in <= 10 s) and CPU per panel."""
    lines = []
    for article, (cpu, wall) in zip(truth.articles, per_publication):
        if article.long:
            pages = len({(f.document, f.page) for f in article.figures}) + len(article.documents)  # + title pages
            panels = sum(len(f.panels) for f in article.figures)
            lines.append(f"    long publication {article.stem} ({pages} pages, {panels} panels): {wall:.2f} s wall, "
                         f"{cpu:.2f} s CPU (target <= 10), {cpu / max(panels, 1):.2f} s CPU per panel")
    return lines


def _table1_accepted_vs_truth(catalog_path: Path, truth: CorpusTruth, panels: list[FoundPanel],
                              work: Path) -> tuple[dict, dict]:
    """Table 1 after storing and accepting every match (`figures match` + `figures accept`) and Table 1
    after importing the truth ledger (`pubs import`), each on its own copy of the scanned catalog."""
    tables = []
    for name in ("accepted", "truth"):
        copy = work / f"{name}.sqlite"
        for suffix in ("", "-wal"):  # the catalog as its last writer left it
            if Path(f"{catalog_path}{suffix}").exists():
                shutil.copyfile(f"{catalog_path}{suffix}", f"{copy}{suffix}")
        with Catalog(copy) as catalog:
            if name == "accepted":
                catalog.save_figure_matches(f.proposed() for f in panels if not f.weak)
                catalog.accept_figure_matches()
            else:
                catalog.import_ledger(read_ledger(truth.write_ledger(work / "truth.csv")))
            tables.append(catalog_table1(catalog).to_dict())
    return tables[0], tables[1]


def _table1_differences(accepted: dict, expected: dict) -> list[str]:
    """Table 1 cells (block, column, field) that differ, as 'block/column field: accepted vs truth'."""
    cells = {}
    for which, table in (("accepted", accepted), ("truth", expected)):
        for column in table.get("columns", []):
            for key, value in column.items():
                cells.setdefault((column.get("block"), column.get("column"), key), {})[which] = value
    return [f"{block}/{column} {key}: {both.get('accepted')} vs {both.get('truth')}"
            for (block, column, key), both in sorted(cells.items(), key=str) if both.get("accepted") != both.get("truth")] \
        + [f"{key}: {accepted.get(key)} vs {expected.get(key)}" for key in sorted(set(accepted) | set(expected))
           if key != "columns" and accepted.get(key) != expected.get(key)]


def _scores(truth: CorpusTruth, found: dict[tuple[str, str], float]) -> tuple[float, float, set, set]:
    """Precision, recall, the pairs expected and the repeat/series confusions among those found."""
    expected = {(article_id(a), p) for a, p in truth.pairs()}
    true_positive = set(found) & expected
    group_of = {str(truth.image_path(img.path)): img.group for img in truth.images}
    true_groups = {(a, group_of[p]) for a, p in expected}
    confusions = {(a, p) for a, p in set(found) - expected if (a, group_of.get(p)) in true_groups}
    precision = len(true_positive) / len(found) if found else float("nan")
    recall = len(true_positive) / len(expected) if expected else float("nan")
    return precision, recall, expected, confusions


def _inside(inner: Sequence[float], outer: Sequence[float]) -> float:
    """The fraction of box `inner` (x0, y0, x1, y1) that lies in box `outer` (a panel the splitter cut in
    two, along a bright band of its micrograph, is each half inside the author's panel)."""
    w = max(0.0, min(inner[2], outer[2]) - max(inner[0], outer[0]))
    h = max(0.0, min(inner[3], outer[3]) - max(inner[1], outer[1]))
    area = (inner[2] - inner[0]) * (inner[3] - inner[1])
    return w * h / area if area > 0 else 0.0


def _per_panel(truth: CorpusTruth, panels: list[FoundPanel]) -> dict[str, list[str]]:
    """Each panel's matches against its own sources (pairs hide a swap: two repeats side by side in one
    figure, each matched to the other's panel, give the right pairs). A match counts for the author's panel
    holding at least half of its box. Kinds: 'right' (every source of the panel matched, nothing else),
    'partial' (some tiles of a stitched panel, nothing else), 'missed' (a panel with a source, no match),
    'confused' (a match that is another member of a source's group: a repeat or series member), 'wrong'
    (any other image), 'extra' (a match on a panel with no archive source: plot, scheme, distractor), each
    a list of 'document fig Na' labels; 'unplaced' (a match whose box no author panel holds half of: a box
    over several panels, or none), 'document page N image' labels."""
    group_of = {str(truth.image_path(img.path)): img.group for img in truth.images}
    found: dict[int, set[str]] = {}
    located = truth.panels()
    unplaced: list[str] = []
    for match in (f for f in panels if not f.weak):
        same_page = [(i, _inside(match.panel_bbox, p.bbox_pt)) for i, (_, f, p) in enumerate(located)
                     if f.document == Path(match.document).name and f.page == match.page]
        best = max(same_page, key=lambda item: item[1], default=(None, 0.0))
        if best[0] is not None and best[1] >= 0.5:
            found.setdefault(best[0], set()).add(match.match.path)
        else:
            unplaced.append(f"{Path(match.document).name} page {match.page} {Path(match.match.path).name}")
    kinds: dict[str, list[str]] = {"right": [], "partial": [], "missed": [], "confused": [], "wrong": [],
                                   "extra": [], "unplaced": unplaced}
    for i, (_, figure, panel) in enumerate(located):
        sources = {str(truth.image_path(s)) for s in ([panel.source] if panel.source and not panel.montage
                                                       else [part.source for part in panel.montage]) if s}
        label = f"{figure.document} fig {figure.number}{panel.letter}"
        shown = found.get(i, set())
        if not sources:
            if shown:
                kinds["extra"].append(label)
            continue
        groups = {group_of[s] for s in sources}
        if not shown:
            kinds["missed"].append(label)
        elif shown - sources:
            other = shown - sources
            kinds["confused" if all(group_of.get(p) in groups for p in other) else "wrong"].append(
                f"{label} ({', '.join(Path(p).name for p in sorted(other))})")
        elif shown < sources:
            kinds["partial"].append(f"{label} ({', '.join(Path(p).name for p in sorted(sources - shown))} not)")
        else:
            kinds["right"].append(label)
    return kinds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=12)
    parser.add_argument("--images", type=int, default=300)
    parser.add_argument("--workers", type=int, default=2,
                        help="processes generating, scanning, indexing and matching (0: matching in this process)")
    parser.add_argument("--size", default="640x480", help="archive image area, WxH")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", type=Path, default=None, help="generate/scan/index here once, reuse afterwards")
    parser.add_argument("--quiet", action="store_true", help="no per-case lines")
    parser.add_argument("--long", type=int, default=0,
                        help="long publications (an article of about 10 pages with its SI) in a new corpus")
    parser.add_argument("--steps", type=Path, default=None, metavar="OUT.json",
                        help="with --workers 0: each panel's matcher steps, evidence and CPU (bench/match_steps.py)")
    parser.add_argument("--compare-deep", type=int, default=None, metavar="N",
                        help="also match with N deep candidates first (4: the matcher before the deeper dense check)")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    with ExitStack() as stack:
        base = args.keep or Path(stack.enter_context(tempfile.TemporaryDirectory()))
        base.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        truth_file = base / "corpus" / TRUTH_NAME
        if truth_file.exists():
            truth = CorpusTruth.load(truth_file)
            print(f"corpus reused from {base}")
            if args.long != sum(a.long for a in truth.articles):
                print(f"    --long {args.long} not applied: the corpus has {sum(a.long for a in truth.articles)} "
                      "long publication(s) (made once, reused as it is)")
        else:
            truth = make_figure_corpus(base / "corpus", archive=base / "archive", articles=args.articles,
                                       images=args.images, seed=args.seed, size=(width, height),
                                       workers=args.workers, pictures=True, long_articles=args.long)
        print(f"corpus: {len(truth.images):,} archive images {truth.images[0].width}x{truth.images[0].height}, "
              f"{len(truth.articles)} publications, {len(truth.panels())} panels "
              f"({time.perf_counter() - t0:.1f} s to generate or load)")
        catalog_path = base / "census.sqlite"
        with Catalog(catalog_path) as catalog:
            if not catalog.roots():
                # one root per instrument folder, named by it, as a facility declares them (an SEM root
                # over TEM frames would give them the SEM's technique)
                scan(catalog, [RootSpec(str(folder), folder.name) for folder in sorted((base / "archive").iterdir())],
                     workers=args.workers)
            t0, c0 = time.perf_counter(), _cpu_with_children()
            summary = update_index(catalog, catalog_path, workers=args.workers)
            index_s, index_cpu = time.perf_counter() - t0, _cpu_with_children() - c0
            t0 = time.perf_counter()
            again = update_index(catalog, catalog_path, workers=args.workers)
            rerun_s = time.perf_counter() - t0
        print(summary.paragraph())
        if summary.added:
            per_image = index_s / summary.added * 1000
            print(f"index: {per_image:.1f} ms per image wall on {args.workers} worker(s), "
                  f"{per_image * max(args.workers, 1):.1f} ms per image per core (target <= 20), "
                  f"{index_cpu / summary.added * 1000:.1f} ms CPU per image (workers included); "
                  f"rerun with nothing changed {rerun_s:.2f} s ({again.added} re-read)")
        folder = index_folder(catalog_path)
        size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
        print(f"index on disk: {size / 1e6:.1f} MB ({size / max(summary.images, 1) / 1e3:.1f} kB per image)")

        index = VisualIndex.load(folder)
        if args.compare_deep is not None:  # the same corpus and index, the other matcher first
            other, _, other_s, other_cpu, _ = _match_all(truth, Matcher(index, deep_candidates=args.compare_deep),
                                                         args.workers)
            p, r, _, _ = _scores(truth, other)
            print(f"matcher with deep_candidates={args.compare_deep}: {other_s / len(truth.articles):.2f} s wall, "
                  f"{other_cpu / len(truth.articles):.2f} s CPU per publication, precision {p:.3f}, recall {r:.3f}")
        matcher = TimedMatcher(index)
        trace = StepTrace()
        with traced_documents(trace) if args.steps else nullcontext():
            found, panels, match_s, match_cpu, per_publication = _match_all(truth, matcher, args.workers)
        if args.steps:
            args.steps.write_text(json.dumps(trace.panels))
            print(step_table(trace.panels))
        precision, recall, expected, confusions = _scores(truth, found)
        image_of = {str(truth.image_path(img.path)): img for img in truth.images}
        work = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        accepted_table, truth_table = _table1_accepted_vs_truth(catalog_path, truth, panels, work)

    if not args.quiet:
        for a, p in sorted(expected - set(found)):
            print(f"MISS {a} {Path(p).name}:")
            for note in _panel_notes(truth, a, p):
                print(f"    {note}")
        for a, p in sorted(set(found) - expected):
            img = image_of.get(p)
            kind = "CONFUSION" if (a, p) in confusions else "FALSE"
            print(f"{kind} {a} {Path(p).name} score {found[(a, p)]:.1f} "
                  f"({img.relation if img else '?'} {img.group if img else ''})")
    print(f"matching: {match_s / len(truth.articles):.2f} s wall, {match_cpu / len(truth.articles):.2f} s CPU per "
          f"publication against {summary.images:,} images ({len(truth.articles)} publications, "
          f"{args.workers} matching worker(s), {os.cpu_count()} cores here)")
    for line in _long_publications(truth, per_publication):
        print(line)
    print(f"precision {precision:.3f} ({len(set(found) & expected)}/{len(found)}), recall {recall:.3f} "
          f"({len(set(found) & expected)}/{len(expected)}) of (article, image) pairs; targets P >= 0.99, R >= 0.98")
    print(f"repeat/series confusions: {len(confusions)} of {len(found)} matches "
          f"({len(confusions) / max(len(found), 1):.1%}; target <= 1 %)")
    kinds = _per_panel(truth, panels)
    archive_panels = sum(len(kinds[k]) for k in ("right", "partial", "missed", "confused", "wrong"))
    print(f"per panel: {len(kinds['right'])} of {archive_panels} panels with an archive source matched to their "
          f"sources only, {len(kinds['partial'])} stitched panels to some of their tiles only, "
          f"{len(kinds['missed'])} missed, {len(kinds['confused'])} shown as a repeat/series member "
          f"({len(kinds['confused']) / max(archive_panels, 1):.1%}), {len(kinds['wrong'])} wrong image, "
          f"{len(kinds['extra'])} matches on panels without a source, {len(kinds['unplaced'])} matches on no "
          f"author's panel")
    if not args.quiet:
        for kind in ("partial", "missed", "confused", "wrong", "extra", "unplaced"):
            for label in kinds[kind]:
                print(f"    panel {kind}: {label}")
    for verified, what in ((True, "a match"), (False, "nothing verified (plots, distractors, misses)")):
        cpu = sorted(seconds for seconds, matched in matcher.panels if matched == verified)
        if cpu:
            print(f"panels with {what}: {len(cpu)}, CPU per panel mean {sum(cpu) / len(cpu):.2f} s, "
                  f"median {statistics.median(cpu):.2f} s, max {cpu[-1]:.2f} s")
    differences = _table1_differences(accepted_table, truth_table)
    print("Table 1 from the accepted matches " + ("equals Table 1 from the truth ledger" if not differences else
          f"differs from the truth ledger's in {len(differences)} cell(s): " + "; ".join(differences[:8])))


if __name__ == "__main__":
    main()
