"""What crosses between the reading processes and the writer is pickled by field values
(`reduce_by_fields`): every field comes back, whatever the number of fields."""

from __future__ import annotations

import pickle
from dataclasses import dataclass, fields

from emcensus.catalog import FileResult, GroupResult
from emcensus.record import ImageRecord, Problem, reduce_by_fields


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
