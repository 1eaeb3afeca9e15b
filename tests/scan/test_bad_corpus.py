"""Bad input gets a recorded, explained problem for that file; the scan goes on; nothing is lost."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import tifffile

from emcensus.catalog import Catalog
from emcensus.demo import make_bad_corpus
from emcensus.demo.adversarial import BOMB_SIDE, CATALOGUED, SECRET, make_adversarial_corpus
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


def test_adversarial_corpus_manifest_names_every_entry_it_wrote(tmp_path: Path) -> None:
    """The adversarial manifest is the test's ground truth: it must list exactly what is on disk, and each
    entry must really be what it claims (a FIFO is a FIFO, a bomb's header claims the sizes it says)."""
    corpus = make_adversarial_corpus(tmp_path / "archive", tmp_path / "outside")
    on_disk = set()
    for folder, dirs, files in os.walk(os.fsencode(corpus.root)):
        for name in dirs + files:
            path = os.path.join(folder, name)
            if not os.path.isdir(path) or os.path.islink(path):
                on_disk.add(os.path.relpath(path, os.fsencode(corpus.root)))
    listed = {entry.path for entry in corpus.entries}
    assert listed == on_disk, (listed ^ on_disk, corpus.skipped)
    assert len(listed) == len(corpus.entries)  # no entry twice

    def mode(rel: str | bytes) -> int:
        return os.lstat(corpus.root / os.fsdecode(rel)).st_mode

    assert b"names/Gr\xf6\xdfe.tif" in listed and b"names/\xcf\xf0\xee\xe5\xea\xf2/img010.tif" in listed
    assert stat.S_ISFIFO(mode("special/fifo.tif"))
    assert os.readlink(corpus.root / "special/dev-zero.tif") == "/dev/zero"
    if "special/chardev.tif" not in corpus.skipped:
        assert stat.S_ISCHR(mode("special/chardev.tif"))
    if "special/socket.tif" not in corpus.skipped:
        assert stat.S_ISSOCK(mode("special/socket.tif"))
    bomb = corpus.root / "bombs/zlib-30000.tif"
    assert bomb.stat().st_size < 1_500_000
    with tifffile.TiffFile(bomb) as tif:
        assert tif.pages.first.shape == (BOMB_SIDE, BOMB_SIDE) and tif.pages.first.compression == 8
    with tifffile.TiffFile(corpus.root / "bombs/huge-dims.tif") as tif:
        assert (tif.pages.first.imagewidth, tif.pages.first.imagelength) == (2**32 - 1, 2**32 - 1)
    for link in ("links/passwd.tif", "links/outside-sidecar.txt", "links/outside-folder/tree001.txt"):
        target = Path(os.path.realpath(corpus.root / link))
        assert corpus.outside in target.parents and SECRET in target.read_text(encoding="cp1252")
    assert all(entry.item in range(0, 21) and entry.outcomes for entry in corpus.entries)
    assert sum(CATALOGUED in e.outcomes for e in corpus.entries) >= 10
