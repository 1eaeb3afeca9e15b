"""`emcensus reuse export` on a generated archive, with the network blocked: what a data scientist
loads is what the catalog says, pixel for pixel, described by a valid Croissant and RO-Crate, split
without leakage, and without one real name in any byte."""

from __future__ import annotations

import io
import json
from collections import defaultdict
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import tifffile

from emcensus.catalog import Catalog
from emcensus.reuse.export import ReuseOptions, export_reuse
from emcensus.reuse.stage import TAG_WHITELIST
from reuse.support_reuse import SECRET, Census, decode, eligible, exported_texts, pixel_digest, real_names, tiff_tags


def _rows(out: Path) -> list[dict]:
    return pq.read_table(out / "metadata.parquet").to_pylist()


def _originals(census: Census, **kwargs) -> dict[str, Path]:
    return eligible(census.catalog, census.blank_ids, **kwargs)


def test_imagefolder_loads_the_catalog_selection_pixel_for_pixel(census: Census, exported: Path, tmp_path: Path):
    from datasets import load_dataset

    expected = _originals(census)
    rows = _rows(exported)
    dataset = load_dataset("imagefolder", data_dir=str(exported / "data"), cache_dir=str(tmp_path / "hf"))
    per_split = {split: sum(row["split"] == split for row in rows) for split in ("train", "validation", "test")}
    assert {split: len(dataset[split]) for split in dataset} == {k: v for k, v in per_split.items() if v}
    assert sum(per_split.values()) == len(expected) == len(rows)
    assert per_split["train"] > per_split["validation"] > 0 and per_split["test"] > 0
    by_source: dict[str, Path] = {}
    for digest, path in expected.items():
        by_source[pixel_digest(decode(path))] = path
    seen = set()
    for split in dataset:
        for record in dataset[split]:
            pixels = np.asarray(record["image"])
            original = decode(expected[record["image_id"]])  # image_id is the sha256 of the pixels
            assert pixels.dtype == original.dtype and np.array_equal(pixels, original)
            assert record["split"] == split and not record["published"]
            seen.add(record["image_id"])
    assert seen == set(expected)


def test_metadata_columns_and_values(census: Census, exported: Path):
    rows = _rows(exported)
    schema = pq.read_schema(exported / "metadata.parquet")
    features = json.loads(schema.metadata[b"huggingface"])["info"]["features"]
    assert features["image"]["_type"] == "Image"
    for column in ("image_id", "source_sha256", "split", "component_id", "group_pseudo", "project_pseudo",
                   "session_pseudo", "operator_pseudo", "instrument", "vendor", "technique", "detector_family",
                   "detector_raw", "magnification", "pixel_size_m", "fov_width_m", "scalebar_decade",
                   "accelerating_voltage_v", "working_distance_m", "acquired_month", "published", "license",
                   "embargo_until", "access", "sharpness", "sharpness_pct", "quality_flag", "blank", "dup_group"):
        assert column in schema.names
    assert {row["license"] for row in rows} == {"CC-BY-4.0"}
    assert all(len(row["acquired_month"]) == 7 for row in rows)
    assert sum(row["operator_pseudo"] is not None for row in rows) > len(rows) / 2  # most frames have a sidecar
    measured = [row for row in rows if row["sharpness"] is not None]
    assert len(measured) == 4 and all(row["blank"] is False for row in measured)  # 2 blank ones left out
    assert all(row["blank"] is None and row["quality_flag"] is None for row in rows if row["sharpness"] is None)
    with Catalog(census.catalog, readonly=True) as catalog:
        sources = {row["path"]: row for row in catalog.images()}
    by_sha = {}
    for path, row in sources.items():
        by_sha.setdefault(__import__("hashlib").sha256(Path(path).read_bytes()).hexdigest(), row)
    for row in rows:
        original = by_sha[row["source_sha256"]]
        assert row["instrument"] == original["instrument"] and row["magnification"] == original["magnification"]
        assert row["acquired_month"] == original["acquired_at"][:7]


