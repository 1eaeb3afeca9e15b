"""Demo images look like distinct micrographs: different acquisitions are far apart in pHash, while a
frame's exports stay close to it and its copies are byte-identical."""

from __future__ import annotations

import io
import itertools
from collections import defaultdict

import imagehash
import numpy as np
import pytest
import tifffile
from PIL import Image

from emcensus.demo import Manifest, generate_archive
from emcensus.demo.pixels import (
    TEXTURES_BY_TECHNIQUE,
    PixelBank,
    all_tiles,
    frame_stamp,
    stamped_array,
    stamped_tiff,
    texture_of,
)
from emcensus.quality.duplicates import HASH_DISTANCE

N = 150


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Manifest:
    return generate_archive(tmp_path_factory.mktemp("pix") / "archive", N, seed=23)


def _phashes(archive: Manifest) -> dict[str, imagehash.ImageHash]:
    out = {}
    for f in archive.files:
        with Image.open(archive.root / f.path) as image:
            out[f.path] = imagehash.phash(image)
    return out


def test_different_acquisitions_are_not_near_duplicates(archive):
    hashes = _phashes(archive)
    by_instrument: dict[str, list[str]] = defaultdict(list)
    for f in archive.files:
        if not f.copy and not f.duplicate_export:
            by_instrument[f.instrument].append(f.path)
    distances = [hashes[a] - hashes[b] for paths in by_instrument.values() for a, b in itertools.combinations(paths, 2)]
    assert len(distances) > 3000
    close = sum(d <= HASH_DISTANCE for d in distances)
    assert close / len(distances) < 0.01, f"{close} of {len(distances)} pairs within {HASH_DISTANCE} bits"
    assert np.median(distances) >= 24  # about half of 64 bits: unrelated images


def test_exports_and_copies_stay_the_same_frame(archive):
    hashes = _phashes(archive)
    primary = {f.frame: f for f in archive.files if not f.copy and not f.duplicate_export}
    exports = [f for f in archive.files if f.duplicate_export and not f.copy]
    copies = [f for f in archive.files if f.copy]
    assert exports and copies
    for f in exports:  # a JPEG or BMP saved next to the TIFF of the same frame
        assert hashes[f.path] - hashes[primary[f.frame].path] <= HASH_DISTANCE
    for f in copies:
        twin = next(g for g in archive.files if g.frame == f.frame and not g.copy and g.format == f.format)
        assert (archive.root / f.path).read_bytes() == (archive.root / twin.path).read_bytes()


def test_tiff_holds_the_frame_pixels_and_is_deterministic():
    bank = PixelBank(5)
    for kind, (width, height) in (("SEM", (128, 96)), ("STEM", (64, 48)), ("TEM", (128, 128))):
        stamp = frame_stamp(5, 42)
        data = stamped_tiff(bank, width, height, kind, 7, stamp, "g/p/sample")
        with tifffile.TiffFile(io.BytesIO(data)) as tif:
            pixels = tif.pages.first.asarray()
        assert pixels.shape == (height, width) and pixels.dtype == np.uint8
        assert np.array_equal(pixels, stamped_array(PixelBank(5), width, height, kind, 7, stamp, "g/p/sample"))
        assert data == stamped_tiff(PixelBank(5), width, height, kind, 7, stamp, "g/p/sample")
        assert pixels.std() > 10  # structure, not a flat field
        other = stamped_array(bank, width, height, kind, 7, frame_stamp(5, 43), "g/p/sample")
        assert imagehash.phash(Image.fromarray(other)) - imagehash.phash(Image.fromarray(pixels)) > HASH_DISTANCE


def test_a_specimen_keeps_its_texture_and_specimens_differ():
    for kind, textures in TEXTURES_BY_TECHNIQUE.items():
        seen = {texture_of(kind, f"group/project/sample {i}", 1) for i in range(60)}
        assert seen == set(textures)
        assert texture_of(kind, "group/project/A", 1) == texture_of(kind, "group/project/A", 1)


def test_pool_workers_write_the_same_pixels(tmp_path):
    """Workers get the parent's tiles through the pool initializer; the archive is the same bytes."""
    tiles = all_tiles()
    assert {texture for texture, _ in tiles} == {t for kinds in TEXTURES_BY_TECHNIQUE.values() for t in kinds}
    alone = generate_archive(tmp_path / "one", 40, seed=4, workers=1)
    pooled = generate_archive(tmp_path / "two", 40, seed=4, workers=2)
    assert pooled.timings["workers"] == 2
    assert [f.path for f in pooled.files] == [f.path for f in alone.files]
    for f in alone.files:
        assert (pooled.root / f.path).read_bytes() == (alone.root / f.path).read_bytes()


def test_oversized_frame_is_refused():
    with pytest.raises(ValueError, match="px a side"):
        stamped_array(PixelBank(1), 600, 400, "SEM", 0, frame_stamp(1, 1))
