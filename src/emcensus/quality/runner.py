"""`emcensus quality`: measure the catalogued images in the scan's pool, incrementally, then group
near-duplicates and rank each image among comparable ones.

Files are read through the access policy (`quality.pixels.read_image`: regular files only, bounded
in pixels) in the scan's `Pool` (local processes or a Dask cluster), each read under the
scan's per-file time budget. A file whose (size, mtime) is what its stored row measured is not read
at all; a new or changed file whose content hash is already in the catalog (moved, copied) is read
once to hash it and takes the stored metrics. Percentiles, flags and groups depend on the other
images, so they are recomputed whenever anything changed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor
from dataclasses import dataclass, field, replace
from typing import Any

from emcensus.access import file_sha256
from emcensus.catalog.paths import fs_path
from emcensus.errors import ConfigError, EmcensusError
from emcensus.figures.features import image_area
from emcensus.quality.duplicates import (
    SSIM_MIN, Hashed, Thumb, candidate_pairs, day_of, groups, hashes, similarity, thumbnail,
)
from emcensus.quality.flags import relative_quality
from emcensus.quality.metrics import grey_float, measure_area
from emcensus.quality.pixels import pixel_sha256, read_image
from emcensus.scan.pool import FILE_TIMEOUT_S, Budget, Pool, ReadTimeout, timeout_reason

#: Version of the metrics: rows of another version are measured again.
METRIC_VERSION = 1
#: Pixels a file may have to be measured: its float copy stays under 300 MB per worker (the visual
#: index reads up to 200 Mpx as bytes; quality needs floats).
MAX_PIXELS = 64_000_000
#: Files per task: small enough to spread over the workers, big enough to amortise a round trip.
BATCH = 16


@dataclass(frozen=True, slots=True)
class Job:
    """One file to measure; `known`: content hashes already measured in files of its size."""

    image_id: int
    path: str
    height_px: int | None
    known: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class _Task:
    """Files for one worker; `not_read`: indices not to touch (after a timeout) and why."""

    jobs: tuple[Job, ...]
    file_timeout: float = FILE_TIMEOUT_S
    pairs: tuple[tuple[int, int], ...] = ()  # a confirmation task: SSIM of these pairs of its jobs' images
    not_read: dict[int, str] = field(default_factory=dict)

    def skip(self, indices: Iterable[int] | None, reason: str) -> _Task:
        chosen = range(len(self.jobs)) if indices is None else indices
        return replace(self, not_read={**self.not_read, **dict.fromkeys(chosen, reason)})


@dataclass(slots=True)
class QualitySummary:
    """What one `emcensus quality` run did."""

    images: int = 0
    measured: int = 0  # read and measured now
    reused: int = 0  # new or changed files whose content was measured before (moved, copied)
    unchanged: int = 0  # not read
    errors: list[tuple[str, str]] = field(default_factory=list)  # (path, why) of files measured with an error now
    duplicate_groups: int = 0
    in_groups: int = 0
    seconds: float = 0.0

    def paragraph(self) -> str:
        text = (f"quality: {self.images:,} image file(s); {self.measured:,} measured, {self.reused:,} taken from a "
                f"copy with the same content, {self.unchanged:,} unchanged (not read) in {self.seconds:.1f} s; "
                f"{self.in_groups:,} file(s) in {self.duplicate_groups:,} near-duplicate group(s)")
        if self.errors:
            text += f"; {len(self.errors):,} could not be measured"
        return text


# ----------------------------------------------------------------- worker side
def measure_one(job: Job) -> dict[str, Any]:
    """The measured columns of one file (raises on a file that cannot be measured)."""
    content = file_sha256(job.path)
    if content in job.known:
        return {"content_sha256": content, "reused": True}
    pixels = read_image(job.path, MAX_PIXELS)
    area = grey_float(image_area(pixels, job.height_px))
    metrics = measure_area(area)
    phash, dhash = hashes(thumbnail(area))
    return {"content_sha256": content, "pixel_sha256": pixel_sha256(pixels),
            "blank": int(metrics.blank), **{k: v for k, v in metrics.to_dict().items() if k != "blank"},
            "phash": phash, "dhash": dhash}


def measure_files(task: _Task) -> list[dict[str, Any]]:
    """Measure a batch of files (runs in a worker): never raises, every failure is the row's error."""
    results = []
    with Budget(task.file_timeout) as budget:
        for index, job in enumerate(task.jobs):
            error = task.not_read.get(index)
            row: dict[str, Any] = {}
            if error is None:
                try:
                    with budget.file(index):
                        row = measure_one(job)
                except ReadTimeout:
                    error = timeout_reason(task.file_timeout)
                except (EmcensusError, ValueError) as exc:  # refused, or not an image measure() can take
                    error = str(exc)
                except Exception as exc:  # noqa: BLE001 - a decoder's own error on a damaged file: one row
                    error = f"cannot measure: {type(exc).__name__}: {exc}"
            results.append({**row, "image_id": job.image_id, "error": error})
    return results


