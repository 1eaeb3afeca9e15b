"""The walk's file policy: special files are listed, never opened; links that leave a root are not
followed; a scan leaves access and modification times of files and folders as they were."""

from __future__ import annotations

import os
import socket
import stat
from pathlib import Path

import pytest

from emcensus.catalog import Catalog
from emcensus.scan import RootSpec, scan
from support import write_tiff


def _reasons(catalog: Catalog, kind: str, root: Path) -> dict[str, str]:
    return {str(Path(row["path"]).relative_to(root)): row["reason"] for row in catalog.audit_list(kind)}


def test_special_files_named_like_images_are_listed_not_opened(tiny_archive: Path, tmp_path: Path, monkeypatch) -> None:
    folder = tiny_archive / "groupA/p1/2016-06-23"
    os.mkfifo(folder / "pipe.tif")
    os.mkfifo(folder / "pipe.txt")
    monkeypatch.chdir(folder)  # a socket path must be short
    server = socket.socket(socket.AF_UNIX)
    server.bind("socket.tif")
    (folder / "zero.tif").symlink_to("/dev/zero")
    try:  # a device node in the archive itself (root only)
        os.mknod(folder / "device.tif", stat.S_IFCHR | 0o600, os.makedev(1, 5))
        devices = 1
    except PermissionError:
        devices = 0
    (folder / "random.tif").symlink_to("/dev/urandom")
    try:
        with Catalog(tmp_path / "c.sqlite") as catalog:
            summary = scan(catalog, [RootSpec(str(tiny_archive), "SU8230")], workers=2)
            assert summary.complete and summary.seen == 6
            unreadable = _reasons(catalog, "unreadable", tiny_archive)
            warnings = _reasons(catalog, "warnings", tiny_archive)
    finally:
        server.close()
    where = "groupA/p1/2016-06-23/"
    assert unreadable[where + "pipe.tif"] == "a FIFO (named pipe) named .tif: not a regular file, not read"
    assert unreadable[where + "pipe.txt"].startswith("a FIFO (named pipe) named .txt")
    assert unreadable[where + "socket.tif"] == "a socket named .tif: not a regular file, not read"
    for name in ("zero.tif", "random.tif"):
        assert warnings[where + name] == "symlink to outside this root (target not shown): not followed"
    if devices:
        assert unreadable[where + "device.tif"] == "a character device named .tif: not a regular file, not read"
    assert summary.errors == 3 + devices and summary.warnings == 2


def test_links_that_leave_the_root_are_listed_not_followed(tiny_archive: Path, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    write_tiff(outside / "secret-folder/a.tif", seed=1)
    write_tiff(outside / "b.tif", seed=2)
    (tiny_archive / "linked-folder").symlink_to(outside / "secret-folder")
    (tiny_archive / "groupA/linked.tif").symlink_to(outside / "b.tif")
    (tiny_archive / "groupA/inside.tif").symlink_to(tiny_archive / "groupB/p2/2019-01-02/nosidecar.tif")
    with Catalog(tmp_path / "c.sqlite") as catalog:
        summary = scan(catalog, [RootSpec(str(tiny_archive), "SU8230")], workers=2)
        paths = {str(Path(row["path"]).relative_to(tiny_archive)) for row in catalog.images()}
        warnings = _reasons(catalog, "warnings", tiny_archive)
    assert "linked-folder/a.tif" not in paths and "groupA/linked.tif" not in paths
    assert "groupA/inside.tif" in paths  # a link that stays inside the root is read as before
    assert summary.seen == 7
    for name in ("linked-folder", "groupA/linked.tif"):
        assert warnings[name] == "symlink to outside this root (target not shown): not followed"
        assert "elsewhere" not in warnings[name]


def _noatime_mount(path: Path) -> str | None:
    """The mount option that stops atime updates on `path`'s file system, if any."""
    best, options = "", ""
    for line in Path("/proc/mounts").read_text().splitlines():
        fields = line.split()
        if str(path).startswith(fields[1]) and len(fields[1]) > len(best):
            best, options = fields[1], fields[3]
    return next((o for o in options.split(",") if o in ("noatime", "ro")), None)


def test_a_scan_leaves_access_and_modification_times_alone(tiny_archive: Path, tmp_path: Path) -> None:
    if not Path("/proc/mounts").exists():
        pytest.skip("no /proc/mounts: cannot tell whether this file system records access times")
    if option := _noatime_mount(tiny_archive):
        pytest.skip(f"the file system of {tiny_archive} is mounted {option}: atime never changes there")
    entries = [tiny_archive, *tiny_archive.rglob("*")]
    for entry in entries:  # atime before mtime: with relatime, any read would now update atime
        info = entry.stat()
        os.utime(entry, ns=(info.st_mtime_ns - 3600 * 10**9, info.st_mtime_ns))
    before = {entry: (entry.stat().st_atime_ns, entry.stat().st_mtime_ns) for entry in entries}
    with Catalog(tmp_path / "c.sqlite") as catalog:
        scan(catalog, [RootSpec(str(tiny_archive), "SU8230")], workers=2)
        assert catalog.total(files=True) == 6
    after = {entry: (entry.stat().st_atime_ns, entry.stat().st_mtime_ns) for entry in entries}
    changed = [str(entry.relative_to(tiny_archive)) for entry in entries if before[entry] != after[entry]]
    assert changed == []


def test_a_second_sidecar_beside_its_image_is_listed_not_an_orphan(tiny_archive: Path, tmp_path: Path) -> None:
    folder = tiny_archive / "groupA/p1/2016-06-23"
    (folder / "img002.hdr").write_bytes((folder / "img002.txt").read_bytes())  # the same frame described twice
    with Catalog(tmp_path / "c.sqlite") as catalog:
        first = scan(catalog, [RootSpec(str(tiny_archive), "SU8230")], workers=0)
        assert first.orphans == 1 and first.warnings == 1
        assert catalog.audit()["sidecar_only_acquisitions"] == 1  # deleted.txt only
        warnings = _reasons(catalog, "warnings", tiny_archive)
        assert warnings["groupA/p1/2016-06-23/img002.hdr"] == (
            "second sidecar of img002.tif: not read (the image's sidecar: img002.txt)")
        again = scan(catalog, [RootSpec(str(tiny_archive), "SU8230")], workers=0)
        assert (again.read, again.skipped) == (0, 6)  # a stable census: nothing re-read
