"""What describes a reuse export: croissant.json (MLCommons Croissant, with the responsible-AI
fields), ro-crate-metadata.json (RO-Crate, through the `rocrate` package), README.md (a dataset
card) and manifest-sha256.txt (BagIt-style checksums of every file).

Nothing here names a person, a group, a project or a folder: they appear only as pseudonyms.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from emcensus import __version__
from emcensus.access import file_sha256
from emcensus.reuse.splits import SPLIT_NAMES
from emcensus.reuse.writers import COLUMN_TYPES

HOMEPAGE = "https://pypi.org/project/emcensus/"
MANIFEST = "manifest-sha256.txt"

#: Croissant data types (mlcroissant.DataType names) of metadata.parquet's value types.
_CROISSANT_TYPES = {"string": "TEXT", "int64": "INTEGER", "float64": "FLOAT", "bool": "BOOL"}


@dataclass(slots=True)
class ExportFacts:
    """What the descriptions say about one export."""

    name: str
    license: str
    fmt: str
    created: datetime
    splits: dict[str, int]  # images per split
    ratios: dict[str, int]
    seed: int
    embargo_years: float
    include_published: bool
    session_gap_minutes: float
    sessions: list[dict[str, Any]]  # pseudo, instrument, split, images
    excluded: dict[str, int]  # reason -> images
    unmeasured: int


def _description(facts: ExportFacts) -> str:
    total = sum(facts.splits.values())
    which = "unpublished and published" if facts.include_published else "unpublished"
    return (f"{total:,} {which} electron-microscopy images of one facility, exported by emcensus "
            f"{__version__} from its census: pixels re-written without vendor tags, people, groups, projects and "
            "folders replaced by keyed pseudonyms, splits without shared projects, sessions or duplicates.")


def write_croissant(out: Path, facts: ExportFacts) -> Path:
    """croissant.json: the export's files (with sha256), and a RecordSet over metadata.parquet."""
    import mlcroissant as mlc

    distribution: list[Any] = [mlc.FileObject(
        id="metadata.parquet", name="metadata.parquet", content_url="metadata.parquet",
        encoding_formats=["application/x-parquet"], sha256=file_sha256(out / "metadata.parquet"))]
    if facts.fmt == "folder":
        distribution.append(mlc.FileSet(id="image-files", name="image-files", includes=["data/*/*.tif"],
                                        encoding_formats=["image/tiff"]))
    elif facts.fmt == "webdataset":
        for shard in sorted((out / "shards").glob("*.tar")):
            distribution.append(mlc.FileObject(id=f"shards/{shard.name}", name=shard.name,
                                               content_url=f"shards/{shard.name}", encoding_formats=["application/x-tar"],
                                               sha256=file_sha256(shard)))
    fields = [mlc.Field(id=f"images/{name}", name=name, data_types=[getattr(mlc.DataType, _CROISSANT_TYPES[kind])],
                        source=mlc.Source(file_object="metadata.parquet", extract=mlc.Extract(column=name)))
              for name, kind in COLUMN_TYPES.items()]
    excluded = "; ".join(f"{count:,} {reason}" for reason, count in facts.excluded.items()) or "none"
    metadata = mlc.Metadata(
        name=facts.name, description=_description(facts), license=[f"https://spdx.org/licenses/{facts.license}"],
        url=HOMEPAGE, version="1.0.0", date_created=facts.created, date_published=facts.created,
        cite_as=f"{facts.name}, exported {facts.created:%Y-%m-%d} with emcensus {__version__}",
        distribution=distribution,
        record_sets=[mlc.RecordSet(id="images", name="images", key="images/image_id", fields=fields,
                                   description="One record per exported image (metadata.parquet).")],
        data_collection=("Every image an instrument PC of the facility saved, as found by an emcensus census of its "
                         "archive (read-only); the unpublished ones, whose embargo after acquisition has passed."),
        data_collection_type=["Observational"],
        data_collection_raw_data="Vendor image files and their metadata sidecars, re-written as TIFF with pixels only.",
        data_preprocessing_protocol=[
            "Pixels decoded and written again as uncompressed TIFF with only structural tags and the pixel size.",
            f"Sessions: images of one instrument and folder less than {facts.session_gap_minutes:g} minutes apart.",
            f"Splits {facts.ratios} by union-find of project, session and near-duplicate group; identical pixels once.",
        ],
        data_collection_missing_data=(f"Excluded: {excluded}. Quality metrics are null for {facts.unmeasured:,} "
                                      "images not measured by `emcensus quality`."),
        personal_sensitive_information=(
            "Operator, group, project and folder names are replaced by HMAC-SHA256 pseudonyms under a facility "
            "secret that is not part of the export; vendor tags (which name operators) are not copied; "
            "acquisition times are given to the month."),
        data_biases=("Images of one facility and its instruments; unpublished images over-represent trial shots, "
                     "repeats and failed acquisitions."),
        data_limitations="Quality flags are percentiles within instrument and magnification decade, not absolute.",
        data_use_cases="Training and evaluating image models for electron microscopy; reuse by the groups that took them.",
    )
    path = out / "croissant.json"
    path.write_text(json.dumps(metadata.to_json(), indent=2, ensure_ascii=False, default=str), encoding="utf-8")
    return path