def confirm_pairs(task: _Task) -> list[tuple[int, int, float | None]]:
    """SSIM of each pair (by image id) of the task's images (runs in a worker); None when either
    image could not be read now."""
    thumbs: dict[int, Thumb | None] = {}
    with Budget(task.file_timeout) as budget:
        for index, job in enumerate(task.jobs):
            thumbs[job.image_id] = None
            if index in task.not_read:
                continue
            try:
                with budget.file(index):
                    thumbs[job.image_id] = thumbnail(grey_float(image_area(read_image(job.path, MAX_PIXELS), job.height_px)))
            except (ReadTimeout, Exception):  # noqa: BLE001 - measured before; unreadable now: the pair is not confirmed
                pass
    return [(a, b, None if thumbs[a] is None or thumbs[b] is None else similarity(thumbs[a], thumbs[b]))
            for a, b in task.pairs]


# ----------------------------------------------------------------- catalog side
def update_quality(catalog: Any, *, workers: int | None = None, executor: Executor | None = None,
                   file_timeout: float = FILE_TIMEOUT_S, progress: Callable[[int, int], None] | None = None
                   ) -> QualitySummary:
    """Measure new and changed images of `catalog`, then regroup and rank (see the module docstring).

    `workers` processes (default: all cores; 0: this process), or `executor` (a Dask cluster's)."""
    if not file_timeout > 0:
        raise ConfigError(f"the time a file may take to read must be a positive number of seconds, not {file_timeout}")
    started = time.perf_counter()
    summary = QualitySummary()
    images = catalog.quality_images()
    summary.images = len(images)
    todo = [row for row in images
            if (row["q_size"], row["q_mtime"], row["q_version"]) != (row["size_bytes"], row["mtime_ns"], METRIC_VERSION)]
    summary.unchanged = len(images) - len(todo)
    if not todo and not catalog.quality_orphans():  # nothing changed, nothing left the ranking
        summary.seconds = time.perf_counter() - started
        _count_groups(catalog, summary)
        return summary
    known = catalog.quality_contents((row["size_bytes"] for row in todo), METRIC_VERSION)
    jobs = [Job(row["id"], row["path"], row["height_px"], frozenset(known.get(row["size_bytes"], ())))
            for row in todo]
    by_id = {row["id"]: row for row in todo}
    changed: set[int] = set()
    with Pool(executor, workers if len(jobs) >= 2 * BATCH or workers == 0 or executor else 0, file_timeout) as pool:
        done = 0
        for results in _run(pool, measure_files, [_Task(tuple(jobs[i:i + BATCH]), file_timeout)
                                                  for i in range(0, len(jobs), BATCH)]):
            catalog.save_quality([_row(catalog, by_id[r["image_id"]], r, summary) for r in results], METRIC_VERSION)
            changed.update(r["image_id"] for r in results)
            done += len(results)
            if progress:
                progress(done, len(jobs))
        _regroup(catalog, pool, changed, file_timeout)
    _count_groups(catalog, summary)
    summary.seconds = time.perf_counter() - started
    return summary


