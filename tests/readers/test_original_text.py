"""A Hitachi sidecar's keys found without the full parse, and its text kept as the original metadata:
the record and the dict everyone sees must be what the full parse gives, for any text."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emcensus.readers import read_metadata
from emcensus.readers.base import RawOriginal, read_sidecar
from emcensus.readers.common import parse_ini
from emcensus.readers.hitachi import _RECORD_KEYS, _fields, _parse_sniffed, looks_hitachi, reading_from_fields, record_fields
from emcensus.readers.original import PARSERS, as_dict, original_json, original_metadata
from support import hitachi_sidecar

#: Every character `str.strip` takes off or `str.splitlines` ends a line at, and the ones whose
#: case `lower` or a case-blind regex treat apart (Kelvin sign, long s, dotted/dotless i).
_ODD = "".join(c for c in map(chr, range(sys.maxunicode + 1)) if c.isspace()) + "\ufeff\u212a\u017f\u0130\u0131"
_PIECES = st.sampled_from([
    *_RECORD_KEYS, "Magnification", "MAGNIFICATION", "MagnificationDisplay", "SignalName", "instructName",
    "WorKingDistance", "[SemImageFile]", "[TemImageFile]", "[", "]", "[]", "=", "==", "x", "5000", "15.0kV",
    "Condition=Vacc=1.0kV Mag=x40.0k WD=12.5mm", "HD[Data]", "µ", "タンポポ", "\r\n", "\n", "\r", *_ODD,
])
_TEXTS = st.lists(_PIECES, max_size=40).map("".join)


def _full(text: str) -> dict[str, str]:
    fields = _fields(parse_ini(text))
    return {key: fields[key] for key in _RECORD_KEYS if key in fields}


@settings(max_examples=3000, deadline=None)
@given(_TEXTS)
def test_the_keys_found_alone_are_the_full_parse_s(text: str) -> None:
    fields = record_fields(text)
    if fields is not None:
        assert fields == _full(text)


@given(st.lists(st.sampled_from(["Magnification=5000", "magnification = 700", "  SignalName =SE(U)", "Media=HD[Data]",
                                 "Date=10/27/2016", "Comment=a=b", "Magnification=", "", "Condition=Vacc=15.0kV"]),
                max_size=12).map("\r\n".join), st.sampled_from(["", "\r\n", " \r\n"]))
def test_plain_sidecars_take_the_short_path(body: str, before: str) -> None:
    """What a facility's files hold (a bracket in a value, spaces, a repeated key, blank lines first) is
    read without the full parse."""
    text = f"{before}[SemImageFile]\r\n{body}"
    assert record_fields(text) == _full(text)


@pytest.mark.parametrize("text", [
    "[SemImageFile]\r\nMagnification=5\r\n[Other]\r\nSignalName=SE\r\n",  # a second section
    "SignalName=SE\r\n[SemImageFile]\r\nMagnification=5\r\n",  # keys before the section
    "\ufeff[SemImageFile]\r\nMagnification=5\r\n",
    "[SemImageFile]\r\nMagnification=5\r\nWor\u212aingDistance=7 um\r\n",
])
def test_texts_the_full_parse_decides(text: str) -> None:
    assert record_fields(text) is None
    reading = _parse_sniffed(text)
    assert reading.original_metadata == parse_ini(text)  # the dict itself: nothing to store as text


def test_a_sidecar_reading_keeps_its_text_and_gives_the_full_parse_s_record() -> None:
    text = hitachi_sidecar(40000, "SE(U)").replace("Time=", "Media=HD[Data]\r\nTime=")
    reading = _parse_sniffed(text)
    assert reading.original_metadata == RawOriginal("hitachi-sem", text)
    full = reading_from_fields(_fields(parse_ini(text)), parse_ini(text), "sidecar:hitachi-sem")
    reading.original_metadata = as_dict(reading.original_metadata)
    assert reading == full


def test_stored_forms_read_back_as_the_dict() -> None:
    text = hitachi_sidecar(200, "BSE")
    assert original_metadata(text, "hitachi-sem") == parse_ini(text)
    assert original_metadata('{"a": [1, NaN]}', None)["a"][0] == 1  # JSON rows, as every catalog before held them
    assert original_metadata(None, None) == {} and original_json(None, None) is None
    assert original_json('{"a": 1}', None) == '{"a": 1}'  # JSON is exported as stored
    assert set(PARSERS) == {"hitachi-sem"}


def test_real_sidecars_rebuild_as_a_direct_parse(vendor_samples: Path) -> None:
    """The TM4000's files (Japanese names, CRLF): the dict rebuilt from the kept text is the direct parse's."""
    sidecars = sorted((vendor_samples / "hitachi-sem-txt").glob("*.txt"))
    assert sidecars
    for sidecar in sidecars:
        text = read_sidecar(sidecar)
        assert looks_hitachi(text)
        fields = record_fields(text)
        assert fields is not None and fields == _full(text), sidecar.name
        kept = _parse_sniffed(text).original_metadata
        assert isinstance(kept, RawOriginal) and original_metadata(kept.text, kept.form) == parse_ini(text)
        assert read_metadata(sidecar.with_suffix(".tif")).original_metadata == parse_ini(text)
