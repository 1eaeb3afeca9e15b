"""What crosses between the reading processes and the writer is pickled by field values
(`reduce_by_fields`): every field comes back, whatever the number of fields. Acquisitions go out
packed, and come back as the catalog rows that store them."""

from __future__ import annotations

import pickle
from dataclasses import dataclass, fields

from emcensus.catalog import FileResult, GroupResult, group_rows
from emcensus.catalog.derived import RootSettings
from emcensus.record import ImageRecord, Problem, reduce_by_fields
from emcensus.scan import RootSpec, _pack, _Task
from emcensus.scan.walk import FileStat, Group


@dataclass(slots=True)
class _One:
    value: object

    __reduce__ = reduce_by_fields


@dataclass(slots=True)
class _None:
    __reduce__ = reduce_by_fields


def test_a_read_acquisition_comes_back_field_for_field() -> None:
    record = ImageRecord("/a/x.tif", vendor="Hitachi", magnification=40000.0, width_px=1280, acquired_at="2019-01-02T03:04:05",
                         original_metadata={"SemImageFile": {"PixelSize": "24.8"}})
    group = GroupResult("k", [FileResult("/a/x.tif", "x.tif", 10, 20, record, None, '{"a": 1}'),
                              FileResult("/a/x.jpg", "x.jpg", 11, 21, None, "damaged JPEG")],
                        "/a/x.txt", 5, 6, [Problem("/a/x.jpg", "damaged JPEG")])
    back = pickle.loads(pickle.dumps(group))
    assert back == group and type(back.files[0].record) is ImageRecord
    assert [getattr(back.files[0].record, f.name) for f in fields(ImageRecord)] == [
        getattr(record, f.name) for f in fields(ImageRecord)]


def test_dataclasses_of_one_field_and_of_none_pickle_too() -> None:
    assert pickle.loads(pickle.dumps(_One((1, "a")))) == _One((1, "a"))
    assert pickle.loads(pickle.dumps(_None())) == _None()


def test_read_acquisitions_travel_to_the_writer_as_rows_with_their_counts() -> None:
    """A reading process sends the catalog rows (the writer only runs SQL), with what they count."""
    record = ImageRecord("/a/x.tif", vendor="Hitachi", magnification=40000.0, width_px=1280, pixel_size_m=2.48e-9,
                         acquired_at="2019-01-02T03:04:05", acquired_at_source="metadata")
    group = GroupResult("/a/x", [FileResult("/a/x.tif", "x.tif", 10, 20, record, None, '{"a": 1}'),
                                 FileResult("/a/x.jpg", "x.jpg", 11, 21, None, "damaged JPEG")],
                        "/a/x.txt", 5, 6, [Problem("/a/x.jpg", "damaged JPEG"), Problem("/a/x.txt", "odd", "warning")])
    rows = group_rows(RootSettings("Hitachi", "SEM"), 3, 7, [group])
    assert pickle.loads(pickle.dumps(rows)) == rows
    assert (rows.files, rows.errors, rows.warnings) == (2, 1, 1)
    assert [row[:3] for row in rows.read_rows] == [("/a/x.tif", 3, 7)]  # path, scan, root
    assert [row[:3] for row in rows.failed_rows] == [("/a/x.jpg", 3, 7)]
    assert rows.metadata_rows == [('{"a": 1}', "/a/x.tif")] and rows.keys == ["/a/x"]


def test_a_reading_task_carries_its_acquisitions_packed_as_the_walk_found_them() -> None:
    """Acquisitions go from a survey to a reading task pickled once; the task unpacks them."""
    groups = [Group("/a/x", [FileStat("/a/x.tif", 10, 20), FileStat("/a/x.jpg", 11, 21)], FileStat("/a/x.txt", 5, 6)),
              Group("/a/y", [FileStat("/a/y.txt", 1, 2)], sidecar_only=True)]
    packs = _pack(groups, 1)
    assert [(pack.acquisitions, pack.images, pack.files) for pack in packs] == [(1, 2, 2), (1, 0, 1)]
    task = pickle.loads(pickle.dumps(_Task(RootSpec("/a"), "/a", packs, 1, 1, RootSettings())))
    assert task.groups == groups and task.file_count == 3
    assert task.files == ["/a/x.tif", "/a/x.jpg", "/a/y.txt"]
    assert task.skip([1], "took too long").not_read == {"/a/x.jpg": "took too long"}
