"""Near-duplicate groups on a real scanned archive: one frame's exports and copies are one group,
different fields are not; the candidate window and union-find on their own."""

from __future__ import annotations

from datetime import date

from PIL import Image

from emcensus.quality.duplicates import Hashed, candidate_pairs, day_of, groups
from emcensus.quality.runner import update_quality
from emcensus.scan import RootSpec, scan


def test_one_frame_saved_three_ways_and_a_cropped_copy_are_one_group_other_fields_are_not(duplicate_archive) -> None:
    archive = duplicate_archive
    update_quality(archive.catalog, workers=0)
    ids = [archive.id_of(path) for path in archive.frame_files]
    rows = {row["image_id"]: row for row in archive.catalog.quality_rows()}
    assert all(rows[i]["error"] is None for i in rows)
    group = rows[ids[0]]["dup_group"]
    assert group == min(ids + [archive.id_of(archive.repeat)])  # named by its smallest id
    assert {rows[i]["dup_group"] for i in ids} == {group}
    # A repeat of the same field is the same sample for reuse (decided in quality.duplicates): grouped.
    assert rows[archive.id_of(archive.repeat)]["dup_group"] == group
    assert all(rows[archive.id_of(path)]["dup_group"] is None for path in archive.others)
    detail = archive.catalog.image_quality(ids[0])
    assert sorted(d["id"] for d in detail["duplicates"]) == sorted([*ids[1:], archive.id_of(archive.repeat)])


def test_the_tif_and_its_exports_measure_alike_once_the_data_bar_is_cut(duplicate_archive) -> None:
    archive = duplicate_archive
    update_quality(archive.catalog, workers=0)
    rows = {row["image_id"]: row for row in archive.catalog.quality_rows()}
    tif, _, bmp, _ = (rows[archive.id_of(path)] for path in archive.frame_files)
    assert tif["sharpness"] == bmp["sharpness"] and tif["noise_sigma"] == bmp["noise_sigma"]
    assert tif["pixel_sha256"] == bmp["pixel_sha256"] and tif["content_sha256"] != bmp["content_sha256"]
    assert tif["clipped_high"] < 0.01  # the white data-bar text is not counted as clipping
    assert tif["resolution_m"] == tif["resolution_px"] * archive.catalog.image(archive.id_of(archive.frame_files[0]))["pixel_size_m"]


def _hashed(image_id: int, instrument: str, day: date | None, phash: int = 0xF0F0F0F0F0F0F0F0) -> Hashed:
    return Hashed(image_id, instrument, day, phash, phash)


def test_candidates_stay_within_one_instrument_and_a_day_unless_the_day_is_unknown() -> None:
    images = [
        _hashed(1, "SU8230", date(2019, 1, 2)),
        _hashed(2, "SU8230", date(2019, 1, 3)),  # a day later: a candidate
        _hashed(3, "SU8230", date(2019, 1, 5)),  # three days later: not
        _hashed(4, "HT7700", date(2019, 1, 2)),  # another instrument: not
        _hashed(5, "SU8230", None),  # a copy dated only by its file: compared with its instrument
        _hashed(6, "SU8230", date(2019, 1, 2), phash=0x0F0F0F0F0F0F0F0F),  # far in both hashes: not
    ]
    assert candidate_pairs(images) == [(1, 2), (1, 5), (2, 5), (3, 5)]
    # around some images only (an incremental run): the same pairs, those holding one of them
    assert candidate_pairs(images, focus={2}) == [(1, 2), (2, 5)]
    assert candidate_pairs(images, focus={5, 6}) == [(1, 5), (2, 5), (3, 5)]


def test_union_find_joins_chains_and_names_groups_by_the_smallest_id() -> None:
    assert groups([1, 2, 3, 4, 5, 9], [(2, 9), (5, 9), (3, 4)]) == {2: 2, 5: 2, 9: 2, 3: 3, 4: 3}
    assert groups([1, 2], []) == {}


def test_only_a_metadata_date_is_an_acquisition_day() -> None:
    assert day_of("2019-01-02T10:11:12", "metadata") == date(2019, 1, 2)
    assert day_of("2026-11-30T02:00:00", "mtime") is None  # the day the copy was made
    assert day_of(None, "metadata") is None
    assert day_of("not a date", "metadata") is None


def test_groups_follow_changes_a_re_saved_export_stays_a_deleted_copy_leaves(duplicate_archive) -> None:
    archive = duplicate_archive
    update_quality(archive.catalog, workers=0)
    tif, jpg, bmp, crop = archive.frame_files
    Image.open(tif).save(jpg, quality=70)  # the export saved again, harder compressed
    crop.unlink()  # the copy for the slides deleted
    scan(archive.catalog, [RootSpec(str(archive.root), "SU8230")], workers=0)
    summary = update_quality(archive.catalog, workers=0)
    assert summary.measured == 1
    rows = {row["image_id"]: row for row in archive.catalog.quality_rows()}
    members = [archive.id_of(path) for path in (tif, jpg, bmp, archive.repeat)]
    assert {rows[i]["dup_group"] for i in members} == {min(members)}
    assert archive.id_of(crop) not in rows  # missing: no longer measured, and out of the group
    assert sum(row["dup_group"] is not None for row in rows.values()) == 4


def test_a_deletion_alone_regroups_without_reading_any_file(duplicate_archive) -> None:
    archive = duplicate_archive
    update_quality(archive.catalog, workers=0)
    tif, jpg, bmp, crop = archive.frame_files
    crop_id = archive.id_of(crop)
    assert archive.catalog.image_quality(crop_id)["dup_group"] is not None
    crop.unlink()  # nothing else changed: no file to measure, only the ranking is out of date
    scan(archive.catalog, [RootSpec(str(archive.root), "SU8230")], workers=0)
    summary = update_quality(archive.catalog, workers=0)
    assert summary.measured == 0 and summary.reused == 0 and summary.unchanged == summary.images
    assert archive.catalog.image_quality(crop_id)["dup_group"] is None
    members = [archive.id_of(path) for path in (tif, jpg, bmp, archive.repeat)]
    assert summary.duplicate_groups == 1 and summary.in_groups == len(members)
