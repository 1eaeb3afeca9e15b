"""Files gone from disk, marked in statements of many paths at once: more gone files than one
statement names, sidecar-only acquisitions that end, linked ones that stay (missing), and the
folder fingerprints of every folder that lost a file dropped."""

from __future__ import annotations

from pathlib import Path

import pytest

import emcensus.catalog as catalog_module
from emcensus.analysis.publications import Article
from emcensus.catalog import Catalog
from emcensus.scan import RootSpec, scan
from support import hitachi_sidecar, write_tiff

IMAGES = 62
ORPHANS = 5  # sidecars whose image is already gone
PER_STATEMENT = 7  # paths named in one statement here (500 in use): gone files span several


@pytest.fixture(autouse=True)
def _small_statements(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(catalog_module, "_PATHS_PER_STATEMENT", PER_STATEMENT)


def _archive(root: Path) -> tuple[list[Path], list[Path]]:
    images = [root / f"day{i % 3}" / f"img{i:04d}.tif" for i in range(IMAGES)]
    for index, path in enumerate(images):
        write_tiff(path, seed=index % 7)
    orphans = [root / "day0" / f"lost{i:02d}.txt" for i in range(ORPHANS)]
    for path in orphans:
        path.write_text(hitachi_sidecar(1000, "SE"), encoding="utf-8")
    return images, orphans


def _scan(catalog: Catalog, root: Path):  # type: ignore[no-untyped-def]
    return scan(catalog, [RootSpec(str(root), "SU8230")], workers=0)


def test_gone_files_sidecar_only_acquisitions_and_linked_ones(tmp_path: Path) -> None:
    root = tmp_path / "archive"
    images, orphans = _archive(root)
    linked = orphans[:2]
    with Catalog(tmp_path / "c.sqlite") as catalog:
        first = _scan(catalog, root)
        assert (first.read, first.orphans) == (IMAGES, ORPHANS)
        catalog.save_article(Article("10.1/kept", year=2020))
        assert catalog.link_images("10.1/kept", [str(p) for p in linked]) == 2
        root_id = catalog._root_ids()[str(root)]  # noqa: SLF001 - which root the fingerprints belong to
        assert len(catalog.folder_fingerprints(root_id, str(root))) == 4  # the root and its 3 folders

        gone = [p for i, p in enumerate(images) if i % 5 != 0]  # 49 images from every folder ...
        for path in [*gone, *orphans]:  # ... and every sidecar: 54 paths, 8 statements
            path.unlink()
        second = _scan(catalog, root)

        assert second.missing == len(gone) + len(linked)  # an unlinked sidecar-only acquisition ends
        status = dict(catalog.db.execute("SELECT path, status FROM images"))  # every kind of row
        assert {path for path, state in status.items() if state == "missing"} == {str(p) for p in [*gone, *linked]}
        assert {path for path, state in status.items() if state == "present"} == \
            {str(p) for i, p in enumerate(images) if i % 5 == 0}
        assert len(status) == IMAGES + len(linked)
        [(kept,)] = catalog.db.execute("SELECT id FROM images WHERE path = ?", (str(linked[0]),))
        assert [a["id"] for a in catalog.articles_of_image(kept)] == ["10.1/kept"]

        third = _scan(catalog, root)  # the folders were fingerprinted again: nothing more goes
        assert (third.missing, third.read) == (0, 0)


def test_the_count_is_of_files_marked_now(tmp_path: Path) -> None:
    root = tmp_path / "archive"
    images, _ = _archive(root)
    with Catalog(tmp_path / "c.sqlite") as catalog:
        _scan(catalog, root)
        root_id = catalog._root_ids()[str(root)]  # noqa: SLF001 - which root the fingerprints belong to
        scan_id = catalog.begin_scan([str(root)])
        named = [str(p) for p in images[:55] if p.parent.name != "day2"]  # 37 paths, day2 untouched
        # a path named twice, one never catalogued: each file counts once, an unknown one not at all
        assert catalog.mark_missing(scan_id, [*named, named[0], str(root / "never.tif")]) == len(named)
        assert catalog.mark_missing(scan_id, named[:10]) == 0  # already missing
        assert catalog.total(files=True) == IMAGES - len(named)
        # the folders that lost files and their parent vouch for nothing now; the untouched one still does
        assert set(catalog.folder_fingerprints(root_id, str(root))) == {str(root / "day2")}