def test_no_component_project_session_or_duplicate_in_two_splits(exported: Path):
    rows = _rows(exported)
    for key in ("component_id", "project_pseudo", "session_pseudo", "dup_group", "source_sha256"):
        splits = defaultdict(set)
        for row in rows:
            if row[key] is not None:
                splits[row[key]].add(row["split"])
        assert splits and all(len(found) == 1 for found in splits.values()), key


def test_no_real_name_or_secret_in_any_exported_byte(census: Census, exported: Path):
    names = real_names(census.root)
    assert {"Catalysis", "Polymers"} & names and any(name.islower() for name in names)  # groups and users found
    catalog_bytes = census.catalog.read_bytes()  # the same search finds them where they are
    assert sum(name.encode() in catalog_bytes for name in names) > len(names) / 2
    texts = exported_texts(exported)
    assert any(name.endswith(".tar") or name.endswith(".parquet") for name, _ in texts)
    for where, data in texts:
        for name in names:
            assert name.encode() not in data, f"{name!r} in {where}"
        assert SECRET.encode() not in data
        assert str(census.root).encode() not in data
    for image in (exported / "data").rglob("*.tif"):
        assert tiff_tags(image.read_bytes()) <= TAG_WHITELIST


def test_croissant_validates_and_its_records_are_the_parquet_rows(exported: Path):
    import mlcroissant as mlc

    dataset = mlc.Dataset(jsonld=str(exported / "croissant.json"))  # raises on an invalid description
    records = list(dataset.records("images"))
    rows = _rows(exported)
    assert len(records) == len(rows)

    def plain(value):
        if isinstance(value, bytes):
            return value.decode()
        if isinstance(value, float) and np.isnan(value):
            return None
        return value.item() if isinstance(value, np.generic) else value

    for record, row in zip(records, rows, strict=True):
        got = {key.split("/", 1)[1]: plain(value) for key, value in record.items()}
        assert got == {key: value for key, value in row.items() if key != "image"}
    description = json.loads((exported / "croissant.json").read_text())
    assert description["rai:personalSensitiveInformation"] and description["rai:dataCollection"]
    assert description["distribution"][0]["sha256"]


def test_ro_crate_validates_offline(exported: Path, tmp_path: Path):
    from reuse.support_rocrate import validate_offline

    result = validate_offline(exported, tmp_path / "rocrate-cache")
    assert result.passed(), [issue.message for issue in result.get_issues()]
    graph = {entity["@id"]: entity for entity in json.loads((exported / "ro-crate-metadata.json").read_text())["@graph"]}
    actions = [entity for entity in graph.values() if entity["@type"] == "CreateAction"]
    sessions = {row["session_pseudo"] for row in _rows(exported)}
    assert len(actions) == len(sessions) + 1
    run = graph["#export"]
    software = graph[run["instrument"]["@id"]]
    assert software["@type"] == "SoftwareApplication" and software["name"] == "emcensus" and software["version"]
    session = next(action for action in actions if action["@id"] != "#export")
    assert graph[session["instrument"]["@id"]]["name"] in ("SU8000", "SU8230", "HT7700")


def test_manifest_lists_every_file_with_its_sha256(exported: Path):
    import hashlib

    lines = (exported / "manifest-sha256.txt").read_text().splitlines()
    listed = dict(reversed(line.split("  ", 1)) for line in lines)
    files = {p.relative_to(exported).as_posix() for p in exported.rglob("*") if p.is_file()}
    assert set(listed) == files - {"manifest-sha256.txt"}
    for name, digest in listed.items():
        assert hashlib.sha256((exported / name).read_bytes()).hexdigest() == digest
    card = (exported / "README.md").read_text()
    assert card.startswith("---\nlicense: cc-by-4.0") and "train" in card


