"""A sidecar whose image is gone still records an acquisition (issue 7 item 16), and a TIA `.emi`
is read through its `.ser` files (item 17)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from emcensus import read_metadata
from emcensus.errors import UnreadableFileError
from emcensus.readers import read_sidecar_only, ser_files
from emcensus.readers.jeol_sem import looks_jeol_sem, parse_jeol_sem
from emcensus.record import Problem
from support import hitachi_sidecar

#: JEOL's newer `$CM_FORMAT Bitmap` layout (JSM-IT/6700F software), written from the keys public
#: parsers of it read: tab or space separated, `M/D/YYYY` dates, 12-hour times, `$CM_IMAGE_RES`.
JEOL_BITMAP = "\r\n".join([
    "$CM_FORMAT\tBitmap",
    "$CM_VERSION\t1.1",
    "$CM_TITLE\tsample 3",
    "$CM_IMAGE_NAME\tsample_3_001.bmp",
    "$CM_DATE\t3/7/2019",
    "$CM_TIME\t2:05:09 PM",
    "$CM_INSTRUMENT\tJSM-IT300",
    "$CM_OPERATOR\tuser",
    "$CM_ACCEL_VOLT\t10.0",
    "$CM_MAG\t20000",
    "$CM_SIGNAL\tSEI",
    "$CM_IMAGE_RES\t1280x960",
    "$CM_SCAN_SPEED\t8",
    "$$SM_WD\t10.2",
    "$$SM_MICRON_BAR\t160",
    "$$SM_MICRON_MARKER\t1um",
    "$CM_END",
    "",
])


def test_jeol_bitmap_layout() -> None:
    assert looks_jeol_sem(JEOL_BITMAP)
    reading = parse_jeol_sem(JEOL_BITMAP)
    assert (reading.model, reading.detector, reading.magnification) == ("JSM-IT300", "SEI", 20000)
    assert reading.accelerating_voltage_v == 10000
    assert reading.working_distance_m == pytest.approx(0.0102)
    assert reading.pixel_size_m == pytest.approx(1e-6 / 160)
    assert (reading.width_px, reading.height_px) == (1280, 960)
    assert reading.acquired_at.isoformat() == "2019-03-07T14:05:09"


def test_jeol_bitmap_orphan_sidecar(tmp_path: Path) -> None:
    (tmp_path / "sample_3_001.txt").write_text(JEOL_BITMAP, encoding="cp1252")
    record = read_metadata(tmp_path / "sample_3_001.txt")
    assert (record.kind, record.metadata_source, record.vendor, record.technique) == (
        "sidecar-only", "sidecar:jeol-sem", "JEOL", "SEM")
    assert record.fov_width_m == pytest.approx(1280e-6 / 160)
    assert (record.acquired_at, record.acquired_at_source) == ("2019-03-07T14:05:09", "metadata")


@pytest.mark.parametrize(("sample", "source", "instrument", "magnification"), [
    ("hitachi-sem-txt/sample-１_200倍(x200).tif", "sidecar:hitachi-sem", "TM4000", 200),
    ("jeol-sem-txt/JEOL SEM - etched sidewall 01.tif", "sidecar:jeol-sem", "7600F", 50000),
], indirect=["sample"])
def test_real_sidecar_without_its_image(sample: Path, source: str, instrument: str, magnification: int,
                                        tmp_path: Path) -> None:
    orphan = tmp_path / sample.with_suffix(".txt").name
    shutil.copyfile(sample.with_suffix(".txt"), orphan)
    with_image = read_metadata(sample)
    record = read_metadata(orphan)
    assert (record.kind, record.metadata_source, record.instrument, record.magnification) == (
        "sidecar-only", source, instrument, magnification)
    assert record.path == str(orphan)
    for field in ("pixel_size_m", "accelerating_voltage_v", "acquired_at", "detector_family"):
        assert getattr(record, field) == getattr(with_image, field), field


def test_orphan_with_facility_instrument_and_warnings(tmp_path: Path) -> None:
    sidecar = tmp_path / "gone.txt"
    sidecar.write_text(hitachi_sidecar(5000, "TE").replace("Magnification=5000", "Magnification=1e-310"),
                       encoding="cp1252")
    problems: list[Problem] = []
    record = read_sidecar_only(sidecar, instrument="SU8230-east", instrument_technique="SEM", problems=problems)
    assert (record.instrument, record.technique, record.magnification) == ("SU8230-east", "STEM", None)
    assert [p.reason.split(" ")[0] for p in problems] == ["magnification"]


@pytest.mark.parametrize(("content", "reason"), [
    (b"", "sidecar is empty"),
    (b"hello, this is a note\r\n", "sidecar format not recognised"),
    (b"\x00\x01\x02\x03" * 64, "binary data"),
])
def test_unknown_sidecars_are_refused_with_a_reason(content: bytes, reason: str, tmp_path: Path) -> None:
    (tmp_path / "n.txt").write_bytes(content)
    with pytest.raises(UnreadableFileError, match=reason):
        read_metadata(tmp_path / "n.txt")


def test_emi_reads_its_first_ser(samples_dir: Path) -> None:
    emi = samples_dir / "fei-tia-emi-ser/16x16_STEM_BF_DF_acquire.emi"
    assert [path.name for path in ser_files(emi)] == ["16x16_STEM_BF_DF_acquire_1.ser", "16x16_STEM_BF_DF_acquire_2.ser"]
    record = read_metadata(emi)
    assert record.path.endswith("16x16_STEM_BF_DF_acquire_1.ser")
    assert (record.technique, record.detector, record.metadata_source) == ("STEM", "BF", "tia-emi")


def test_emi_orders_ser_files_by_number(samples_dir: Path, tmp_path: Path) -> None:
    shutil.copyfile(samples_dir / "fei-tia-emi-ser/16x16_STEM_BF_DF_acquire.emi", tmp_path / "a.emi")
    for index in (10, 2):
        shutil.copyfile(samples_dir / "fei-tia-emi-ser/16x16_STEM_BF_DF_acquire_2.ser", tmp_path / f"a_{index}.ser")
    assert [path.name for path in ser_files(tmp_path / "a.emi")] == ["a_2.ser", "a_10.ser"]
    assert read_metadata(tmp_path / "a.emi").path.endswith("a_2.ser")


def test_emi_without_ser(samples_dir: Path, tmp_path: Path) -> None:
    shutil.copyfile(samples_dir / "fei-tia-emi-ser/16x16_STEM_BF_DF_acquire.emi", tmp_path / "a.emi")
    with pytest.raises(UnreadableFileError, match=r"no \.ser file beside it \(a_1\.ser"):
        read_metadata(tmp_path / "a.emi")


def test_tab_separated_jeol_keys_without_a_format_line() -> None:
    text = "\r\n".join(line for line in JEOL_BITMAP.splitlines() if not line.startswith("$CM_FORMAT"))
    assert looks_jeol_sem(text)
    assert parse_jeol_sem(text).magnification == 20000
