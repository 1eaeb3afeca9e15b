"""The visual index at scale (issue 8): build cost per image, memory, recall and matching time at 150 k images.

    .venv/bin/python bench/bench_index_scale.py DIR [--articles 8] [--images 200] [--size 800x600] [--seed 7]
        [--workers 2] [--profile 40] [--caps 300,400] [--scale-to 150000] [--nprobes 8,16] [--skip-build]
        [--code-bytes 16,32] [--keep-scale] [--breakdown] [--skip-exact] [--long 1] [--match-workers 0,2]
        [--steps OUT.json] [--only-long]

DIR holds the generated corpus, its archive and catalog, laid out as `bench_figures.py --keep DIR`
(generated and scanned the first time, reused afterwards; `--long N` adds N long publications, an article
of about ten pages (7-15) with its SI, 25-40 panels, `synth.LONG_PANELS`, to a new corpus: the archive and the other
publications stay those of the seed, so an index at scale built without them is reused). In one run it prints:

1. `figures index` from scratch through `update_index` (the product's path): ms per image wall, and
   CPU ms per image of this process and its worker processes together (what "per core" means on a
   loaded machine); then a rerun with nothing changed.
2. `--profile N`: CPU ms per image of each step, in this process, on N archive images: decode, grey
   8-bit, downscale and blur, ORB detect, spreading the keypoints, ORB compute.
3. Precision and recall at the corpus's own size with each cap of `--caps` (descriptors kept per
   image, the first K in `features._spread`'s order): what capping costs, apart from what scale costs.
4. `--scale-to N`: for each cap, an index of N images written by `write_generation` (the product's
   build: `build_faiss`, storage) and read back by `VisualIndex.load` (the product's load), then every
   publication matched at each nprobe of `--nprobes`. There is no archive of 150 k images here: the
   N - len(corpus) filler images are synthetic and stated as such: each filler descriptor takes each
   of its 32 bytes from a different real descriptor (drawn at random), so bytes keep ORB's value
   statistics but no filler matches any panel; their keypoints are random. The fillers add search cost
   and crowd the ratio test of the vote; they add no look-alikes. Memory is measured, not computed:
   the process's anonymous memory (RssAnon) grown by loading the index and matching, and the pages of
   the memory-mapped index files touched (resident pages of the mappings of files in the index's folder,
   from /proc/self/smaps; RssFile, which also counts the libraries' code, beside it). `--match-workers 0,1,2`:
   every publication matched by `match_documents` on each number of worker processes in turn (0: this
   process), wall and CPU (workers included) per publication, and the peak Rss and Pss summed over this
   process and its workers (the forked workers share the index: its pages count once in the Pss sum).
   Then a rerun where 1 % of the images are new:
   what rebuilding costs when the other images keep their lists (`kept_lists`). With `--code-bytes`,
   one such index for each length of the codes the inverted file holds (`index.IVF_CODE_BYTES`), compared
   in the same run; `--keep-scale` keeps each in DIR (no rerun phase) and a later run with the same N,
   cap and code length reuses it (a 150 k build costs about 20 min CPU).
5. `--breakdown`: at the first nprobe, where the CPU of matching goes: inclusive CPU seconds of the
   matcher's steps (faiss search, the vote around it, query features, verification, dense features,
   archive decode, the fit-scale and deep checks) and what is outside the matcher (document reading,
   panel splitting, scale bars: `read_scale_bar`, OCR included, timed on its own), for all publications
   and for the slowest one.
6. `--steps OUT.json`: each panel's matcher steps, the evidence each had and its CPU, in the first 0-worker
   run at scale (`bench/match_steps.py`), written to OUT.json (a file already there is kept) and summed up.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import multiprocessing
import os
import re
import shutil
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from bench_figures import _cpu_with_children, _long_publications, _scores
from match_steps import StepTrace, traced_documents
from match_steps import table as step_table
from emcensus.catalog import Catalog
from emcensus.figures import features
from emcensus.figures.index import (
    IVF_CODE_BYTES,
    NPROBE,
    FigureIndexError,
    VisualIndex,
    index_folder,
    kept_lists,
    read_pixels,
    update_index,
    write_generation,
)
from emcensus.figures import match
from emcensus.figures.match import Matcher, match_documents
from emcensus.figures.synth import TRUTH_NAME, CorpusTruth, make_figure_corpus
from emcensus.scan import RootSpec, scan


def _memory(folder: Path | None = None) -> dict[str, int]:
    """RssAnon and RssFile of this process, and the resident bytes of its mappings of files in
    `folder` ("index", and per file name), in bytes."""
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("RssAnon", "RssFile"):
            fields[name] = int(value.split()[0]) * 1024
    fields["index"], mapped = 0, None
    prefix = f"{folder.resolve()}{os.sep}" if folder else None
    for line in Path("/proc/self/smaps").read_text().splitlines():
        if re.match(r"[0-9a-f]+-[0-9a-f]+ ", line):  # a mapping's header: range, perms, offset, dev, inode, path
            parts = line.split(maxsplit=5)
            inside = prefix is not None and len(parts) == 6 and parts[5].startswith(prefix)
            mapped = Path(parts[5]).name if inside else None
        elif mapped and line.startswith("Rss:"):
            fields["index"] += int(line.split()[1]) * 1024
            fields[mapped] = fields.get(mapped, 0) + int(line.split()[1]) * 1024
    return fields


class _TreeMemory:
    """The peak, over samples every `interval` s while inside, of the resident (Rss) and proportional
    (Pss: a page shared by k processes counts 1/k in each) memory of this process and its children
    together, from /proc/PID/smaps_rollup: what `match_documents`'s forked workers and this process
    hold, the index's shared pages counted once in the Pss sum. Reading smaps_rollup walks every page
    table entry of the 1.4 GB index mapping: sampled every 0.5 s, the kernel's walks were 4.4 % of the CPU of
    a 2-worker run of the long publication (`perf`; a core taken from the workers), so every 2 s, and
    `cpu` says what the sampling cost in this run (the memory of a matching run is steady: the index's
    resident pages and the workers' caches)."""

    def __init__(self, interval: float = 2.0):
        self.interval, self.peak, self.cpu = interval, {"Rss": 0, "Pss": 0}, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> _TreeMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        while True:
            started = time.thread_time()
            total = dict.fromkeys(self.peak, 0)
            for pid in [os.getpid(), *_children(os.getpid())]:
                try:
                    lines = Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()
                except OSError:  # ended meanwhile
                    continue
                for line in lines:
                    name, _, value = line.partition(":")
                    if name in total:
                        total[name] += int(value.split()[0]) * 1024
            self.peak = {name: max(self.peak[name], total[name]) for name in self.peak}
            self.cpu += time.thread_time() - started
            if self._stop.wait(self.interval):
                return


def _children(pid: int) -> list[int]:
    """Pids of the processes `pid`'s threads started."""
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            found += [int(child) for child in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def _corpus(base: Path, args: argparse.Namespace) -> tuple[CorpusTruth, Path]:
    """The corpus and its scanned catalog in `base`, made the first time."""
    truth_file = base / "corpus" / TRUTH_NAME
    if truth_file.exists():
        truth = CorpusTruth.load(truth_file)
        if args.long != sum(a.long for a in truth.articles):
            print(f"--long {args.long} not applied: the corpus in {base} has {sum(a.long for a in truth.articles)} "
                  "long publication(s) (made once, reused as it is)")
    else:
        width, height = (int(v) for v in args.size.split("x"))
        truth = make_figure_corpus(base / "corpus", archive=base / "archive", articles=args.articles,
                                   images=args.images, seed=args.seed, size=(width, height),
                                   workers=args.workers, pictures=True, long_articles=args.long)
    catalog_path = base / "census.sqlite"
    with Catalog(catalog_path) as catalog:
        if not catalog.roots():
            scan(catalog, [RootSpec(str(folder), folder.name) for folder in sorted((base / "archive").iterdir())],
                 workers=args.workers)
    print(f"corpus: {len(truth.images):,} archive images {truth.images[0].width}x{truth.images[0].height}, "
          f"{len(truth.articles)} publications, {len(truth.panels())} panels")
    return truth, catalog_path


def _build(catalog_path: Path, workers: int) -> None:
    """Phase 1: the index from scratch, then a rerun with nothing changed."""
    shutil.rmtree(index_folder(catalog_path), ignore_errors=True)
    with Catalog(catalog_path, readonly=True) as catalog:
        wall, cpu = time.perf_counter(), _cpu_with_children()
        summary = update_index(catalog, catalog_path, workers=workers)
        wall, cpu = time.perf_counter() - wall, _cpu_with_children() - cpu
        rerun = time.perf_counter()
        again = update_index(catalog, catalog_path, workers=workers)
        rerun = time.perf_counter() - rerun
    n = max(summary.added, 1)
    print(summary.paragraph())
    print(f"index: {1000 * wall / n:.1f} ms per image wall on {workers} worker(s) ({1000 * wall * max(workers, 1) / n:.1f}"
          f" ms wall x workers), {1000 * cpu / n:.1f} ms CPU per image (this process + workers; target <= 20 "
          f"per core); rerun with nothing changed {rerun:.2f} s ({again.added} re-read)")


def _profile(truth: CorpusTruth, count: int) -> None:
    """Phase 2: CPU ms per image of each step of reading and extracting, in this process, one thread."""
    cv2.setNumThreads(1)
    steps = ("decode", "grey", "downscale+blur", "ORB detect", "spread", "ORB compute")
    spent = dict.fromkeys(steps, 0.0)
    images = truth.images[::max(1, len(truth.images) // count)][:count]  # every kind of texture
    orb = features.detector(features.ARCHIVE_FEATURES)

    def timed(step: str, work: Any, *args: Any, **kwargs: Any) -> Any:
        start = time.process_time()
        value = work(*args, **kwargs)
        spent[step] += time.process_time() - start
        return value

    for image in images:
        pixels = timed("decode", read_pixels, str(truth.image_path(image.path)))
        grey = timed("grey", features.to_grey8, pixels)
        prepared, _ = timed("downscale+blur", features.prepare, grey, image_rows=image.height)
        keypoints = timed("ORB detect", orb.detect, prepared, None)
        keypoints = timed("spread", features._spread, keypoints, features.ARCHIVE_FEATURES, prepared.shape)  # noqa: SLF001
        timed("ORB compute", orb.compute, prepared, keypoints)
    total = sum(spent.values())
    print(f"profile ({len(images)} images, {pixels.shape[1]}x{pixels.shape[0]} px files, CPU ms per image): "
          + ", ".join(f"{step} {1000 * s / len(images):.1f}" for step, s in spent.items())
          + f"; total {1000 * total / len(images):.1f}")


def _capped(index: VisualIndex, cap: int) -> tuple[list[dict[str, Any]], np.ndarray, np.ndarray]:
    """The index's table, descriptors and keypoints with each image's first `cap` descriptors."""
    images, rows, start = [], [], 0
    for image in index.images:
        count = min(cap, image["count"])
        rows.append(np.arange(image["start"], image["start"] + count))
        images.append({**image, "start": start, "count": count})
        start += count
    taken = np.concatenate(rows)
    return images, np.ascontiguousarray(index.descriptors[taken]), np.asarray(index.points[taken], np.float32)


def _with_fillers(images: list[dict[str, Any]], descriptors: np.ndarray, points: np.ndarray, total: int,
                  cap: int) -> tuple[list[dict[str, Any]], np.ndarray, np.ndarray]:
    """`total` images: these, then synthetic fillers of `cap` descriptors each (see the module docstring)."""
    rng = np.random.default_rng(0)
    fillers = max(0, total - len(images))
    made_descriptors = np.empty((len(descriptors) + fillers * cap, 32), np.uint8)
    made_points = np.empty((len(made_descriptors), 2), np.float32)
    made_descriptors[:len(descriptors)], made_points[:len(points)] = descriptors, points
    chunk = 1_000_000
    for first in range(len(descriptors), len(made_descriptors), chunk):
        n = min(chunk, len(made_descriptors) - first)
        picks = rng.integers(0, len(descriptors), size=(n, 32), dtype=np.int32)
        made_descriptors[first:first + n] = descriptors[picks, np.arange(32)]
        made_points[first:first + n] = rng.uniform(0, 512, (n, 2))
    start = len(descriptors)
    made_images = images + [{"id": 10_000_000 + k, "path": f"/filler/{k}.tif", "size_bytes": 0, "mtime_ns": 0,
                             "width_px": 512, "height_px": 512, "pixel_size_m": None, "year": None,
                             "start": start + k * cap, "count": cap} for k in range(fillers)]
    return made_images, made_descriptors, made_points


#: The matcher's steps timed by `--breakdown` (inclusive: `_ballot`, every vote's search and count whether
#: `_indexed` or `_vote` asked, holds `search`; `_dense_features` holds `_pixels`), and the scale-bar reading of
#: matched panels (outside the matcher).
_STEPS = ("match_panel", "_variants", "_ballot", "search", "_verify", "_dense_features", "_pixels", "_at_fit_scale",
          "_deeper", "read_scale_bar")


@contextmanager
def _timed_steps(matcher: Matcher, spent: dict[str, float], computed: set[tuple[int, int]]) -> Iterator[None]:
    """Adds the CPU seconds of each of `_STEPS` to `spent` while inside (instance attributes shadow the methods;
    the module's `read_scale_bar` is replaced and put back),
    and the archive images' dense features computed ("dense computed": a count, not timed by load), of
    which computed before for the same publication and dropped from the matcher's cache since ("dense
    recomputed"; `computed` holds the publication's (image, upsampling) keys)."""
    def timed(name: str, method: Any) -> Any:
        @functools.wraps(method)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if name == "_dense_features" and args not in matcher._dense:  # noqa: SLF001
                spent["dense computed"] += 1
                spent["dense recomputed"] += args in computed
                computed.add(args)
            start = time.process_time()
            try:
                return method(*args, **kwargs)
            finally:
                spent[name] += time.process_time() - start
        return wrapper

    owners = {name: matcher.index if name == "search" else match if name == "read_scale_bar" else matcher
              for name in _STEPS}
    originals = {name: getattr(owner, name) for name, owner in owners.items()}
    for name, owner in owners.items():
        setattr(owner, name, timed(name, originals[name]))
    try:
        yield
    finally:
        for name, owner in owners.items():
            if owner is match:  # the module's own function put back
                setattr(owner, name, originals[name])
            else:
                delattr(owner, name)


@contextmanager
def _dense_extracted(counter: Any) -> Iterator[None]:
    """Counts in `counter` (a `multiprocessing.Value`: the forked matching workers count into it too) the archive
    images' dense features extracted while inside (`match.extract` asked for `DENSE_FEATURES` keypoints), not
    the panels' own (`QUERY_FEATURES`): each worker keeps its own cache, so 2 workers extract more than one process."""
    extract = match.extract

    @functools.wraps(extract)
    def counted(pixels: Any, wanted: int, *args: Any, **kwargs: Any) -> Any:
        if wanted in match.DENSE_FEATURES.values():
            with counter.get_lock():
                counter.value += 1
        return extract(pixels, wanted, *args, **kwargs)

    match.extract = counted
    try:
        yield
    finally:
        match.extract = extract


def _match(truth: CorpusTruth, index: VisualIndex, breakdown: bool = False, workers: int = 0,
           trace: StepTrace | None = None) -> tuple[dict[tuple[str, str], float], list[tuple[float, float]]]:
    """(article, image) -> best score over every publication; (CPU, wall) seconds of each publication,
    on `workers` matching processes (0: this one), their CPU included. Each publication is matched by a
    matcher of its own, as one `figures match` run of an article and its SI: nothing is cached from the
    publications before it (forked workers never were; one matcher for all in this process gave the
    0-worker runs earlier publications' dense features: at 150 k, 420 of the 1,017 times a panel found an
    archive image's dense features cached, another publication's panel had computed them). `breakdown` (this process only): also prints where the CPU went (see the module docstring); `trace` (this process
only) records every panel's steps (`match_steps`)."""
    papers = Path(truth.papers)
    found: dict[tuple[str, str], float] = {}
    per_publication, steps, extracted = [], [], multiprocessing.Value("q", 0)
    for article in truth.articles:
        spent: dict[str, float] = defaultdict(float)
        matcher, computed = Matcher(index), set()
        cpu, wall = _cpu_with_children(), time.perf_counter()
        with _timed_steps(matcher, spent, computed) if breakdown else nullcontext(), _dense_extracted(extracted), \
                traced_documents(trace) if trace is not None and workers == 0 else nullcontext():
            for f in match_documents([papers / name for name in article.documents], matcher,
                                     year_of=lambda _a, y=article.year: y, workers=workers):
                key = (f.article, f.match.path)
                found[key] = max(found.get(key, 0.0), f.match.score)
        per_publication.append((_cpu_with_children() - cpu, time.perf_counter() - wall))
        steps.append(spent)
        spent["dense extracted"], extracted.value = extracted.value, 0
    slowest = int(np.argmax([cpu for cpu, _ in per_publication]))
    print(f"    dense features extracted, workers included (each worker keeps its own): "
          f"{sum(s['dense extracted'] for s in steps):.0f} in all, the slowest publication "
          f"{steps[slowest]['dense extracted']:.0f}")
    if breakdown:
        for label, chosen in (("all publications", range(len(steps))),
                              (f"slowest ({truth.articles[slowest].stem})", [slowest])):
            total = sum(per_publication[i][0] for i in chosen)
            summed = {name: sum(steps[i][name] for i in chosen) for name in _STEPS}
            counts = {name: round(sum(steps[i][name] for i in chosen)) for name in ("dense computed", "dense recomputed")}
            print(f"    CPU s, {label}: total {total:.1f}, outside the matcher {total - summed['match_panel']:.1f}; "
                  + ", ".join(f"{name.strip('_')} {seconds:.1f}" for name, seconds in summed.items())
                  + "; " + ", ".join(f"{name} {count}" for name, count in counts.items()))
    return found, per_publication


def _report(label: str, truth: CorpusTruth, found: dict[tuple[str, str], float],
            per_publication: list[tuple[float, float]]) -> None:
    precision, recall, expected, confusions = _scores(truth, found)
    cpu, wall = np.array(per_publication).T
    print(f"{label}: precision {precision:.3f} ({len(set(found) & expected)}/{len(found)}), recall {recall:.3f} "
          f"({len(set(found) & expected)}/{len(expected)}), confusions {len(confusions)}; per publication "
          f"{np.mean(wall):.2f} s wall, {np.mean(cpu):.2f} s CPU (slowest {max(cpu):.2f} CPU)")
    for line in _long_publications(truth, per_publication):
        print(line)
    missed = sorted(f"{article} {Path(path).name}" for article, path in expected - set(found))
    if missed:
        print(f"    missed: {'; '.join(missed)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dir", type=Path)
    parser.add_argument("--articles", type=int, default=8)
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--size", default="800x600", help="archive image area, WxH")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workers", type=int, default=2, help="processes generating, scanning and indexing")
    parser.add_argument("--match-workers", default="0",
                        help="matching processes compared at scale, in this order (0: this process)")
    parser.add_argument("--profile", type=int, default=40, help="images profiled step by step (0: none)")
    parser.add_argument("--caps", default="300,400", help="descriptors per image compared ('': none)")
    parser.add_argument("--scale-to", type=int, default=0, help="images of the index at scale (0: none)")
    parser.add_argument("--nprobes", default=f"{NPROBE},{2 * NPROBE}",
                        help="inverted lists searched per descriptor at scale (the first: the product's, index.NPROBE)")
    parser.add_argument("--skip-build", action="store_true", help="reuse the index DIR holds")
    parser.add_argument("--skip-exact", action="store_true", help="no matching at the corpus's own size (phase 3)")
    parser.add_argument("--code-bytes", default=str(IVF_CODE_BYTES), help="code lengths of the inverted file compared")
    parser.add_argument("--keep-scale", action="store_true", help="keep each index at scale in DIR; reuse a kept one")
    parser.add_argument("--breakdown", action="store_true", help="where matching's CPU goes, at the first nprobe")
    parser.add_argument("--long", type=int, default=0, help="long publications (an article of about ten pages + SI) in a new corpus")
    parser.add_argument("--only-long", action="store_true", help="match the long publications only (quicker A/B runs)")
    parser.add_argument("--steps", type=Path, default=None, metavar="OUT.json",
                        help="each panel's matcher steps, evidence and CPU in the first 0-worker run (match_steps.py)")
    args = parser.parse_args()
    if args.steps and args.breakdown:  # the breakdown's timers shadow the methods the trace wraps on the class
        parser.error("--steps and --breakdown cannot be combined: the breakdown's timers hide every panel from the "
                     "trace (its file would be empty); run them separately")
    args.dir.mkdir(parents=True, exist_ok=True)
    truth, catalog_path = _corpus(args.dir, args)
    if args.only_long:  # precision and recall then of their pairs alone
        truth = dataclasses.replace(truth, articles=[a for a in truth.articles if a.long])
    if not args.skip_build:
        _build(catalog_path, args.workers)
    if args.profile:
        _profile(truth, args.profile)
    index = VisualIndex.load(index_folder(catalog_path))
    caps = [int(v) for v in args.caps.split(",") if v]
    for cap in caps if not args.skip_exact else ():
        images, descriptors, points = _capped(index, cap)
        _report(f"{len(images):,} images, cap {cap}, exact", truth, *_match(truth, VisualIndex(
            images, descriptors, points)))
    if not args.scale_to:
        return
    for cap in caps:
        for code_bytes in (int(v) for v in args.code_bytes.split(",")):
            _at_scale(args, truth, index, cap, code_bytes)


def _at_scale(args: argparse.Namespace, truth: CorpusTruth, index: VisualIndex, cap: int, code_bytes: int) -> None:
    """Phase 4 (and 5) for one cap and code length."""
    folder = args.dir / f"scale-{args.scale_to}-{cap}-{code_bytes}.figures"
    # the load measured is the first: a load thrown away before it would leave its freed memory to the
    # allocator, and the measured one would reuse it instead of growing the process
    before, scaled = _memory(), None
    if args.keep_scale:
        try:
            scaled = VisualIndex.load(folder)  # kept by an earlier run (refused when of another format)
            built = "kept from an earlier run"
        except FigureIndexError:
            if any(folder.glob("gen-*")) and not (folder / "current").exists():  # a build not finished
                raise SystemExit(f"{folder} holds a generation and no `current`: another run may be building it "
                                 "(a 150 k build takes ~20 min); remove the folder to build it here") from None
    if scaled is None:
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir()
        made = _with_fillers(*_capped(index, cap), args.scale_to, cap)
        wall, cpu = time.perf_counter(), time.process_time()
        write_generation(folder, *made, code_bytes=code_bytes)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        built = f"built and written in {wall:.0f} s wall / {cpu:.0f} s CPU ({1000 * cpu / len(made[0]):.2f} ms CPU per image)"
        del made
        before = _memory()
        scaled = VisualIndex.load(folder)
    loaded = _memory()
    size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    codes = sum(p.stat().st_size for p in folder.rglob("faiss.index"))
    print(f"at scale: {len(scaled):,} images x {cap} = {scaled.faiss.ntotal:,} descriptors, "
          f"{type(scaled.faiss).__name__} of {getattr(scaled.faiss, 'nlist', 0):,} lists, {scaled.code_bits}-bit codes; "
          f"{built}; {size / 2**30:.2f} GiB on disk (faiss.index {codes / 2**30:.2f}); "
          f"load: +{(loaded['RssAnon'] - before['RssAnon']) / 2**20:.0f} MiB anonymous memory")
    runs = [(nprobe, workers) for nprobe in (int(v) for v in args.nprobes.split(","))
            for workers in (int(v) for v in args.match_workers.split(","))]
    for number, (nprobe, workers) in enumerate(runs):
        scaled.faiss.nprobe = nprobe
        trace = StepTrace() if args.steps and workers == 0 and not args.steps.exists() else None
        with _TreeMemory() as tree:
            found, per_publication = _match(truth, scaled, args.breakdown and number == 0 and workers == 0,
                                            workers, trace)
        if trace is not None:
            args.steps.write_text(json.dumps(trace.panels))
            print(step_table(trace.panels))
        after = _memory(folder)
        _report(f"at scale, cap {cap}, {scaled.code_bits}-bit codes, nprobe {nprobe}, {workers} matching worker(s)",
                truth, found, per_publication)
        print(f"    memory of this process and its workers together (peak of {tree.interval:g} s samples, which took "
              f"{tree.cpu:.2f} s CPU): Rss sum {tree.peak['Rss'] / 2**30:.2f} GiB, Pss sum {tree.peak['Pss'] / 2**30:.2f} GiB "
              f"(target: index <= 2 GB)")
        anonymous = after["RssAnon"] - before["RssAnon"]
        print(f"    memory after matching: +{anonymous / 2**20:.0f} MiB anonymous, {after['index'] / 2**20:.0f} MiB of the "
              f"index's mapped files resident: {(anonymous + after['index']) / 2**30:.2f} GiB in all (target: index <= 2 GB);"
              f" RssFile {after['RssFile'] / 2**20:.0f} MiB (libraries included); resident MiB per file: "
              + ", ".join(f"{name} {after.get(name, 0) / 2**20:.0f}"
                          for name in ("faiss.index", "lists.npy", "descriptors.npy", "points.npy")))
    if not args.keep_scale:
        changed = np.arange(scaled.faiss.ntotal)
        changed[-len(changed) // 100:] = -1  # a rerun where 1 % of the images are new or changed
        cpu = time.process_time()
        write_generation(folder, scaled.images, scaled.descriptors, scaled.points, kept_lists(scaled, changed),
                         code_bytes)
        print(f"    rerun with 1 % of the images new: index rebuilt in {time.process_time() - cpu:.0f} s CPU "
              "(centroids and lists of the others kept)")
        del scaled
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