#: What each described file is, and its media type.
_FILE_ROLES = {
    "metadata.parquet": ("one row per image: pseudonyms, acquisition settings, quality, split", "application/x-parquet"),
    "croissant.json": ("MLCommons Croissant description of the dataset", "application/ld+json"),
    "README.md": ("dataset card", "text/markdown"),
    "manifest-sha256.txt": ("sha256 of every file of the export", "text/plain"),
    ".tar": ("WebDataset shard: <image_id>.tif and <image_id>.json per image", "application/x-tar"),
}


def _file_role(name: str) -> tuple[str, str]:
    if name.startswith("data/"):
        return "the split's rows, beside its images (Hugging Face imagefolder)", "application/x-parquet"
    return _FILE_ROLES.get(name) or _FILE_ROLES[Path(name).suffix]


def write_ro_crate(out: Path, facts: ExportFacts, files: Sequence[str]) -> Path:
    """ro-crate-metadata.json: the files, one CreateAction per acquisition session (with its
    instrument) and one for this export (emcensus and its version)."""
    from rocrate.model import ContextEntity, SoftwareApplication
    from rocrate.rocrate import ROCrate

    crate = ROCrate()
    crate.name = facts.name
    crate.description = _description(facts)
    crate.license = crate.add(ContextEntity(crate, f"https://spdx.org/licenses/{facts.license}", properties={
        "@type": "CreativeWork", "name": facts.license, "description": f"SPDX licence {facts.license}"}))
    crate.root_dataset["datePublished"] = facts.created.isoformat(timespec="seconds")
    parts = {}
    for name in files:
        description, media_type = _file_role(name)
        parts[name] = crate.add_file(dest_path=name, properties={
            "name": name, "description": description, "encodingFormat": media_type,
            "sha256": file_sha256(out / name), "contentSize": str((out / name).stat().st_size)})
    split_parts = {split: crate.add_dataset(dest_path=f"data/{split}/", properties={
        "name": f"{split} split", "description": f"{facts.splits[split]:,} images (<image_id>.tif) and metadata.parquet",
        "hasPart": parts[f"data/{split}/metadata.parquet"]})
        for split in SPLIT_NAMES if facts.splits.get(split) and facts.fmt == "folder"}
    instruments: dict[str, Any] = {}
    actions = []
    for session in facts.sessions:
        instrument = session["instrument"] or "unknown instrument"
        if instrument not in instruments:
            instruments[instrument] = crate.add(ContextEntity(crate, f"#instrument-{len(instruments) + 1}", properties={
                "@type": "IndividualProduct", "name": instrument, "description": "electron microscope"}))
        actions.append(crate.add_action(
            instruments[instrument], identifier=f"#{session['pseudo']}",
            result=split_parts.get(session["split"]) or parts["metadata.parquet"],
            properties={"name": f"acquisition session {session['pseudo']}",
                        "description": f"{session['images']} images, {session['split']} split"}))
    software = crate.add(SoftwareApplication(crate, HOMEPAGE, properties={
        "name": "emcensus", "version": __version__, "url": HOMEPAGE,
        "description": "census of electron-microscopy archives"}))
    actions.append(crate.add_action(
        software, identifier="#export", result=list(parts.values()) + list(split_parts.values()),
        properties={"name": "emcensus reuse export", "endTime": facts.created.isoformat(timespec="seconds"),
                    "description": "selection, pseudonymisation, re-writing and splitting of the images"}))
    crate.root_dataset["mentions"] = actions
    crate.metadata.write(out)
    return out / "ro-crate-metadata.json"