def _row(catalog: Any, image: dict[str, Any], result: dict[str, Any], summary: QualitySummary) -> dict[str, Any]:
    """The row to store for a file measured (or reused) now."""
    row = {"image_id": image["id"], "size_bytes": image["size_bytes"], "mtime_ns": image["mtime_ns"]}
    if result.get("reused"):
        stored = catalog.quality_by_content(result["content_sha256"], METRIC_VERSION)
        if stored is not None:
            summary.reused += 1
            return {**row, **stored, "resolution_m": _metres(stored["resolution_px"], image["pixel_size_m"])}
        result = {"error": "its content was measured before but the row is gone; measured at the next run"}
    if result["error"]:
        summary.errors.append((image["path"], result["error"]))
    else:
        summary.measured += 1
    return {**row, **result, "resolution_m": _metres(result.get("resolution_px"), image["pixel_size_m"])}


def _metres(resolution_px: float | None, pixel_size_m: float | None) -> float | None:
    return resolution_px * pixel_size_m if resolution_px is not None and pixel_size_m else None


def _run(pool: Pool, fn: Callable[[_Task], Any], tasks: list[_Task]) -> Iterator[Any]:
    """Results of `fn` over the tasks as they finish (each task reads its jobs' files)."""
    return pool.results(fn, tasks, lambda task: len(task.jobs))


def _regroup(catalog: Any, pool: Pool, changed: set[int], file_timeout: float) -> None:
    """Duplicate groups, percentiles and flags of every measured image, from the stored rows.

    A group none of whose members changed or left stays as it was; candidate pairs are looked for
    only around the changed images and the members of the other groups, and confirmed by SSIM in the
    pool (their files are read again: thumbnails are not stored)."""
    rows = catalog.quality_rows()
    measured = [row for row in rows if row["error"] is None and row["phash"]]
    previous = {row["image_id"]: row["dup_group"] for row in measured}
    dirty = {group for image_id, group in previous.items() if group is not None and image_id in changed}
    dirty |= catalog.quality_orphan_groups()
    focus = changed | {image_id for image_id, group in previous.items() if group in dirty}
    kept = {(image_id, group) for image_id, group in previous.items()
            if group is not None and group not in dirty and image_id != group}
    hashed = [Hashed(row["image_id"], row["instrument"], day_of(row["acquired_at"], row["acquired_at_source"]),
                     int(row["phash"], 16), int(row["dhash"], 16)) for row in measured]
    to_confirm = candidate_pairs(hashed, focus)
    paths = {row["image_id"]: (row["path"], row["height_px"]) for row in measured}
    confirmed = set(kept)
    tasks = []
    for start in range(0, len(to_confirm), BATCH):
        chunk = tuple(to_confirm[start:start + BATCH])
        ids = sorted({i for pair in chunk for i in pair})
        tasks.append(_Task(tuple(Job(i, fs_path(paths[i][0]), paths[i][1]) for i in ids), file_timeout, chunk))
    for results in _run(pool, confirm_pairs, tasks):
        confirmed.update((a, b) for a, b, score in results if score is not None and score >= SSIM_MIN)
    grouped = groups(previous, confirmed)
    relative = relative_quality(rows)
    for image_id, group in grouped.items():
        relative.setdefault(image_id, {})["dup_group"] = group
    catalog.set_quality_relative(relative)


def _count_groups(catalog: Any, summary: QualitySummary) -> None:
    counts = catalog.quality_summary()
    summary.duplicate_groups, summary.in_groups = counts["duplicate_groups"], counts["in_duplicate_groups"]