def test_webdataset_shards_open_with_webdataset(census: Census, tmp_path: Path):
    import webdataset as wds

    out = tmp_path / "wds"
    census.invoke("reuse", "export", str(out), "--license", "CC0-1.0", "--format", "webdataset",
                  "--secret-file", str(census.secret_file), "--workers", "0")
    rows = _rows(out)
    shards = sorted(str(p) for p in (out / "shards").glob("*.tar"))
    assert [Path(s).name.split("-")[0] for s in shards] == sorted({row["split"] for row in rows})
    samples = list(wds.WebDataset(shards, shardshuffle=False, empty_check=False))
    assert len(samples) == len(rows)
    for sample in samples:
        meta = json.loads(sample["json"])
        pixels = tifffile.imread(io.BytesIO(sample["tif"]))
        assert pixel_digest(pixels) == sample["__key__"] == meta["image_id"]
    names = real_names(census.root)
    for where, data in exported_texts(out):
        assert not any(name.encode() in data for name in names), where


def test_parquet_format_round_trips_image_bytes(census: Census, tmp_path: Path):
    out = tmp_path / "pq"
    census.invoke("reuse", "export", str(out), "--license", "CC0-1.0", "--format", "parquet",
                  "--secret-file", str(census.secret_file), "--workers", "0")
    assert not (out / "data").exists()
    expected = _originals(census)
    rows = _rows(out)
    assert len(rows) == len(expected)
    for row in rows:
        pixels = tifffile.imread(io.BytesIO(row["image"]["bytes"]))
        assert tiff_tags(row["image"]["bytes"]) <= TAG_WHITELIST
        assert np.array_equal(pixels, decode(expected[row["image_id"]]))
    from datasets import load_dataset

    loaded = load_dataset("parquet", data_files=str(out / "metadata.parquet"), cache_dir=str(tmp_path / "hf"))["train"]
    first = loaded[0]  # the `image` column is an Image feature: decoded by datasets itself
    assert np.array_equal(np.asarray(first["image"]), decode(expected[first["image_id"]]))
    names = real_names(census.root)
    for where, data in exported_texts(out):  # the TIFF bytes inside the Parquet file included
        assert not any(name.encode() in data for name in names), where


def test_embargo_and_published_filtering(census: Census, tmp_path: Path):
    with Catalog(census.catalog, readonly=True) as catalog:
        summary = export_reuse(catalog, tmp_path / "embargo", ReuseOptions(
            license="CC-BY-4.0", embargo_years=3, today=date(2019, 6, 1)), SECRET.encode(), workers=0)
    rows = _rows(tmp_path / "embargo")
    expected = _originals(census, acquired_before="2016-06-01")
    assert 0 < len(rows) == len(expected) == sum(summary.splits.values())
    assert all(row["acquired_month"] <= "2016-06" and row["embargo_until"] <= "2019-06-01" for row in rows)
    assert any("under embargo" in reason for reason in summary.excluded)

    out = tmp_path / "with-published"
    census.invoke("reuse", "export", str(out), "--license", "CC-BY-4.0", "--include-published",
                  "--secret-file", str(census.secret_file), "--workers", "0")
    rows = _rows(out)
    assert len(rows) == len(_originals(census, include_published=True))
    assert sum(row["published"] for row in rows) == 3


def test_filters_narrow_the_export(census: Census, tmp_path: Path):
    out = tmp_path / "tem"
    census.invoke("reuse", "export", str(out), "--license", "CC-BY-4.0", "--technique", "TEM",
                  "--secret-file", str(census.secret_file), "--workers", "0")
    rows = _rows(out)
    assert rows and {row["technique"] for row in rows} == {"TEM"}