#: Where the images are, per format (the card's Files section).
_LAYOUTS = {
    "folder": "`data/<split>/<image_id>.tif`, with the split's rows in `data/<split>/metadata.parquet`: "
              "`load_dataset(\"imagefolder\", data_dir=\"data\")` loads it",
    "webdataset": "`shards/<split>-NNNNNN.tar`, each image as `<image_id>.tif` + `<image_id>.json` (its row)",
    "parquet": "inside `metadata.parquet`: its `image` column holds each TIFF's bytes",
}


def write_card(out: Path, facts: ExportFacts) -> Path:
    """README.md: a dataset card (Hugging Face YAML header, then what a reuser must know)."""
    total = sum(facts.splits.values())
    split_rows = "\n".join(f"| {split} | {facts.splits.get(split, 0):,} | {facts.ratios[split]} % |"
                           for split in SPLIT_NAMES)
    excluded = "\n".join(f"- {count:,} {reason}" for reason, count in facts.excluded.items()) or "- none"
    data_files = {"folder": "data/{split}/*", "webdataset": "shards/{split}-*.tar", "parquet": None}[facts.fmt]
    configs = ""
    if data_files:
        configs = "configs:\n- config_name: default\n  data_files:\n" + "".join(
            f"  - split: {split}\n    path: \"{data_files.format(split=split)}\"\n"
            for split in SPLIT_NAMES if facts.splits.get(split))
    unmeasured = (f"{facts.unmeasured:,} images were not measured by `emcensus quality`: their quality columns are "
                  "null and they are included (blank unknown)." if facts.unmeasured else
                  "Every image was measured by `emcensus quality`.")
    text = f"""---
license: {facts.license.lower()}
pretty_name: {json.dumps(facts.name, ensure_ascii=False)}
size_categories:
- {_size_category(total)}
{configs}---

# {facts.name}

{_description(facts)}

Exported {facts.created:%Y-%m-%d} by emcensus {__version__} (`emcensus reuse export`), format `{facts.fmt}`.
Licence: [{facts.license}](https://spdx.org/licenses/{facts.license}).

## Splits

| split | images | requested |
|---|---|---|
{split_rows}

Seed {facts.seed}. Images that share a project, an acquisition session or a near-duplicate group
form one component (identical pixels are exported once), and a component lies in one split only, so the shares
can differ from those requested (by more when few components hold many images). A session is a run
of images of one instrument in one folder less than {facts.session_gap_minutes:g} minutes apart.

## Selection

{'Unpublished and published' if facts.include_published else 'Unpublished'} images, readable, not blank,
whose embargo of {facts.embargo_years:g} years after acquisition has passed. Left out:

{excluded}

{unmeasured}

## Files

- Images: {_LAYOUTS[facts.fmt]}.
- `metadata.parquet`: one row per image (`image_id` is the sha256 of its pixels, `source_sha256` that
  of the original file); `croissant.json` describes its columns.
- `croissant.json` (MLCommons Croissant), `ro-crate-metadata.json` (RO-Crate), `manifest-sha256.txt`.

## Privacy

Operators, groups, projects, sessions and folders appear only as keyed pseudonyms (HMAC-SHA256 under
a facility secret that is not in this export). Vendor tags, which name operators and samples, are not
copied: each TIFF holds its pixels and pixel size only. Acquisition dates are given to the month.
"""
    path = out / "README.md"
    path.write_text(text, encoding="utf-8")
    return path


def _size_category(total: int) -> str:
    bounds = ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"))
    return next((label for bound, label in bounds if total < bound), "n>1M")


def write_manifest(out: Path) -> Path:
    """manifest-sha256.txt: `<sha256>  <path>` for every file of the export but itself, sorted."""
    lines = []
    for folder, _dirs, names in os.walk(out):
        for name in names:
            path = Path(folder, name)
            relative = path.relative_to(out).as_posix()
            if relative != MANIFEST:
                lines.append(f"{file_sha256(path)}  {relative}")
    target = out / MANIFEST
    target.write_text("\n".join(sorted(lines, key=lambda line: line[66:])) + "\n", encoding="utf-8")
    return target


def split_counts(rows: Sequence[dict[str, Any]]) -> dict[str, int]:
    counts = Counter(row["split"] for row in rows)
    return {split: counts.get(split, 0) for split in SPLIT_NAMES}


def now() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)
