"""Names that are not UTF-8 (Latin-1 and cp1251 names from Windows shares) are catalogued losslessly."""

from __future__ import annotations

import os
from pathlib import Path

from emcensus.catalog import Catalog, display_path, fs_path
from emcensus.scan import RootSpec, scan
from support import hitachi_sidecar, write_tiff


def test_names_that_are_not_utf8_are_catalogued_and_found_again(tiny_archive: Path, tmp_path: Path) -> None:
    folder = os.fsencode(tiny_archive) + b"/\xc1\xf0\xe8\xe3\xe0\xe4\xe0"  # cp1251 "Бригада"
    os.mkdir(folder)
    image = os.fsdecode(folder + b"/Gr\xf6\xdfe.tif")  # Latin-1 "Größe"
    write_tiff(Path(image), seed=3)
    Path(image[:-4] + ".txt").write_bytes(hitachi_sidecar(20000, "SE(U)").encode("cp1252"))
    orphan = os.fsdecode(folder + b"/ancien\xe9.txt")
    Path(orphan).write_bytes(hitachi_sidecar(3000, "SE(U)").encode("cp1252"))
    broken = os.fsdecode(folder + b"/kaputt\xfc.tif")
    os.symlink(os.fsdecode(b"/nowhere/\xff.tif"), broken)
    reserved = str(tiny_archive / "groupA/\U0010ff80.tif")  # valid UTF-8, but in the codec's block
    write_tiff(Path(reserved), seed=4)

    root = RootSpec(str(tiny_archive), "SU8230", layout="{group}/**")
    with Catalog(tmp_path / "c.sqlite") as catalog:
        first = scan(catalog, [root], workers=2)
        assert first.complete and first.seen == 8 and first.errors == 1 and first.orphans == 2
        paths = {fs_path(row["path"]): row for row in catalog.images()}
        assert {image, reserved} <= set(paths)
        row = paths[image]
        assert fs_path(row["sidecar_path"]) == image[:-4] + ".txt" and row["magnification"] == 20000
        assert display_path(row["path"]).endswith("/" + "\ufffd" * 7 + "/Gr\ufffd\ufffde.tif")
        assert Path(fs_path(row["path"])).read_bytes() == Path(image).read_bytes()  # opened by the catalog's path
        record = catalog.record(image)
        assert record is not None and record.path == image and record.detector_family == "SE"
        assert orphan in {fs_path(r["path"]) for r in catalog.audit_list("orphan-sidecars")}
        unreadable = {fs_path(r["path"]): r["reason"] for r in catalog.audit_list("unreadable")}
        assert unreadable[broken].startswith("broken symlink")
        groups = {display_path(r["group"]): r["count"] for r in catalog.count("group") if r["group"]}
        assert groups["\ufffd" * 7] == 1  # the layout's group, from a non-UTF-8 folder name

        again = scan(catalog, [root], workers=2)
        assert (again.read, again.skipped, again.missing) == (0, 8, 0)  # the catalog's paths match the walk's

        os.unlink(image)
        third = scan(catalog, [root], workers=0)
        assert third.missing == 1 and third.read == 0
        assert [fs_path(r["path"]) for r in catalog.audit_list("missing")] == [image]


def test_a_root_named_in_bytes_that_are_not_utf8_is_found_by_the_root_filter(tmp_path: Path) -> None:
    root = os.fsdecode(os.fsencode(tmp_path) + b"/Archiv-M\xfcller")
    os.mkdir(root)
    write_tiff(Path(root) / "a.tif", seed=1)
    with Catalog(tmp_path / "c.sqlite") as catalog:
        scan(catalog, [RootSpec(root, "SU8230")], workers=0)
        assert catalog.total(root=root) == 1
        assert [display_path(r["root"]) for r in catalog.count("root")] == [display_path(root)]
        assert "\ufffd" in display_path(root)
