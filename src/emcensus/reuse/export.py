"""`emcensus reuse export`: the unpublished images of a facility as a dataset others can use.

Default set: unpublished, readable, not blank, embargo passed (by acquisition date), under a licence
given. Images not measured by `emcensus quality` have unknown quality: they are included (blank
unknown), their quality columns are null, and the summary and dataset card say how many.
"""

from __future__ import annotations

import os
import shutil
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from emcensus.analysis.sessions import session_starts
from emcensus.catalog import Catalog
from emcensus.catalog.connection import archive_roots
from emcensus.catalog.query import ImageFilter
from emcensus.catalog.reuse import QUALITY_COLUMNS
from emcensus.errors import ConfigError, OutputError
from emcensus.outputs import guard_output, whole_folder
from emcensus.reuse import describe
from emcensus.reuse.pseudonyms import Pseudonyms, operator_of
from emcensus.reuse.splits import (
    DEFAULT_SESSION_GAP_MINUTES,
    DEFAULT_SPLITS,
    assign_splits,
    components,
    parse_splits,
)
from emcensus.reuse.stage import StageItem, StageTask, Staged, stage_batch, staged_path
from emcensus.reuse.writers import FORMATS, WRITERS, folder_name, shard_names
from emcensus.scan.pool import FILE_TIMEOUT_S, Pool

DEFAULT_EMBARGO_YEARS = 2
_STAGING = ".staging"
_BATCH = 16


@dataclass(slots=True)
class ReuseOptions:
    """What to export and how (the CLI's options)."""

    license: str
    embargo_years: float = DEFAULT_EMBARGO_YEARS
    splits: str = DEFAULT_SPLITS
    seed: int = 0
    include_published: bool = False
    fmt: str = "folder"
    session_gap_minutes: float = DEFAULT_SESSION_GAP_MINUTES
    name: str = "Unpublished electron micrographs"
    today: date = field(default_factory=date.today)


@dataclass(slots=True)
class ReuseSummary:
    """What an export wrote and what it left out, and why."""

    out: Path
    splits: dict[str, int]
    excluded: dict[str, int]
    unmeasured: int
    components: int
    sessions: int
    ratios: dict[str, int]

    def uneven_splits(self) -> list[str]:
        """Splits whose share is off the requested one by more than half of it (and 5 points):
        what linked projects, sessions and duplicates left possible."""
        total = sum(self.splits.values())
        return [name for name, share in self.ratios.items() if total and share
                and abs(100 * self.splits[name] / total - share) > max(5, share / 2)]

    def paragraph(self) -> str:
        total = sum(self.splits.values())
        parts = ", ".join(f"{name} {count:,}" for name, count in self.splits.items())
        text = (f"exported {total:,} images to {self.out} ({parts}; {self.components:,} components, "
                f"{self.sessions:,} sessions)")
        uneven = self.uneven_splits()
        if uneven:
            realised = ", ".join(f"{name} {100 * self.splits[name] / total:.0f} %" for name in uneven)
            text += (f"; NOTE: {realised} instead of {', '.join(f'{self.ratios[n]} %' for n in uneven)}: projects, "
                     f"sessions and duplicate groups join the images into only {self.components:,} components, and "
                     "a component is never split")
        if self.excluded:
            text += "; left out: " + ", ".join(f"{count:,} {why}" for why, count in self.excluded.items())
        if self.unmeasured:
            text += (f"; {self.unmeasured:,} included without quality metrics (blank unknown: run "
                     "`emcensus quality` first to leave blank frames out)")
        return text


def normalise_license(text: str | None) -> str:
    """The SPDX identifier (or expression) `text` names, in its canonical spelling; refused when
    missing or unknown (a licence is what makes an export reusable at all)."""
    if not text or not text.strip():
        raise ConfigError("a licence is required: --license SPDX-ID, e.g. CC-BY-4.0 or CC0-1.0")
    from license_expression import get_spdx_licensing

    info = get_spdx_licensing().validate(text.strip())
    if info.errors or not info.normalized_expression:
        raise ConfigError(f"--license {text!r} is not an SPDX licence identifier (e.g. CC-BY-4.0, CC0-1.0, MIT)")
    return str(info.normalized_expression)


def embargo_until(acquired: date, years: float) -> date:
    """The day the embargo of `years` after `acquired` ends (29 February ends on 28 February)."""
    whole, days = int(years), round((years - int(years)) * 365.25)
    try:
        end = acquired.replace(year=acquired.year + whole)
    except ValueError:
        end = acquired.replace(year=acquired.year + whole, day=28)
    return date.fromordinal(end.toordinal() + days)


def _acquired(row: dict[str, Any]) -> datetime | None:
    try:
        return datetime.fromisoformat(row["acquired_at"]) if row["acquired_at"] else None
    except ValueError:
        return None