def test_same_secret_and_seed_give_the_same_export(census: Census, exported: Path, tmp_path: Path):
    out = tmp_path / "again"
    census.invoke("reuse", "export", str(out), "--license", "CC-BY-4.0", "--workers", "0",
                  env={"EMCENSUS_SECRET": SECRET})
    key = ("image_id", "split", "group_pseudo", "session_pseudo", "operator_pseudo")
    assert [tuple(r[k] for k in key) for r in _rows(out)] == [tuple(r[k] for k in key) for r in _rows(exported)]
    other = tmp_path / "other-seed"
    census.invoke("reuse", "export", str(other), "--license", "CC-BY-4.0", "--workers", "0", "--seed", "9",
                  "--secret-file", str(census.secret_file))
    assert {r["image_id"]: r["split"] for r in _rows(other)} != {r["image_id"]: r["split"] for r in _rows(exported)}


@pytest.mark.parametrize(("args", "message"), [
    (["--license", "CC-BY-4"], "not an SPDX licence"),
    (["--license", "CC-BY-4.0", "--splits", "80,10"], "three whole percentages"),
    (["--license", "CC-BY-4.0", "--splits", "80,10,20"], "sums to 110"),
])
def test_bad_options_are_refused_before_anything_is_written(census: Census, tmp_path: Path, args, message):
    out = tmp_path / "refused"
    result = census.invoke("reuse", "export", str(out), *args, "--secret-file", str(census.secret_file), ok=False)
    assert result.exit_code == 1 and message in result.output
    assert not out.exists()


def test_a_secret_is_required_and_never_inside_the_export(census: Census, tmp_path: Path):
    result = census.invoke("reuse", "export", str(tmp_path / "a"), "--license", "CC-BY-4.0", ok=False,
                           env={"EMCENSUS_SECRET": ""})
    assert result.exit_code == 1 and "facility secret is needed" in result.output
    short = tmp_path / "short.txt"
    short.write_text("abc")
    result = census.invoke("reuse", "export", str(tmp_path / "b"), "--license", "CC-BY-4.0", "--secret-file",
                           str(short), ok=False)
    assert "at least 16" in result.output
    out = tmp_path / "c"
    out.mkdir()
    inside = out / "secret.txt"
    inside.write_text(SECRET)
    result = census.invoke("reuse", "export", str(out), "--license", "CC-BY-4.0", "--secret-file", str(inside),
                           ok=False)
    assert "inside the export folder" in result.output


def test_out_must_be_outside_the_archive_and_empty(census: Census, tmp_path: Path):
    inside = census.root / "SU8230" / "dataset"
    result = census.invoke("reuse", "export", str(inside), "--license", "CC-BY-4.0", "--secret-file",
                           str(census.secret_file), ok=False)
    assert "never writes into an archive" in result.output and not inside.exists()
    full = tmp_path / "full"
    full.mkdir()
    (full / "old.txt").write_text("x")
    result = census.invoke("reuse", "export", str(full), "--license", "CC-BY-4.0", "--secret-file",
                           str(census.secret_file), ok=False)
    assert "not empty" in result.output


def test_the_secret_can_come_from_the_facility_file(census: Census, exported: Path, tmp_path: Path):
    facility = tmp_path / "facility.toml"
    facility.write_text(f'[facility]\nname = "x"\n\n[reuse]\nsecret_file = "{census.secret_file}"\n')
    out = tmp_path / "via-config"
    census.invoke("reuse", "export", str(out), "--license", "CC-BY-4.0", "--config", str(facility), "--workers", "0",
                  env={"EMCENSUS_SECRET": ""})
    assert [r["group_pseudo"] for r in _rows(out)] == [r["group_pseudo"] for r in _rows(exported)]
    facility.write_text('[reuse]\nsecret_file = 7\n')
    result = census.invoke("reuse", "export", str(tmp_path / "bad"), "--license", "CC-BY-4.0", "--config",
                           str(facility), ok=False)
    assert "[reuse] secret_file must be a file path" in result.output

def test_the_archive_is_untouched_by_every_export(census: Census, exported: Path):
    """Run last in this file: after the folder, webdataset, parquet, filtered and refused exports,
    every file of the archive has its bytes, mtime and mode (the reads use O_NOATIME)."""
    from support import fingerprint

    assert fingerprint(census.root) == census.untouched

