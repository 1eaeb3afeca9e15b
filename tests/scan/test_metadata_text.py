"""The vendor metadata a census stores (orjson) holds what `json.dumps(default=str)` wrote before."""

from __future__ import annotations

import datetime
import enum
import json
from pathlib import Path

import numpy as np

from emcensus.errors import UnreadableFileError
from emcensus.readers import IMAGE_EXTENSIONS, read_metadata
from emcensus.scan import metadata_text


def _reference(metadata: dict) -> object:
    return json.loads(json.dumps(metadata, ensure_ascii=False, default=str))


def test_every_real_vendor_file_gives_the_same_metadata(vendor_samples: Path) -> None:
    compared = 0
    for path in sorted(vendor_samples.rglob("*")):
        if not path.is_file() or path.suffix.lower() not in IMAGE_EXTENSIONS:
            continue
        try:
            metadata = read_metadata(path).original_metadata
        except UnreadableFileError:
            continue
        assert json.loads(metadata_text(metadata)) == _reference(metadata), path.name
        compared += 1
    assert compared >= 20


class _Code(enum.IntEnum):
    SE = 3


def test_values_orjson_has_its_own_form_for_are_written_as_before() -> None:
    metadata = {
        "float64": np.float64(1.5), "int64": np.int64(3), "float32": np.float32(0.1), "array": np.arange(3),
        "when": datetime.datetime(2016, 6, 23, 10, 11, 12), "day": datetime.date(2016, 6, 23), "enum": _Code.SE,
        "tuple": (1, (2.5, "x")), "text": "Ni–Mo 漢字", "none": None, "flag": True, "small": 1e-5,
        "nested": {"deep": [{"k": np.float64(2.0)}]},
    }
    assert json.loads(metadata_text(metadata)) == _reference(metadata)


def test_what_orjson_refuses_goes_through_json() -> None:
    for metadata in ({"big": 2**70}, {1: "int key"}, {"name": "Gr\udcf6\udcdfe"}):
        text = metadata_text(metadata)
        assert text == json.dumps(metadata, ensure_ascii=False, default=str)


def test_not_a_number_becomes_null() -> None:
    assert json.loads(metadata_text({"x": float("nan"), "y": float("inf")})) == {"x": None, "y": None}