def exclusion(row: dict[str, Any], options: ReuseOptions) -> str | None:
    """Why an image is left out of the export, or None to export it."""
    if row["published"] and not options.include_published:
        return "published (--include-published adds them)"
    if row["blank"]:
        return "blank frames"
    acquired = _acquired(row)
    if acquired is None:
        return "without an acquisition date (the embargo cannot be checked)"
    if embargo_until(acquired.date(), options.embargo_years) > options.today:
        return f"under embargo ({options.embargo_years:g} years after acquisition)"
    return None


def check_out(out: str | os.PathLike[str], archives: list[str]) -> Path:
    """The export folder, resolved: outside every archive, new or empty (created by the caller)."""
    target = guard_output(out, archives, what="reuse export", folder=True)
    if target.exists() and any(target.iterdir()):
        raise ConfigError(f"reuse export {out} is not empty: give a new or empty folder")
    return target


def export_reuse(catalog: Catalog, out: str | os.PathLike[str], options: ReuseOptions, secret: bytes, *,
                 image_filter: ImageFilter | None = None, workers: int | None = None,
                 file_timeout: float = FILE_TIMEOUT_S) -> ReuseSummary:
    """Select, stage, split and write the export into `out` (see the module and README)."""
    license_id = normalise_license(options.license)
    ratios = parse_splits(options.splits)
    if options.fmt not in FORMATS:
        raise ConfigError(f"unknown format {options.fmt!r}: {', '.join(FORMATS)}")
    if options.embargo_years < 0:
        raise ConfigError("--embargo-years cannot be negative")
    archives = archive_roots(catalog.db)
    target = check_out(out, archives)
    pseudo = Pseudonyms(secret)
    excluded: Counter[str] = Counter()
    rows = []
    for row in catalog.reuse_candidates(image_filter):
        why = exclusion(row, options)
        if why:
            excluded[why] += 1
        else:  # the vendor metadata is only needed for the operator's name: not kept for every image
            row["operator"] = operator_of(row.pop("original_metadata"))
            rows.append(row)
    if not rows:  # an empty dataset helps nobody: say why instead, and write nothing
        reasons = "; ".join(f"{count:,} {why}" for why, count in excluded.items()) or "the filters select no image"
        raise ConfigError(f"nothing to export: {reasons}")
    try:
        # written beside `target` and renamed onto it when whole: an export stopped in any way (Ctrl-C, a full
        # disk, SIGKILL) leaves no folder that looks like an export
        with whole_folder(target, archives, what="reuse export") as folder:
            staging = folder / _STAGING
            staging.mkdir()
            staged = _stage(rows, staging, workers, file_timeout)
            kept = _dedupe(rows, staged, excluded)
            records, session_facts, n_components = _records(kept, staged, pseudo, ratios, options, license_id)
            if options.fmt == "webdataset":
                shard_names(records, {r["image_id"]: staged_path_for(staging, r).stat().st_size for r in records})
            WRITERS[options.fmt](folder, records, lambda r: staged_path_for(staging, r))
            shutil.rmtree(staging)
            facts = describe.ExportFacts(
                name=options.name, license=license_id, fmt=options.fmt, created=describe.now(),
                splits=describe.split_counts(records), ratios=ratios, seed=options.seed,
                embargo_years=options.embargo_years, include_published=options.include_published,
                session_gap_minutes=options.session_gap_minutes, sessions=session_facts, excluded=dict(excluded),
                unmeasured=sum(not r["_measured"] for r in records))
            describe.write_croissant(folder, facts)
            describe.write_card(folder, facts)
            describe.write_ro_crate(folder, facts, _described_files(folder))
            describe.write_manifest(folder)
    except OSError as exc:
        raise OutputError(f"cannot write the reuse export {out}: {exc.strerror or exc}; nothing of it was "
                          "left there") from exc
    return ReuseSummary(target, facts.splits, facts.excluded, facts.unmeasured, n_components, len(session_facts),
                        ratios)


def _described_files(target: Path) -> list[str]:
    """Files the RO-Crate lists one by one: the top-level ones, the shards, each split's metadata.parquet
    (the images of a folder export are listed as their split's folder)."""
    chosen = [*target.glob("*"), *target.glob("shards/*.tar"), *target.glob("data/*/metadata.parquet")]
    return sorted(p.relative_to(target).as_posix() for p in chosen if p.is_file())


def staged_path_for(staging: Path, record: dict[str, Any]) -> Path:
    return Path(staged_path(str(staging), record["_catalog_id"]))


