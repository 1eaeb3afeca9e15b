"""Bad input gets a recorded, explained problem for that file; the scan goes on; nothing is lost."""

from __future__ import annotations

from pathlib import Path

from emcensus.catalog import Catalog
from emcensus.demo import make_bad_corpus
from emcensus.scan import RootSpec, scan
from support import fingerprint

#: What the audit must say about each bad file: (list, words in the reason).
EXPECTED = {
    "zero-byte.tif": ("unreadable", "empty file"),
    "truncated-ifd.tif": ("unreadable", "damaged TIFF"),
    "truncated-data.tif": ("unreadable", "truncated TIFF"),
    "not-an-image.tif": ("unreadable", "not an image"),
    "jpeg-named.tif": ("warnings", "wrong extension"),
    "binary-sidecar.txt": ("warnings", "binary data"),
    "huge-sidecar.txt": ("warnings", "bytes, more than"),
    "undecodable-sidecar.txt": ("warnings", "sidecar"),
    "broken-link.tif": ("unreadable", "broken symlink"),
    "loop/parent": ("warnings", "symlink loop"),
}


def test_bad_corpus_scans_with_every_failure_explained(tmp_path: Path) -> None:
    corpus = tmp_path / "bad"
    described = make_bad_corpus(corpus)
    assert set(EXPECTED) <= set(described)
    before = fingerprint(corpus)
    with Catalog(tmp_path / "c.sqlite") as catalog:
        summary = scan(catalog, [RootSpec(str(corpus), "SU8230")], workers=2)
        assert summary.complete
        reasons = {
            kind: {str(Path(row["path"]).relative_to(corpus)): row["reason"] for row in catalog.audit_list(kind)}
            for kind in ("unreadable", "warnings")
        }
        for name, (kind, words) in EXPECTED.items():
            assert name in reasons[kind], f"{name} ({described[name]}) not in the {kind} list: {reasons}"
            assert words in reasons[kind][name]
        whole = catalog.audit_list("unreadable")
        assert len(whole) >= 5 and catalog.audit_list("unreadable", limit=2, offset=1) == whole[1:3]
        # valid images next to bad sidecars are still counted, without the sidecar's metadata
        counted = {Path(r["path"]).name for r in catalog.images()}
        assert {"jpeg-named.tif", "binary-sidecar.tif", "huge-sidecar.tif", "garbage-values.tif"} <= counted
        assert not counted & {"zero-byte.tif", "not-an-image.tif", "truncated-data.tif"}
    assert fingerprint(corpus) == before


def test_a_file_that_goes_bad_keeps_what_was_catalogued(tiny_archive: Path, tmp_path: Path) -> None:
    image = tiny_archive / "groupA/p1/2016-06-23/img002.tif"
    with Catalog(tmp_path / "c.sqlite") as catalog:
        scan(catalog, [RootSpec(str(tiny_archive), "SU8230")], workers=0)
        image.write_bytes(b"")  # the file is damaged on disk after it was catalogued
        summary = scan(catalog, [RootSpec(str(tiny_archive), "SU8230")], workers=0)
        assert summary.errors == 1
        record = catalog.record(str(image))
        assert record is not None and record.magnification == 50000 and record.detector_family == "LA-BSE"
        assert catalog.total() == 5  # still counted: its metadata is known
        assert [r["reason"] for r in catalog.audit_list("unreadable")] == ["empty file (0 bytes)"]
