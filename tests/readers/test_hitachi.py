"""Hitachi sidecars: the real TM4000 files, and the SU-series / HT7700 variants the facility writes."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from PIL import Image

from emcensus import read_metadata
from emcensus.catalog import Catalog
from emcensus.catalog.cube import CUBE_FILLS
from emcensus.errors import UnreadableFileError
from emcensus.readers import Source, read_source
from emcensus.readers import hitachi
from emcensus.readers.hitachi import looks_hitachi, parse_hitachi
from emcensus.scan import RootSpec, scan
from emcensus.vocab import detector_family, infer_technique
from support import hitachi_sidecar, write_tiff

HITACHI_PRINT_WIDTH_M = 0.127  # Hitachi's magnification refers to a 127 mm wide print


@pytest.mark.parametrize(("sample", "mag", "wd_mm", "time"), [
    ("hitachi-sem-txt/sample-１_200倍(x200).tif", 200, 7.70635, "16:38:33"),
    ("hitachi-sem-txt/sample-１_600倍(x600).tif", 600, 7.8923, "16:41:13"),
], indirect=["sample"])
def test_tm4000_sidecar(sample: Path, mag: int, wd_mm: float, time: str) -> None:
    record = read_metadata(sample)
    assert (record.vendor, record.instrument, record.technique) == ("Hitachi", "TM4000", "SEM")
    assert (record.detector, record.detector_family) == ("BSE", "BSE")
    assert record.magnification == mag
    assert record.accelerating_voltage_v == 15000
    assert record.working_distance_m == pytest.approx(wd_mm * 1e-3)
    assert (record.width_px, record.height_px) == (1280, 960)
    assert record.pixel_size_m * 1280 == pytest.approx(HITACHI_PRINT_WIDTH_M / mag, rel=1e-3)
    assert record.acquired_at == f"2021-06-23T{time}"
    assert record.metadata_source == "sidecar:hitachi-sem"
    # ImageName= still names the file before its rename: pairing is by stem, the field is only kept
    assert record.original_metadata["SemImageFile"]["ImageName"].startswith("タンポポ花粉")


@pytest.mark.parametrize("sample", ["hitachi-sem-txt/sample-１_200倍(x200).tif"], indirect=True)
def test_sidecar_reader_does_not_open_the_image(sample: Path) -> None:
    with Source(sample, sample.with_suffix(".txt")) as source:
        read_source(source)
        assert source._tiff is None


@pytest.mark.parametrize("sample", ["hitachi-sem-txt/sample-１_200倍(x200).tif"], indirect=True)
def test_tm4000_tiff_without_its_sidecar(sample: Path) -> None:
    """The TIFF's XPComment/XPAuthor tags still give model, mode and calibration."""
    with Source(sample, None) as source:
        record = read_source(source)
    assert record.metadata_source == "tiff-tag:40092"
    assert (record.instrument, record.detector, record.magnification) == ("TM4000", "BSE", 200)
    assert record.accelerating_voltage_v == 15000
    assert record.working_distance_m == pytest.approx(7.7e-3)
    assert record.pixel_size_m == pytest.approx(496.0938e-9)


@pytest.mark.parametrize(("encoding", "date", "expected"), [
    ("cp1252", "06/23/2016", "2016-06-23T10:11:12"),
    ("utf-16", "2016/06/23", "2016-06-23T10:11:12"),
    ("cp932", "23.06.2016", "2016-06-23T10:11:12"),
    ("utf-8", "23/06/2016", "2016-06-23T10:11:12"),  # day first when it cannot be a month
])
def test_su_series_sidecar_encodings_and_dates(tmp_path: Path, encoding: str, date: str, expected: str) -> None:
    write_tiff(tmp_path / "a.tif")
    (tmp_path / "a.txt").write_bytes(hitachi_sidecar(50000, "LA-BSE(U)", date).encode(encoding))
    record = read_metadata(tmp_path / "a.tif")
    assert (record.vendor, record.instrument, record.technique) == ("Hitachi", "SU8230", "SEM")
    assert (record.detector, record.detector_family) == ("LA-BSE(U)", "LA-BSE")
    assert record.acquired_at == expected
    assert record.fov_width_m == pytest.approx(HITACHI_PRINT_WIDTH_M / 50000, rel=1e-3)


@pytest.mark.parametrize(("signal", "family", "technique"), [
    ("SE(U)", "SE", "SEM"), ("SE(L)", "SE", "SEM"), ("HA-BSE", "HA-BSE", "SEM"), ("PDBSE", "PDBSE", "SEM"),
    ("TE", "TE", "STEM"), ("BF-STEM", "BF-STEM", "STEM"), ("DF-STEM", "DF-STEM", "STEM"),
])
def test_signal_names(signal: str, family: str, technique: str) -> None:
    reading = parse_hitachi(hitachi_sidecar(100000, signal, model="SU8000"))
    assert reading.detector == signal
    assert detector_family(reading.detector) == family
    assert infer_technique(family, reading.technique, "SEM") == technique