def _stage(rows: list[dict[str, Any]], staging: Path, workers: int | None, file_timeout: float) -> dict[int, Staged]:
    """Each image hashed and re-written into `staging` in the scan's local pool, bounded per file
    (a batch too small to share runs in this process)."""
    items = [StageItem(row["id"], row["path"], row["pixel_size_m"]) for row in rows]
    tasks = (StageTask(items[i:i + _BATCH], str(staging), file_timeout) for i in range(0, len(items), _BATCH))
    with Pool(None, 0 if len(items) < _BATCH else workers, file_timeout) as pool:
        return {staged.image_id: staged for batch in pool.results(stage_batch, tasks, lambda task: len(task.items))
                for staged in batch}


def _dedupe(rows: list[dict[str, Any]], staged: dict[int, Staged], excluded: Counter[str]) -> list[dict[str, Any]]:
    """Rows whose image was staged, one per distinct pixel content (a copy of a frame is the frame)."""
    kept, seen = [], set()
    for row in rows:
        result = staged[row["id"]]
        if result.error:
            excluded["unreadable when exported"] += 1
        elif result.pixel_sha256 in seen:
            excluded["identical in pixels to another exported image"] += 1
        else:
            seen.add(result.pixel_sha256)
            kept.append(row)
    return kept


def _records(rows: list[dict[str, Any]], staged: dict[int, Staged], pseudo: Pseudonyms, ratios: dict[str, int],
             options: ReuseOptions, license_id: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]], int]:
    """metadata rows (pseudonymised, split), the sessions' facts, and the number of components."""
    folders = [os.path.dirname(row["path"]) for row in rows]  # a path, not a catalog id: the same in every catalog
    places = [(row["instrument"], folder) for row, folder in zip(rows, folders, strict=True)]
    starts = session_starts(places, [_acquired(row) for row in rows], options.session_gap_minutes)
    # (instrument, folder, start): the same session key in every catalog (every exported image has a time)
    session_keys = [(*place, start.isoformat() if start else None) for place, start in zip(places, starts, strict=True)]
    projects = [(row["group_name"], row["project"]) if row["project"] else None for row in rows]
    component_of = components(len(rows), [projects, session_keys, [row["dup_group"] for row in rows]])
    pixel_ids = [staged[row["id"]].pixel_sha256 for row in rows]
    split_of, rank = assign_splits(component_of, pixel_ids, ratios, pseudo.salt("splits"), options.seed)
    records = []
    for index, row in enumerate(rows):
        result = staged[row["id"]]
        acquired = _acquired(row)
        records.append({
            "_catalog_id": row["id"], "_measured": row["measured"],
            "image_id": result.pixel_sha256, "source_sha256": result.source_sha256,
            "file_name": f"{result.pixel_sha256}.tif" if options.fmt == "parquet"
            else folder_name(split_of[index], result.pixel_sha256),
            "split": split_of[index], "component_id": rank[component_of[index]],
            "group_pseudo": pseudo("group", row["group_name"]),
            "project_pseudo": pseudo("project", f"{row['group_name']}/{row['project']}" if row["project"] else None),
            "session_pseudo": pseudo("session", repr(session_keys[index])),
            "operator_pseudo": pseudo("operator", row["operator"]),
            "folder_pseudo": pseudo("folder", folders[index]),
            "instrument": row["instrument"], "vendor": row["vendor"], "technique": row["technique"],
            "detector_family": row["detector_family"], "detector_raw": row["detector"],
            "magnification": row["magnification"], "pixel_size_m": row["pixel_size_m"], "fov_width_m": row["fov_m"],
            "scalebar_decade": row["scalebar_decade"], "accelerating_voltage_v": row["accelerating_voltage_v"],
            "working_distance_m": row["working_distance_m"],
            "acquired_month": acquired.strftime("%Y-%m") if acquired else None,
            "published": row["published"], "license": license_id,
            "embargo_until": embargo_until(acquired.date(), options.embargo_years).isoformat() if acquired else None,
            "access": "open",
            "width_px": result.shape[1] if len(result.shape) > 1 else None,
            "height_px": result.shape[0] if result.shape else None, "pixel_dtype": result.dtype,
            **{name: row[name] for name in QUALITY_COLUMNS},
            "blank": None if row["blank"] is None else bool(row["blank"]),
            "dup_group": pseudo("duplicates", row["dup_group"]),
        })
    order = {name: i for i, name in enumerate(ratios)}
    records.sort(key=lambda r: (order[r["split"]], r["component_id"], r["image_id"]))
    session_images: Counter[tuple] = Counter(session_keys)
    session_split = {session_keys[i]: split_of[i] for i in range(len(rows))}
    session_facts = [{"pseudo": pseudo("session", repr(key)), "instrument": key[0], "split": session_split[key],
                      "images": count} for key, count in sorted(session_images.items(), key=lambda kv: repr(kv[0]))]
    return records, session_facts, len(set(component_of))
