"""The demo archive generator: determinism, realism of shares and sidecars, ground truth, bad corpus."""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections import Counter
from datetime import datetime
from pathlib import Path

import pytest
import tifffile
from PIL import Image

from emcensus.demo import Manifest, generate_archive, make_bad_corpus, paper_scale, permissions_enforced
from emcensus.demo.generate import (
    PAPER_IMAGES,
    PAPER_TEM,
    PAPER_WITH_METADATA,
    NICE_MANTISSAS,
    _manifest_rows,
    _streams,
    allocate,
    main,
    plan_archive,
)
from emcensus.demo.sidecars import HITACHI_REFERENCE_NM, TEM_CAMERA_WIDTH_NM
from emcensus.errors import UnreadableFileError
from emcensus.readers.base import decode_text, sniff_format

N = 400


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Manifest:
    return generate_archive(tmp_path_factory.mktemp("arch") / "archive", N, seed=7)


def _parse(text: str) -> dict[str, str]:
    out = {}
    for line in text.split("\r\n"):
        if "=" in line:
            key, value = line.split("=", 1)
            out[key] = value
    return out


def _size(path: Path) -> tuple[int, int]:
    kind = sniff_format(path.read_bytes()[:16])
    if kind == "tiff":
        with tifffile.TiffFile(path) as tif:
            page = tif.pages.first
            return int(page.imagewidth), int(page.imagelength)
    with Image.open(path) as image:
        return image.size


# ----------------------------------------------------------------------------- determinism


