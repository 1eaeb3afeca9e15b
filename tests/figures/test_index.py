"""The visual index on a real scanned catalog: built beside it, incremental, never writing into the archive."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest
import tifffile
from PIL import Image

from emcensus.catalog import Catalog
from emcensus.figures.index import (
    INDEX_VERSION,
    IVF_CODE_BYTES,
    FigureIndexError,
    VisualIndex,
    index_folder,
    read_pixels,
    update_index,
)
from emcensus.figures.match import Matcher
from emcensus.outputs import ArchiveWriteError
from emcensus.scan import RootSpec, scan
from figures.match_support import HEIGHT, area_of, build_archive, publish, scene, shot, write_archive_image
from support import fingerprint


@pytest.fixture
def scanned(tmp_path: Path):
    root = tmp_path / "archive" / "SU8230"
    paths = build_archive(root)
    catalog_path = tmp_path / "census.sqlite"

    def rescan() -> None:
        with Catalog(catalog_path) as catalog:
            scan(catalog, [RootSpec(str(root), "SU8230")], workers=0)

    rescan()
    return root, paths, catalog_path, rescan


def _update(catalog_path: Path, workers: int = 0):
    with Catalog(catalog_path, readonly=True) as catalog:
        return update_index(catalog, catalog_path, workers=workers)


def test_index_holds_every_catalogued_image_beside_the_catalog(scanned):
    root, paths, catalog_path, _ = scanned
    before = fingerprint(root)
    summary = _update(catalog_path)
    assert (summary.images, summary.added, summary.removed, summary.kept, summary.skipped) == (8, 8, 0, 0, [])
    folder = index_folder(catalog_path)
    assert folder == Path(f"{catalog_path}.figures") and folder.is_dir()
    index = VisualIndex.load(folder)
    assert sorted(image["path"] for image in index.images) == sorted(map(str, paths.values()))
    assert index.faiss.ntotal == len(index.descriptors) == summary.descriptors > 8 * 100
    for position, image in enumerate(index.images):
        points, descriptors = index.features_of(position)
        assert image["height_px"] == HEIGHT and image["pixel_size_m"] > 0 and image["year"] == 2016
        assert len(points) == len(descriptors) == image["count"] > 100
        assert points[:, 1].max() < HEIGHT  # the data bar below the image area gives no keypoints
    assert fingerprint(root) == before


def test_rerun_reads_only_new_and_changed_images_and_drops_gone_ones(scanned):
    root, paths, catalog_path, rescan = scanned
    _update(catalog_path)
    first = VisualIndex.load(index_folder(catalog_path))
    unchanged = _update(catalog_path)
    assert (unchanged.added, unchanged.removed, unchanged.kept) == (0, 0, 8)

    write_archive_image(paths["c"], shot(scene(555), 0, 0, 1.0, seed=1))  # new content, new size or mtime
    paths["d1"].unlink()
    paths["d1"].with_suffix(".txt").unlink()
    rescan()
    summary = _update(catalog_path)
    assert (summary.images, summary.added, summary.removed, summary.kept) == (7, 1, 1, 6)
    index = VisualIndex.load(index_folder(catalog_path))
    assert str(paths["d1"]) not in {image["path"] for image in index.images}
    same = next(i for i, image in enumerate(index.images) if image["path"] == str(paths["b"]))
    before = next(i for i, image in enumerate(first.images) if image["path"] == str(paths["b"]))
    assert np.array_equal(index.features_of(same)[1], first.features_of(before)[1])  # kept, not re-extracted
    assert [p.name for p in index_folder(catalog_path).glob("gen-*")] == [
        (index_folder(catalog_path) / "current").read_text()]  # one generation left


def test_unreadable_image_is_one_line_and_tried_again(scanned):
    root, paths, catalog_path, _ = scanned
    paths["b"].write_bytes(paths["b"].read_bytes()[:200])  # damaged after the scan
    summary = _update(catalog_path)
    assert summary.images == 7 and [path for path, _ in summary.skipped] == [str(paths["b"])]
    assert "\n" not in summary.skipped[0][1]
    again = _update(catalog_path)
    assert again.added == 1 and len(again.skipped) == 1  # not remembered as indexed


def test_worker_processes_give_the_same_index(scanned):
    _, _, catalog_path, _ = scanned
    _update(catalog_path, workers=0)
    serial = VisualIndex.load(index_folder(catalog_path))
    for generation in index_folder(catalog_path).glob("gen-*"):
        for item in generation.iterdir():
            item.unlink()
        generation.rmdir()
    (index_folder(catalog_path) / "current").unlink()
    assert _update(catalog_path, workers=2).added == 8
    parallel = VisualIndex.load(index_folder(catalog_path))
    assert np.array_equal(parallel.descriptors, serial.descriptors)


def test_index_folder_that_leads_into_the_archive_is_refused(scanned):
    root, _, catalog_path, _ = scanned
    os.symlink(root, index_folder(catalog_path))
    before = fingerprint(root)
    with pytest.raises(ArchiveWriteError):
        _update(catalog_path)
    assert fingerprint(root) == before


def test_a_link_left_in_the_index_folder_into_the_archive_is_refused(scanned):
    """The index folder is written into again: an entry there that leads into the archive (here the
    pointer's temporary name) is refused before anything is written through it."""
    root, paths, catalog_path, _ = scanned
    _update(catalog_path)
    victim = next(iter(paths.values()))
    before = victim.read_bytes()
    os.symlink(victim, index_folder(catalog_path) / "current.tmp")
    with pytest.raises(ArchiveWriteError):
        _update(catalog_path)
    assert victim.read_bytes() == before


def test_damaged_index_says_to_rebuild(scanned):
    _, _, catalog_path, _ = scanned
    _update(catalog_path)
    folder = index_folder(catalog_path)
    generation = folder / (folder / "current").read_text()
    np.save(generation / "points.npy", np.zeros((3, 2), np.float32))
    with pytest.raises(FigureIndexError, match="figures index"):
        VisualIndex.load(folder)


def test_an_index_of_an_earlier_format_is_refused_then_rebuilt(scanned):
    """Version 1 stored descriptor rows as faiss labels: loaded as image positions, matching would
    index out of range; version 2's inverted file held whole descriptors, which the vote now cuts to
    `IVF_CODE_BYTES`. An older one is refused, and the next `figures index` builds it again from scratch."""
    _, _, catalog_path, _ = scanned
    _update(catalog_path)
    folder = index_folder(catalog_path)
    table = folder / (folder / "current").read_text() / "images.json"
    table.write_text(table.read_text().replace(f'"version": {INDEX_VERSION}', f'"version": {INDEX_VERSION - 1}'))
    with pytest.raises(FigureIndexError, match="another version"):
        VisualIndex.load(folder)
    summary = _update(catalog_path)
    assert (summary.added, summary.kept) == (8, 0)
    assert len(VisualIndex.load(folder).images) == 8


def test_large_index_is_an_inverted_file_that_finds_what_it_holds(monkeypatch, tmp_path: Path):
    """Above IVF_THRESHOLD descriptors the index is approximate (IndexBinaryIVF) and holds the first
    IVF_CODE_BYTES of each descriptor: each stored descriptor, searched whole, must still be found as
    its own nearest neighbour, at distance 0 over the code's bits."""
    import faiss

    from emcensus.figures import index as index_module

    monkeypatch.setattr(index_module, "IVF_THRESHOLD", 1_000)
    descriptors = np.random.default_rng(0).integers(0, 256, (6_000, 32), dtype=np.uint8)
    table = [{"id": image, "start": 10 * image, "count": 10} for image in range(600)]  # 10 descriptors each
    images = np.arange(6_000) // 10  # stored under the position of their image
    index = VisualIndex(table, descriptors, np.zeros((6_000, 2), np.float32))
    assert isinstance(index.faiss, faiss.IndexBinaryIVF) and index.faiss.ntotal == 6_000 and len(index.lists) == 6_000
    assert index.code_bits == index.faiss.d == 8 * IVF_CODE_BYTES < 256 and index.faiss.code_size == IVF_CODE_BYTES
    distances, labels = index.search(descriptors[:500], 1)
    assert (distances[:, 0] == 0).all() and (labels[:, 0] == images[:500]).all()
    path = str(tmp_path / "faiss.index")  # written and read back as `update_index` and `load` do
    faiss.write_index_binary(index.faiss, path)
    again = VisualIndex(table, descriptors, index.points, faiss.read_index_binary(path), index.lists)
    again.faiss.nprobe = index.faiss.nprobe
    assert np.array_equal(again.search(descriptors[500:900], 1)[1][:, 0], images[500:900])


def test_panels_are_matched_through_an_inverted_file_of_short_codes(scanned, monkeypatch) -> None:
    """The vote on an inverted file compares IVF_CODE_BYTES of each descriptor (its distance bound in
    proportion): published panels (crop, resize, JPEG, mirrored, inverted contrast) still find their
    source, as through the exact index of whole descriptors."""
    import faiss

    from emcensus.figures import index as index_module

    _, paths, catalog_path, _ = scanned
    monkeypatch.setattr(index_module, "IVF_THRESHOLD", 1_000)
    _update(catalog_path)
    index = VisualIndex.load(index_folder(catalog_path))
    assert isinstance(index.faiss, faiss.IndexBinaryIVF) and index.code_bits == 8 * IVF_CODE_BYTES
    assert index.faiss.nprobe == index_module.NPROBE < index.faiss.nlist
    matcher = Matcher(index)
    for name, how in (("b", {}), ("c", {"flip": True}), ("a", {"invert": True, "quality": 50})):
        result = matcher.match_panel(publish(area_of(paths[name]), **how))
        assert [Path(found.path).stem for found in result.matches] == [name], (name, how)
        assert result.matches[0].inliers >= 12
    monkeypatch.setattr(index_module, "NPROBE", 3)  # this version's nprobe is set at load, over the file's
    again = VisualIndex.load(index_folder(catalog_path))
    assert again.faiss.nprobe == 3
    again.faiss.nprobe = 5  # a library user's own: the matcher leaves it
    Matcher(again).match_panel(publish(area_of(paths["b"])))
    assert again.faiss.nprobe == 5


def test_an_inverted_file_of_whole_codes_is_searched_with_them(monkeypatch, tmp_path: Path) -> None:
    """An index whose inverted file holds other codes than IVF_CODE_BYTES (32-byte ones, as
    `bench_index_scale --code-bytes 32` writes) is searched with its own code length, read from the
    file, never cut to this version's."""
    from emcensus.figures import index as index_module

    monkeypatch.setattr(index_module, "IVF_THRESHOLD", 1_000)
    descriptors = np.random.default_rng(3).integers(0, 256, (3_000, 32), dtype=np.uint8)
    table = [{"id": image, "start": 10 * image, "count": 10} for image in range(300)]
    points = np.zeros((3_000, 2), np.float32)
    for code_bytes in (32, IVF_CODE_BYTES):
        folder = tmp_path / f"codes-{code_bytes}"
        folder.mkdir()
        index_module.write_generation(folder, table, descriptors, points, code_bytes=code_bytes)
        loaded = VisualIndex.load(folder)
        assert loaded.code_bits == loaded.faiss.d == 8 * code_bytes
        loaded.faiss.nprobe = loaded.faiss.nlist  # every list: what is compared is the codes' distance alone
        changed = descriptors[:200].copy()
        changed[:, 31] ^= 0xFF  # 8 bits past the short codes: seen by whole codes only
        distances, labels = loaded.search(changed, 1)
        assert (distances[:, 0] == (8 if code_bytes == 32 else 0)).all()
        assert (labels[:, 0] == np.arange(200) // 10).all()


def _flipped(descriptors: np.ndarray, bits: int) -> np.ndarray:
    """`descriptors` with their first `bits` bits inverted (all within the inverted file's codes)."""
    unpacked = np.unpackbits(descriptors, axis=1)
    unpacked[:, :bits] ^= 1
    return np.packbits(unpacked, axis=1)


def test_the_votes_distance_bound_is_in_proportion_to_the_code_length(monkeypatch) -> None:
    """A query descriptor votes within MAX_HAMMING of 256 bits on whole codes, and within the same
    fraction of the inverted file's shorter codes: 32 of 128 bits, not 64 of 128 (half the bits a
    random code differs by), which would let descriptors that are no match vote."""
    from emcensus.figures import index as index_module
    from emcensus.figures.features import Features
    from emcensus.figures.match import MAX_HAMMING, _Variant

    descriptors = np.random.default_rng(5).integers(0, 256, (1_200, 32), dtype=np.uint8)
    table = [{"id": image, "start": 10 * image, "count": 10, "year": 2016, "path": f"/a/{image}.tif"}
             for image in range(120)]
    points = np.zeros((1_200, 2), np.float32)
    exact = VisualIndex(table, descriptors, points)
    monkeypatch.setattr(index_module, "IVF_THRESHOLD", 1_000)
    short = VisualIndex(table, descriptors, points)
    short.faiss.nprobe = short.faiss.nlist  # every list: what is compared is the codes' distance alone
    assert exact.code_bits == 256 and short.code_bits == 8 * IVF_CODE_BYTES == 128
    bound = MAX_HAMMING * short.code_bits // 256
    for index, bits, votes in ((short, bound, True), (short, bound + 1, False), (exact, bound + 1, True),
                               (exact, MAX_HAMMING, True), (exact, MAX_HAMMING + 1, False)):
        query = _flipped(descriptors[70:73], bits)  # three descriptors of image 7
        variant = _Variant(Features(np.zeros((3, 2), np.float32), query, 1.0), False, False)
        assert ((7, 0) in Matcher(index)._vote([variant], None)) is votes, (index.code_bits, bits)


@pytest.mark.parametrize("suffix", [".tif", ".png"])
def test_an_image_beyond_the_pixel_bound_is_refused(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"frame{suffix}"
    pixels = np.arange(30 * 40, dtype=np.uint8).reshape(30, 40)
    if suffix == ".tif":
        tifffile.imwrite(path, pixels)
    else:
        Image.fromarray(pixels).save(path)
    assert np.array_equal(read_pixels(str(path), max_pixels=1200), pixels)
    with pytest.raises(FigureIndexError, match="1,200 pixels, more than 1,199"):
        read_pixels(str(path), max_pixels=1199)


def test_a_format_not_read_here_is_refused(tmp_path: Path) -> None:
    (tmp_path / "frame.dm3").write_bytes(b"\0" * 64)
    with pytest.raises(FigureIndexError, match=r"format \.dm3 is not read by the visual index"):
        read_pixels(str(tmp_path / "frame.dm3"))


def test_an_image_whose_read_never_ends_is_one_line_within_the_budget(scanned, monkeypatch) -> None:
    """The scan's per-file time budget bounds the index too (`figures index --file-timeout`): a read
    that blocks is listed, not waited for, and the other images are indexed."""
    import time

    from click.testing import CliRunner

    from emcensus.cli.main import main
    from emcensus.figures import index as index_module

    _, paths, catalog_path, _ = scanned
    hung = os.path.realpath(paths["b"])
    real_read = index_module.read_pixels

    def blocks_on_one(path: str, *args, **kwargs) -> np.ndarray:
        if os.path.realpath(path) == hung:
            time.sleep(30)  # a hung share
            raise AssertionError("the budget did not stop the read")
        return real_read(path, *args, **kwargs)

    monkeypatch.setattr(index_module, "read_pixels", blocks_on_one)
    started = time.monotonic()
    result = CliRunner().invoke(main, ["--catalog", str(catalog_path), "figures", "index", "--workers", "0",
                                       "--file-timeout", "0.5"])
    assert time.monotonic() - started < 20
    assert result.exit_code == 0, result.output
    assert f"{paths['b']}: not indexed: read took longer than 0.5 s; not read" in result.output
    indexed = {os.path.realpath(image["path"]) for image in VisualIndex.load(index_folder(catalog_path)).images}
    assert hung not in indexed and len(indexed) == len(paths) - 1


def test_an_image_whose_decoder_kills_its_worker_is_one_line_and_the_others_are_indexed(scanned, monkeypatch) -> None:
    """The index runs on the scan's pool: a worker that dies on one image (a crash in a decoder, the
    OOM killer) costs that image, listed with the reason, not the index."""
    from emcensus.figures import index as index_module
    from emcensus.scan.pool import CRASH_REASON

    _, paths, catalog_path, _ = scanned
    fatal = os.path.realpath(paths["b"])
    real_read = index_module.read_pixels

    def dies_on_one(path: str, *args, **kwargs) -> np.ndarray:
        if os.path.realpath(path) == fatal:
            os._exit(9)
        return real_read(path, *args, **kwargs)

    monkeypatch.setattr(index_module, "read_pixels", dies_on_one)
    summary = _update(catalog_path, workers=2)
    assert [(os.path.realpath(path), why) for path, why in summary.skipped] == [(fatal, CRASH_REASON)]
    indexed = {os.path.realpath(image["path"]) for image in VisualIndex.load(index_folder(catalog_path)).images}
    assert fatal not in indexed and len(indexed) == len(paths) - 1


@pytest.mark.parametrize("name", ["current", "images.json", "descriptors.npy", "faiss.index"])
def test_a_fifo_in_place_of_an_index_file_is_refused_without_waiting(scanned, name: str) -> None:
    """The index is read under the access policy: a FIFO (here in place of one of its files) would
    block a plain open; it is refused at once, and the message says to rebuild."""
    import time

    _, _, catalog_path, _ = scanned
    _update(catalog_path)
    folder = index_folder(catalog_path)
    target = folder / name if name == "current" else folder / (folder / "current").read_text() / name
    target.unlink()
    os.mkfifo(target)
    started = time.monotonic()
    with pytest.raises(FigureIndexError, match="not a regular file|FIFO"):
        VisualIndex.load(folder)
    assert time.monotonic() - started < 5


@pytest.mark.parametrize("pointer", ["../../elsewhere", "gen-000001/../../x", "", "gen-1"])
def test_a_pointer_that_names_no_generation_is_refused(scanned, pointer: str) -> None:
    _, _, catalog_path, _ = scanned
    _update(catalog_path)
    (index_folder(catalog_path) / "current").write_text(pointer)
    with pytest.raises(FigureIndexError, match="not a generation"):
        VisualIndex.load(index_folder(catalog_path))


def test_descriptors_of_another_shape_are_refused(scanned) -> None:
    _, _, catalog_path, _ = scanned
    _update(catalog_path)
    folder = index_folder(catalog_path)
    generation = folder / (folder / "current").read_text()
    descriptors = np.load(generation / "descriptors.npy")
    np.save(generation / "descriptors.npy", descriptors.reshape(-1, 16))
    with pytest.raises(FigureIndexError, match=r"descriptors.npy holds uint8 \(\d+, 16\)"):
        VisualIndex.load(folder)


def test_a_rerun_keeps_the_inverted_lists_of_unchanged_images(scanned, monkeypatch) -> None:
    """Above IVF_THRESHOLD, assigning descriptors to their lists is what building costs: a rerun keeps
    the centroids and the list of every descriptor of an unchanged image, assigns only the new ones,
    and still finds every descriptor it holds. A rerun with nothing changed writes nothing."""
    import faiss

    from emcensus.figures import index as index_module

    root, paths, catalog_path, rescan = scanned
    monkeypatch.setattr(index_module, "IVF_THRESHOLD", 1_000)
    _update(catalog_path)
    folder = index_folder(catalog_path)
    first = VisualIndex.load(folder)
    assert isinstance(first.faiss, faiss.IndexBinaryIVF)
    first_lists = np.asarray(first.lists)
    generation = (folder / "current").read_text()
    assert _update(catalog_path).kept == 8 and (folder / "current").read_text() == generation  # nothing rewritten

    write_archive_image(paths["c"], shot(scene(777), 0, 0, 1.0, seed=3))
    rescan()
    assert _update(catalog_path).added == 1
    second = VisualIndex.load(folder)
    second_lists = np.asarray(second.lists)
    assert second.faiss.nlist == first.faiss.nlist
    for position, image in enumerate(second.images):
        if image["path"] == str(paths["c"]):
            continue
        old = first.images[first.position_of[image["id"]]]
        assert np.array_equal(second_lists[image["start"]:image["start"] + image["count"]],
                              first_lists[old["start"]:old["start"] + old["count"]])
    second.faiss.nprobe = 1  # each descriptor is in the list nearest to it: one probe finds it
    distances, labels = second.search(second.descriptors, 1)
    assert (distances[:, 0] == 0).all()
    owners = np.repeat(np.arange(len(second.images)), [image["count"] for image in second.images])
    assert np.mean(labels[:, 0] == owners) > 0.99  # under its image's position (a twin elsewhere may come first)


def test_a_large_frame_is_brought_down_before_extraction_with_points_in_file_pixels() -> None:
    """Frames larger than features.MAX_SIDE are reduced before ORB sees them: 8-bit grey gives the very
    keypoints `extract` finds on the whole frame; 16-bit nearly the same ones (the stretch is taken on
    the reduced frame), in the file's pixels, none in the data bar."""
    from emcensus.figures.features import ARCHIVE_FEATURES, extract
    from emcensus.figures.index import archive_features
    from figures.match_support import scene

    area_rows = 1500
    frame = np.clip(cv2.resize(scene(31), (2400, area_rows), interpolation=cv2.INTER_CUBIC), 0, 255).astype(np.uint8)
    frame = np.vstack([frame, np.full((120, 2400), 255, np.uint8)])  # a data bar below the image area
    points, descriptors = archive_features(frame, area_rows)
    whole = extract(frame, ARCHIVE_FEATURES, image_rows=area_rows)
    assert np.array_equal(descriptors, whole.descriptors) and np.allclose(points, whole.points)

    deep = frame.astype(np.uint16) * 200 + 1000
    points, descriptors = archive_features(deep, area_rows)
    assert len(points) == len(descriptors) > 200 and points[:, 1].max() < area_rows and points[:, 0].max() > 2000
    nearest = np.sqrt(((points[:, None] - whole.points[None]) ** 2).sum(-1)).min(axis=1)
    assert np.mean(nearest < 3) > 0.8  # within 3 file px (1.3 px of the prepared frame)


def test_a_rerun_rewrites_the_table_when_only_what_the_catalog_says_of_an_image_changed(scanned) -> None:
    """The early return of a rerun (nothing changed: nothing written) compares the whole table, not
    only the images' files: an entry that no longer says what the catalog says (here its year and
    pixel size, as after a reader's fix) is written anew, its descriptors kept."""
    import json

    _, _, catalog_path, _ = scanned
    _update(catalog_path)
    folder = index_folder(catalog_path)
    first = (folder / "current").read_text()
    table_path = folder / first / "images.json"
    table = json.loads(table_path.read_text())
    truth = dict(table["images"][0])
    table["images"][0].update(year=1901, pixel_size_m=1.0)
    table_path.write_text(json.dumps(table))
    summary = _update(catalog_path)
    assert (summary.added, summary.kept) == (0, 8)
    assert (folder / "current").read_text() != first
    again = VisualIndex.load(folder)
    assert again.images[0] == truth