def test_ht7700_tem_sidecar(tmp_path: Path) -> None:
    text = "\r\n".join([
        "[SemImageFile]", "InstructName=HT7700", "SignalName=", "Magnification=40000",
        "AcceleratingVoltage=100 kV", "PixelSize=0.62", "DataSize=2048x2048", "Date=11/02/2015", "Time=14:05:09",
        "[Camera]", "CameraName=AMT XR81", "",
    ])
    write_tiff(tmp_path / "t.tif")
    (tmp_path / "t.txt").write_text(text, encoding="cp1252")
    record = read_metadata(tmp_path / "t.tif")
    assert (record.instrument, record.technique, record.detector) == ("HT7700", "TEM", None)
    assert record.accelerating_voltage_v == 100000
    assert record.pixel_size_m == pytest.approx(0.62e-9)
    assert (record.width_px, record.height_px) == (2048, 2048)
    assert record.acquired_at == "2015-11-02T14:05:09"


def test_tolerates_units_missing_keys_and_no_section() -> None:
    reading = parse_hitachi("SignalName=SE(L)\nAcceleratingVoltage=1.5kV\nWorkingDistance=4.1 mm\nFoo=bar\n")
    assert (reading.model, reading.detector) == (None, "SE(L)")
    assert reading.accelerating_voltage_v == 1500
    assert reading.working_distance_m == pytest.approx(4.1e-3)
    assert reading.magnification is reading.pixel_size_m is reading.acquired_at is None


def test_condition_line_fills_missing_fields() -> None:
    reading = parse_hitachi("[SemImageFile]\r\nInstructName=S-4800\r\nCondition=Vacc=5.0kV Mag=x30.0k WD=8.1mm\r\n")
    assert (reading.accelerating_voltage_v, reading.magnification) == (5000, 30000)
    assert reading.working_distance_m == pytest.approx(8.1e-3)


@pytest.mark.parametrize("text", ["", "[SemImageFile]\r\n", "hello world", "$CM_MAG 5000\n$CM_ACCEL_VOLT 5\n"])
def test_refuses_text_without_hitachi_fields(text: str) -> None:
    with pytest.raises(UnreadableFileError):
        parse_hitachi(text)


def test_unrecognised_sidecar_is_a_warning_and_the_image_is_still_read(tmp_path: Path) -> None:
    write_tiff(tmp_path / "x.tif")
    (tmp_path / "x.txt").write_text("operator notes: nice sample\n")
    problems: list = []
    with Source(tmp_path / "x.tif", tmp_path / "x.txt") as source:
        record = read_source(source, problems=problems)
    assert record.metadata_source == "none" and (record.width_px, record.height_px) == (64, 48)
    assert [p.severity for p in problems] == ["warning"]


@pytest.mark.parametrize(("text", "hitachi"), [
    ("[TemImageFile]\r\nInstructName=HT7700\r\nTemVersion=03.11\r\nDataNumber=HT7700 0003\r\n", True),
    ("\ufeff\r\n instructname = S-4800\r\nSEMVERSION=1\r\n", True),  # any case, spaces, a BOM and a blank first
    ("[Other]\r\nInstructName=A\r\nInstructName=B\r\nName=x\r\n", False),  # one Hitachi key twice is one key
    ("Note=a=b\r\nInstructName=A\r\n" + "x\r\n" * 600 + "SignalName=SE\r\n", True),  # the second one far down
    ("InstructName=A\r\n" + "x" * 4100 + "\r\nSignalName=SE\r\n", False),  # only the first 4 KB are sniffed
    ("SignalName\r\nInstructName=A\r\n", False),  # a key without `=` is no key
])
def test_sniff_needs_two_distinct_hitachi_keys_in_the_first_4_kb(text: str, hitachi: bool) -> None:
    assert looks_hitachi(text) is hitachi


def test_a_repeated_value_means_the_same_in_every_field_and_unit() -> None:
    """Numbers are parsed once per text and unit: the same `8.1` is µm as a WorkingDistance, mm
    on the Condition line and nm as a PixelSize, whatever was read before."""
    for _ in range(2):
        main = parse_hitachi("[SemImageFile]\r\nInstructName=S-4800\r\nMagnification=8.1\r\nAcceleratingVoltage=8.1\r\n"
                             "WorkingDistance=8.1\r\nPixelSize=8.1\r\n")
        fallback = parse_hitachi("[SemImageFile]\r\nInstructName=S-4800\r\nCondition=Vacc=8.1 Mag=8.1 WD=8.1\r\n")
        assert (main.magnification, main.accelerating_voltage_v) == (8.1, 8.1)
        assert (main.working_distance_m, main.pixel_size_m) == (pytest.approx(8.1e-6), pytest.approx(8.1e-9))
        assert (fallback.magnification, fallback.accelerating_voltage_v) == (8.1, 8.1)
        assert fallback.working_distance_m == pytest.approx(8.1e-3)