def test_same_seed_same_archive(tmp_path, archive):
    again = generate_archive(tmp_path / "again", N, seed=7)
    assert again.to_json() == archive.to_json()
    for f in archive.files[:: max(1, len(archive.files) // 25)]:
        assert (again.root / f.path).read_bytes() == (archive.root / f.path).read_bytes()
        if f.sidecar:
            assert (again.root / f.sidecar).read_bytes() == (archive.root / f.sidecar).read_bytes()
    other, _, _ = _manifest_rows(plan_archive(N, seed=8))
    assert [f.path for f in other] != [f.path for f in archive.files]


def test_manifest_round_trip_and_location(archive):
    path = archive.root / "manifest.json"
    assert path.is_file()
    loaded = Manifest.load(path)
    assert loaded.to_json() == archive.to_json()
    assert Manifest.load(archive.root).files == archive.files
    # the manifest lies next to the roots, never inside one
    assert [r.name for r in archive.roots()] == ["SU8000", "SU8230", "HT7700"]
    for root in archive.roots():
        assert not list(root.rglob("manifest.json"))


def test_refuses_to_overwrite_silently(tmp_path):
    generate_archive(tmp_path / "a", 40, seed=1)
    with pytest.raises(FileExistsError):
        generate_archive(tmp_path / "a", 40, seed=1)
    m = generate_archive(tmp_path / "a", 40, seed=2, overwrite=True)
    assert m.summary["acquisitions"] == 40


# ----------------------------------------------------------------------------- shares and counts


def test_counts_and_shares(archive):
    s = archive.summary
    assert s["acquisitions"] == N == len(archive.originals())
    tech = s["acquisitions_by_technique"]
    assert tech["SEM"] > tech["TEM"] > tech["STEM"] > 0
    assert 0.65 < tech["SEM"] / N < 0.85 and 0.15 < tech["TEM"] / N < 0.3
    by_year = {int(y): sum(v.values()) for y, v in s["acquisitions_by_year_technique"].items()}
    assert sorted(by_year) == list(range(2011, 2024))
    assert by_year[2023] > 2 * by_year[2011] > 0
    # STEM only from the SU series, TEM only from the HT7700
    for f in archive.files:
        assert (f.technique == "TEM") == (f.instrument == "HT7700")
        assert (f.technique == "STEM") == (f.detector_family in {"TE", "BF-STEM", "DF-STEM"})
        assert f.path.startswith(f.instrument + "/")
        m = f.magnification / 10 ** math.floor(math.log10(f.magnification))
        assert any(abs(m - nice) < 1e-9 for nice in NICE_MANTISSAS), f.magnification
        lo, hi = {"SEM": (20, 300_000), "STEM": (20_000, 500_000), "TEM": (1000, 800_000)}[f.technique]
        assert lo <= f.magnification <= hi
    # the SU8230 writes Regulus8230 from 2020, the SU8000 is gone by then
    models = {(f.instrument, f.model) for f in archive.originals() if f.year >= 2020}
    assert ("SU8230", "Regulus8230") in models and not any(i == "SU8000" for i, _ in models)
    assert s["acquisitions_without_sidecar"] == N - round(N * PAPER_WITH_METADATA / PAPER_IMAGES)
    assert s["orphan_sidecars"] >= 1 and s["copies"] >= 1 and s["duplicate_exports"] >= 1


def test_paper_scale_counts_are_exact():
    kwargs = paper_scale()
    assert kwargs["n_images"] == PAPER_IMAGES == 152_097 and kwargs["years"] == (2011, 2023)
    streams = _streams(PAPER_IMAGES, list(range(2011, 2024)), kwargs["instruments"])
    tem = sum(c for year in streams.values() for (i, t), c in year.items() if t == "TEM")
    sem_stem = sum(c for year in streams.values() for (i, t), c in year.items() if t != "TEM")
    assert (tem, sem_stem) == (PAPER_TEM, 119_557)
    totals = [sum(streams[y].values()) for y in range(2011, 2024)]
    assert all(b > a for a, b in zip(totals, totals[1:]))  # steadily increasing
    assert 10_000 < sum(totals) / len(totals) < 12_500
    assert allocate(10, [1, 1, 1]) == [4, 3, 3] and sum(allocate(7, [0.2, 0.5, 0.3])) == 7


# ----------------------------------------------------------------------------- files and sidecars


def test_sidecars_decode_and_agree_with_images(archive):
    encodings = Counter()
    checked = 0
    for f in archive.files:
        path = archive.root / f.path
        width, height = _size(path)
        assert (width, height) == (f.width, f.height)
        if not f.sidecar:
            continue
        raw = (archive.root / f.sidecar).read_bytes()
        text = decode_text(raw)
        # decode_text picks the encoding the generator used
        if f.sidecar_encoding == "utf-16-le-bom":
            assert raw.startswith(b"\xff\xfe")
        else:
            assert text == raw.decode(f.sidecar_encoding), f.sidecar
        encodings[f.sidecar_encoding] += 1
        assert text.startswith("[TemImageFile]\r\n" if f.technique == "TEM" else "[SemImageFile]\r\n")
        assert "\n" not in text.replace("\r\n", "")
        kv = _parse(text)
        assert kv["InstructName"] == f.model
        assert kv["DataSize"] == f"{width}x{height}"
        mag = float(kv["Magnification"])
        assert mag == f.magnification
        reference = TEM_CAMERA_WIDTH_NM if f.technique == "TEM" else HITACHI_REFERENCE_NM
        assert float(kv["PixelSize"]) * width == pytest.approx(reference / mag, rel=1e-3)
        assert float(kv["PixelSize"]) * 1e-9 == pytest.approx(f.pixel_size_m, rel=1e-3)
        assert kv["AcceleratingVoltage"] == f"{f.accelerating_voltage_v} Volt"
        assert kv.get("SignalName") == f.detector
        when = datetime.fromisoformat(f.acquired_at)
        fmt = {"MM/DD/YYYY": "%m/%d/%Y", "YYYY/MM/DD": "%Y/%m/%d"}[f.date_format]
        assert datetime.strptime(kv["Date"] + " " + kv["Time"], fmt + " %H:%M:%S") == when
        if f.technique != "TEM":
            wd = float(kv["WorkingDistance"].removesuffix(" um"))
            assert 3000 <= wd <= 15000
            assert 500 <= f.accelerating_voltage_v <= 30_000
        else:
            assert 80_000 <= f.accelerating_voltage_v <= 120_000
        checked += 1
    assert checked > N * 0.8
    assert {"cp1252", "utf-16-le-bom", "cp932"} <= set(encodings)
    assert encodings["cp1252"] > encodings["utf-16-le-bom"] and encodings["cp1252"] > encodings["cp932"]
    # some sidecars name the file before a rename; all sidecar paths exist
    assert any(f.renamed for f in archive.files)
    for rel in archive.sidecars:
        assert (archive.root / rel).is_file()


def test_orphans_and_images_without_sidecar(archive):
    for orphan in archive.orphan_sidecars:
        path = archive.root / orphan.path
        assert path.is_file()
        decode_text(path.read_bytes())
        stem = path.stem
        assert not [p for p in path.parent.iterdir() if p.stem == stem and p.suffix != ".txt"]
    without = [f for f in archive.originals() if not f.sidecar]
    assert without and any(f.instrument == "HT7700" for f in without)
    for f in without:
        path = archive.root / f.path
        assert not path.with_suffix(".txt").exists()


def test_exports_copies_and_unique_content(archive):
    by_frame: dict[int, list] = {}
    for f in archive.files:
        by_frame.setdefault(f.frame, []).append(f)
    assert len(by_frame) == N
    digests = Counter()
    for frame, files in by_frame.items():
        originals = [f for f in files if not f.copy and not f.duplicate_export]
        assert len(originals) == 1
        data = {f.path: (archive.root / f.path).read_bytes() for f in files}
        for f in files:
            if f.duplicate_export:
                assert Path(f.path).stem == Path(originals[0].path).stem or f.copy
                assert f.format in ("jpeg", "bmp")
            if f.copy:
                twin = [g for g in files if not g.copy and g.format == f.format]
                assert data[f.path] == data[twin[0].path]
                assert datetime.fromisoformat(f.mtime) > datetime.fromisoformat(f.acquired_at)
                assert "/_shared/" in f.path or "/export/" in f.path
        digests[hashlib.sha256(data[originals[0].path]).hexdigest()] += 1
    assert max(digests.values()) == 1  # no two acquisitions share their bytes
    exts = archive.summary["files_by_extension"]
    assert exts[".tif"] > exts.get(".jpg", 0) >= 1 and exts.get(".bmp", 0) >= 1


def test_mtimes(archive):
    for f in archive.files:
        stat = os.stat(archive.root / f.path)
        local = datetime.fromtimestamp(stat.st_mtime)
        assert local.replace(microsecond=0) == datetime.fromisoformat(f.mtime)
        acquired = datetime.fromisoformat(f.acquired_at)
        assert acquired.year == f.year
        delay = (local - acquired).total_seconds()
        if f.copy:
            assert delay >= 86_400
        else:
            assert 0 <= delay <= 10
    assert datetime.fromtimestamp(os.stat(archive.roots()[0]).st_mtime).year >= 2011


def test_layout_is_irregular():
    files, _, _ = _manifest_rows(plan_archive(1500, seed=3))  # the plan only: no files written
    originals = [f for f in files if not f.copy and not f.duplicate_export]
    dirs = {str(Path(f.path).parent) for f in originals}
    assert any(" " in d for d in dirs)
    assert any(any(ord(ch) > 127 for ch in f.path) for f in files)
    depths = Counter(d.count("/") for d in dirs)
    assert len(depths) >= 2  # date folders, missing date folders, deeper sample folders
    projects = Counter("/".join(f.path.split("/")[:3]) for f in originals)
    assert min(projects.values()) <= 10 and max(projects.values()) >= 100
    groups = {f.path.split("/")[1] for f in originals}
    assert len(groups) >= 8


def test_command_line(tmp_path, capsys):
    assert main([str(tmp_path / "cli"), "--images", "50", "--seed", "4", "--years", "2022", "2025"]) == 0
    out = capsys.readouterr().out
    assert "50 acquisitions" in out
    m = Manifest.load(tmp_path / "cli" / "manifest.json")
    assert {f.year for f in m.files} <= set(range(2022, 2026)) and m.years == (2022, 2025)
    assert main([str(tmp_path / "cli"), "--images", "50"]) == 2  # exists


# ----------------------------------------------------------------------------- bad corpus


def test_bad_corpus(tmp_path):
    root = tmp_path / "bad"
    bad = make_bad_corpus(root)
    expected = {
        "zero-byte.tif", "truncated-ifd.tif", "truncated-data.tif", "not-an-image.tif", "jpeg-named.tif",
        "undecodable-sidecar.txt", "binary-sidecar.txt", "unreadable.tif", "loop/parent", "broken-link.tif",
        "huge-sidecar.txt", "garbage-values.txt",
    }
    assert set(bad) == expected
    for rel in bad:
        assert os.path.lexists(root / rel), rel
    assert (root / "zero-byte.tif").stat().st_size == 0

    head = (root / "truncated-ifd.tif").read_bytes()
    assert sniff_format(head) == "tiff"
    with pytest.raises(Exception):
        with tifffile.TiffFile(root / "truncated-ifd.tif") as tif:
            tif.pages.first.asarray()
    with pytest.raises(Exception):
        tifffile.imread(root / "truncated-data.tif")

    assert sniff_format((root / "not-an-image.tif").read_bytes()) is None
    assert sniff_format((root / "jpeg-named.tif").read_bytes()[:8]) == "jpeg"
    with Image.open(root / "jpeg-named.tif") as image:
        image.load()

    junk = (root / "undecodable-sidecar.txt").read_bytes()
    for encoding in ("utf-8", "cp932", "cp1252"):
        with pytest.raises(UnicodeDecodeError):
            junk.decode(encoding)
    with pytest.raises(UnreadableFileError):
        decode_text((root / "binary-sidecar.txt").read_bytes())
    for image in ("undecodable-sidecar.tif", "binary-sidecar.tif", "huge-sidecar.tif", "garbage-values.tif",
                  "loop/inside-loop.tif"):
        assert tifffile.imread(root / image).shape == (48, 64)

    mode = (root / "unreadable.tif").stat().st_mode & 0o777
    assert mode == 0
    assert ("root" in bad["unreadable.tif"]) == (not permissions_enforced())

    link = root / "loop" / "parent"
    assert link.is_symlink() and link.resolve() == root.resolve()
    assert (root / "broken-link.tif").is_symlink() and not (root / "broken-link.tif").exists()

    huge = (root / "huge-sidecar.txt").read_bytes()
    assert len(huge) == 10 * 1024 * 1024 and b"\n" not in huge and b"\r" not in huge
    garbage = _parse(decode_text((root / "garbage-values.txt").read_bytes()))
    assert garbage["Magnification"] == "abc" and garbage["Date"] == "99/99/9999"

    again = make_bad_corpus(root, extras=True)  # rewrites over itself, chmod-000 file included
    assert set(bad) < set(again)
    json.dumps({k: v for k, v in bad.items()})
