"""The visual index's thumbnails on a real scanned catalog: written with every generation, added in place
to an index built before they existed (keypoints untouched), never written into the archive."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from emcensus.catalog import Catalog
from emcensus.figures import thumbnails
from emcensus.figures.features import to_grey8
from emcensus.figures.index import VisualIndex, archive_thumbnail, index_folder, update_index
from emcensus.figures.match import Matcher
from emcensus.scan import RootSpec, scan
from figures.match_support import area_of, build_archive, publish
from support import fingerprint

THUMBNAILS = f"thumbnails-{thumbnails.FORMAT}.npy"


def _scanned(tmp_path: Path) -> tuple[Path, dict[str, Path], Path]:
    root = tmp_path / "archive" / "SU8230"
    paths = build_archive(root)
    catalog_path = tmp_path / "census.sqlite"
    with Catalog(catalog_path) as catalog:
        scan(catalog, [RootSpec(str(root), "SU8230")], workers=0)
    return root, paths, catalog_path


def _update(catalog_path: Path, workers: int = 0):
    with Catalog(catalog_path, readonly=True) as catalog:
        return update_index(catalog, catalog_path, workers=workers)


def _generation(catalog_path: Path) -> Path:
    folder = index_folder(catalog_path)
    return folder / (folder / "current").read_text()


def test_every_image_has_the_thumbnail_of_its_image_area(tmp_path: Path) -> None:
    """One row per image of the table, in its order: the thumbnail of the area above the data bar (the
    bar's white text would be part of a thumbnail of the whole file)."""
    root, _, catalog_path = _scanned(tmp_path)
    before = fingerprint(root)
    assert _update(catalog_path, workers=2).thumbnails_added == 0
    index = VisualIndex.load(index_folder(catalog_path))
    assert index.thumbnails is not None and index.thumbnails.shape == (len(index), thumbnails.PIXELS)
    for position, image in enumerate(index.images):
        area = area_of(Path(image["path"]))
        assert np.array_equal(index.thumbnails[position], archive_thumbnail(area))
        assert not np.array_equal(index.thumbnails[position], thumbnails.thumbnail(to_grey8(np.vstack(
            [area, np.full((40, area.shape[1]), 255, np.uint8)]))))
    assert np.allclose(index.aspects, 640 / 480)
    assert fingerprint(root) == before


def test_an_index_without_thumbnails_matches_then_gets_them_without_rereading_keypoints(tmp_path: Path) -> None:
    """An index written before thumbnails existed loads and matches without them; the next run reads each
    unchanged image for its thumbnail only and adds the file to the same generation (descriptors, keypoints
    and faiss index not rewritten); the run after that reads nothing."""
    root, paths, catalog_path = _scanned(tmp_path)
    _update(catalog_path)
    generation = _generation(catalog_path)
    complete = np.array(np.load(generation / THUMBNAILS))
    (generation / THUMBNAILS).unlink()
    kept = {name: (generation / name).stat().st_mtime_ns for name in ("descriptors.npy", "points.npy", "faiss.index")}

    old = VisualIndex.load(index_folder(catalog_path))
    assert old.thumbnails is None
    panel = publish(area_of(paths["b"]), crop=(0.2, 0.2, 0.8, 0.8), width=260, quality=60)
    assert [Path(m.path).stem for m in Matcher(old).match_panel(panel).matches] == ["b"]

    before = fingerprint(root)
    summary = _update(catalog_path, workers=2)
    assert (summary.added, summary.kept, summary.thumbnails_added) == (0, 8, 8)
    assert "8 given their thumbnail" in summary.paragraph()
    assert _generation(catalog_path) == generation
    assert {name: (generation / name).stat().st_mtime_ns for name in kept} == kept
    assert np.array_equal(VisualIndex.load(index_folder(catalog_path)).thumbnails, complete)
    assert sorted(p.name for p in generation.iterdir() if p.name.startswith("thumbnails")) == [THUMBNAILS]
    assert _update(catalog_path).thumbnails_added == 0
    assert fingerprint(root) == before


def test_a_thumbnail_file_that_does_not_fit_its_table_is_left_aside_and_written_again(tmp_path: Path) -> None:
    _, _, catalog_path = _scanned(tmp_path)
    _update(catalog_path)
    generation = _generation(catalog_path)
    complete = np.array(np.load(generation / THUMBNAILS))
    np.save(generation / THUMBNAILS, complete[:5])  # rows of another table
    assert VisualIndex.load(index_folder(catalog_path)).thumbnails is None
    assert _update(catalog_path).thumbnails_added == 8
    assert np.array_equal(VisualIndex.load(index_folder(catalog_path)).thumbnails, complete)


def test_a_new_generation_keeps_the_thumbnails_of_unchanged_images(tmp_path: Path) -> None:
    """An image gone from the catalog: a new generation, whose rows follow its table, none read again."""
    root, paths, catalog_path = _scanned(tmp_path)
    _update(catalog_path)
    first = VisualIndex.load(index_folder(catalog_path))
    paths["d1"].unlink()
    paths["d1"].with_suffix(".txt").unlink()
    with Catalog(catalog_path) as catalog:
        scan(catalog, [RootSpec(str(root), "SU8230")], workers=0)
    summary = _update(catalog_path)
    assert (summary.added, summary.removed, summary.thumbnails_added) == (0, 1, 0)
    index = VisualIndex.load(index_folder(catalog_path))
    assert index.generation != first.generation and index.thumbnails.shape == (7, thumbnails.PIXELS)
    for position, image in enumerate(index.images):
        assert np.array_equal(index.thumbnails[position], first.thumbnails[first.position_of[image["id"]]])


def test_thumbnails_of_another_format_are_not_compared_and_are_replaced(tmp_path: Path) -> None:
    """Thumbnails computed another way (an earlier `thumbnails.FORMAT`) would correlate with nothing: the
    index holds none until the next run computes them again and drops the old file."""
    _, _, catalog_path = _scanned(tmp_path)
    _update(catalog_path)
    generation = _generation(catalog_path)
    (generation / THUMBNAILS).rename(generation / "thumbnails-0.npy")
    assert VisualIndex.load(index_folder(catalog_path)).thumbnails is None
    assert _update(catalog_path).thumbnails_added == 8
    assert sorted(p.name for p in generation.iterdir() if p.name.startswith("thumbnails")) == [THUMBNAILS]


def test_an_unchanged_image_whose_thumbnail_cannot_be_read_is_listed_and_keeps_its_keypoints(tmp_path: Path) -> None:
    """An index built before thumbnails; one unchanged image's file now fails to decode (same size and
    modification time: the catalog still calls it unchanged). It stays indexed on its keypoints, is listed
    with its reason (summary and a line on stderr), has no thumbnail, and is tried again by the next run."""
    from support import catalog_cli

    root, paths, catalog_path = _scanned(tmp_path)
    _update(catalog_path)
    generation = _generation(catalog_path)
    (generation / THUMBNAILS).unlink()
    damaged, state = paths["c"], paths["c"].stat()
    damaged.write_bytes(b"\0" * state.st_size)
    os.utime(damaged, ns=(state.st_atime_ns, state.st_mtime_ns))

    summary = _update(catalog_path)
    assert (summary.added, summary.kept, summary.thumbnails_added, summary.skipped) == (0, 8, 7, [])
    assert [path for path, _ in summary.no_thumbnail] == [str(damaged)] and summary.no_thumbnail[0][1]
    assert summary.paragraph().endswith("; 1 without a thumbnail")
    index = VisualIndex.load(index_folder(catalog_path))
    assert _generation(catalog_path) == generation and len(index) == 8
    position = next(p for p, image in enumerate(index.images) if image["path"] == str(damaged))
    assert not index.thumbnails[position].any() and index.images[position]["count"] > 0
    result = catalog_cli(catalog_path)("figures", "index", "--workers", "0")
    assert f"{damaged}: no thumbnail (its keypoints stay indexed): " in result.stderr
    assert "0 given their thumbnail" not in result.stdout and "1 without a thumbnail" in result.stdout