def test_a_long_value_is_parsed_but_not_kept_in_the_parse_cache() -> None:
    """A sidecar line may be up to 1 MiB: such a text is parsed each time, never held by the cache."""
    from emcensus.readers import hitachi

    padding = " " * 200_000
    before = [parse.cache_info().currsize for parse in (hitachi._magnification, hitachi._volts, hitachi._metres)]
    reading = parse_hitachi(f"[SemImageFile]\r\nInstructName=S-4800\r\nMagnification=7123{padding}x\r\n"
                            f"AcceleratingVoltage=3217{padding}Volt\r\nWorkingDistance=7706.35{padding}um\r\n"
                            f"PixelSize=3.5{padding}nm\r\n")  # inside the value: a line's ends are stripped
    assert (reading.magnification, reading.accelerating_voltage_v) == (7123, 3217)
    assert (reading.working_distance_m, reading.pixel_size_m) == (pytest.approx(7706.35e-6), pytest.approx(3.5e-9))
    assert [parse.cache_info().currsize for parse in (hitachi._magnification, hitachi._volts, hitachi._metres)] == before


def test_the_exports_of_a_frame_parse_their_shared_sidecar_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """tif + jpg + bmp of one frame come with the same sidecar text: parsed once, and each file's record
    stays its own (the tif's size, filled from its pixels, is not the jpg's)."""
    from emcensus.readers.hitachi import HitachiSidecarReader

    parsed: list[str] = []
    parse = HitachiSidecarReader.parse
    monkeypatch.setattr(HitachiSidecarReader, "parse", staticmethod(lambda text: parsed.append(text) or parse(text)))
    write_tiff(tmp_path / "f.tif", shape=(48, 64))
    Image.new("L", (32, 24)).save(tmp_path / "f.jpg")
    (tmp_path / "f.txt").write_text(hitachi_sidecar(5000, "SE(U)").replace("DataSize=64x48\r\n", ""), encoding="cp1252")
    text, records = None, []
    for name in ("f.tif", "f.jpg", "f.tif"):
        with Source(tmp_path / name, tmp_path / "f.txt", sidecar_text=text) as source:
            records.append(read_source(source, mtime=1.0))
            text = source.loaded_sidecar_text
    assert len(parsed) == 1
    assert [(record.width_px, record.height_px) for record in records] == [(64, 48), (32, 24), (64, 48)]
    assert records[0] == records[2] and records[1].magnification == records[0].magnification == 5000
    with Source(tmp_path / "f.jpg", tmp_path / "f.txt") as source:  # a text read again is parsed again
        assert read_source(source, mtime=1.0) == records[1] and len(parsed) == 2


def test_a_detector_name_ends_at_a_nul_inside_it(tmp_path: Path) -> None:
    """Two UTF-16 sidecars whose SignalName differ only after a NUL: the catalog holds the name before
    it for both, and every cube refills from the table (SQLite's quote(), the cubes' key, ends a text
    at its NUL: the names kept whole shared one cube key and the refill failed on it)."""
    archive = tmp_path / "archive"
    archive.mkdir()
    for name, signal in [("a", "SE\x00a"), ("b", "SE\x00b")]:
        write_tiff(archive / f"{name}.tif")
        (archive / f"{name}.txt").write_bytes(hitachi_sidecar(50000, signal, "2016/06/23").encode("utf-16"))
    with Catalog(tmp_path / "c.sqlite") as catalog:
        scan(catalog, [RootSpec(str(archive), instrument="SU8230")], workers=0)
    db = sqlite3.connect(tmp_path / "c.sqlite")
    try:
        assert db.execute("SELECT DISTINCT detector FROM images").fetchall() == [("SE",)]
        for cube, fill in CUBE_FILLS.items():
            before = db.execute(f"SELECT * FROM {cube} ORDER BY key").fetchall()
            db.execute(f"DELETE FROM {cube}")
            db.execute(fill)
            assert db.execute(f"SELECT * FROM {cube} ORDER BY key").fetchall() == before
    finally:
        db.close()


def test_keys_are_matched_in_any_case_the_first_spelling_winning() -> None:
    """`_fields` lowers every key: the first spelling of a key in any case wins, `[SemImageFile]`
    before the other sections, and a long key is kept whole."""
    long_key = "Comment" + "x" * 80
    sections = {"Other": {"MAGNIFICATION": "9"}, "SemImageFile": {"magnification": "2000", "Magnification": "5",
                                                                   long_key: "y", "PixelSize": "1", "SignalName": "SE"}}
    assert hitachi._fields(sections) == {"magnification": "2000", long_key.lower(): "y", "pixelsize": "1",
                                         "signalname": "SE"}
