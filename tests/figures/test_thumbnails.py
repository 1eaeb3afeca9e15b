"""Whole-field thumbnails: a candidate source for a panel that shows a whole archive image with too few
corners for a keypoint fit (a smooth pore field shrunk to 100 px), verified by the image's own pixels.

Real parts: procedural micrographs (`textures.micrograph`) written as TIFFs that the matcher reads back,
published as authors do (`publish`: crop, resize, gamma, flip, rotation, arrow, label, JPEG)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile

from emcensus.figures import thumbnails
from emcensus.figures.index import VisualIndex
from emcensus.figures.match import Matcher
from emcensus.figures.textures import acquire, make_scene, micrograph, render
from figures.match_support import publish, visual_index

WIDTH, HEIGHT = 640, 480
WHOLE = (0.05, 0.03, 0.95, 0.98)  # the field an author keeps of the whole image


@pytest.fixture(scope="module")
def fields() -> dict[str, np.ndarray]:
    """Smooth fields of large pores (few corners once shrunk), and two unrelated crystal fields."""
    images = {f"pores_{i:03d}": micrograph("pores", 40 + i, WIDTH, HEIGHT, fov=0.05) for i in range(5)}
    images.update({f"crystals_{i:03d}": micrograph("crystals", 60 + i, WIDTH, HEIGHT) for i in range(2)})
    return images


def _index(folder: Path, images: dict[str, np.ndarray], *, with_thumbnails: bool = True) -> VisualIndex:
    """A visual index of `images`, written to `folder` as TIFFs, as `figures index` builds it."""
    files = {folder / f"{name}.tif": pixels for name, pixels in images.items()}
    for path, pixels in files.items():
        tifffile.imwrite(path, pixels)
    return visual_index(files, area=(WIDTH, HEIGHT), thumbnails=with_thumbnails)


def test_a_thumbnail_holds_ranks_that_tone_changes_keep(fields) -> None:
    """A thumbnail holds ranks spread evenly over 0-255 (ties share their mean rank: its mean and spread are
    those of every thumbnail, so one inner product is a correlation); a 16-bit copy and a gamma-changed,
    contrast-stretched 8-bit copy of a field give nearly the same thumbnail."""
    field = fields["pores_000"]
    first = thumbnails.thumbnail(field)
    assert first.shape == (thumbnails.PIXELS,) and first.dtype == np.uint8
    assert first.mean() == pytest.approx(127.5, abs=0.5) and first.std() == pytest.approx(73.9, rel=0.01)
    deep = (field.astype(np.float64) * 250).astype(np.uint16)
    toned = np.clip(40 + 0.7 * 255 * (field / 255.0) ** 1.6, 0, 255).astype(np.uint8)
    assert np.array_equal(thumbnails.thumbnail(deep), first)
    assert np.corrcoef(thumbnails.thumbnail(toned), first)[0, 1] > 0.99


def test_a_published_whole_field_correlates_best_with_its_source(fields) -> None:
    """Shrunk to 100 px, gamma-changed, mirrored, inverted, JPEG'd: its source comes first, with the
    orientation and polarity it was published in; an image without a thumbnail (`NONE`) and one not
    allowed (another aspect, a later year) are never candidates."""
    names = list(fields)
    stored = np.stack([thumbnails.thumbnail(pixels) for pixels in fields.values()] + [thumbnails.NONE])
    search = thumbnails.searcher(stored)
    assert np.array_equal(thumbnails.held(search), stored)
    panel = publish(fields["pores_000"], crop=WHOLE, width=100, quality=45, gamma=0.6, flip=True, invert=True)
    query = thumbnails.queries(panel)
    allowed = np.ones(len(stored), bool)
    ranked = thumbnails.best(search, query, allowed, k=len(stored))
    position, mirrored, inverted, correlation = ranked[0]
    assert (names[position], mirrored, inverted) == ("pores_000", True, True)
    assert correlation == pytest.approx(-np.corrcoef(query[1], stored[position])[0, 1], abs=0.01)
    assert 1 >= correlation > 0.6 > ranked[1][3] + 0.2
    assert len(stored) - 1 not in [candidate[0] for candidate in ranked]
    allowed[position] = False
    assert position not in [candidate[0] for candidate in thumbnails.best(search, query, allowed, k=len(stored))]


def test_only_a_similarity_is_a_published_copy() -> None:
    """A fit that rotates and scales is how an image is published; one that stretches, shears or mirrors
    is an alignment forcing unrelated structure together."""
    angle = np.radians(2.7)
    rotation = 0.144 * np.array([[np.cos(angle), -np.sin(angle), -3.4], [np.sin(angle), np.cos(angle), -2.5]])
    assert thumbnails.is_similarity(rotation)
    assert not thumbnails.is_similarity(np.array([[0.2, 0.0, 0.0], [0.0, 0.15, 0.0]]))  # stretched 1.33x
    assert not thumbnails.is_similarity(np.array([[0.2, 0.05, 0.0], [0.0, 0.2, 0.0]]))  # sheared
    assert not thumbnails.is_similarity(np.array([[-0.2, 0.0, 0.0], [0.0, 0.2, 0.0]]))  # mirrored


def test_whole_field_fit_maps_the_image_onto_the_panel() -> None:
    """The image's outer edges (pixel centres at 0..n-1) onto the panel's."""
    fit = thumbnails.whole_field(100, 75, 640, 480)
    corners = np.array([[-0.5, -0.5, 1], [639.5, 479.5, 1]], np.float64) @ fit.T
    assert np.allclose(corners, [[-0.5, -0.5], [99.5, 74.5]])


@pytest.mark.parametrize("edits", [{"gamma": 0.6}, {"flip": True, "angle": 2.5}], ids=["gamma", "mirrored"])
def test_a_whole_field_without_corners_is_matched_through_its_thumbnail(fields, tmp_path: Path, edits) -> None:
    """No keypoint fit holds on a 100 px copy of a smooth pore field (nothing verifies without thumbnails);
    with them, its source is the match, with the crop box the author kept, the mirroring, no inliers."""
    panel = publish(fields["pores_001"], crop=WHOLE, width=100, quality=45, **edits)
    assert Matcher(_index(tmp_path, fields, with_thumbnails=False)).match_panel(panel).matches == []
    result = Matcher(_index(tmp_path, fields)).match_panel(panel)
    assert [Path(m.path).stem for m in result.matches] == ["pores_001"]
    match = result.matches[0]
    # no keypoint evidence: score 0 (README), so it sorts after every keypoint match in review and a
    # positive `figures accept --min-score` leaves it to a person
    assert match.inliers == 0 and match.score == 0 and match.mirrored == bool(edits.get("flip"))
    kept = (WHOLE[0] * WIDTH, WHOLE[1] * HEIGHT, WHOLE[2] * WIDTH, WHOLE[3] * HEIGHT)
    assert np.allclose(match.crop_box_px, kept, atol=0.03 * WIDTH)
    assert match.scale == pytest.approx(100 / (0.9 * WIDTH), rel=0.03)


def test_a_thumbnail_candidate_alone_never_makes_a_match(fields, tmp_path: Path) -> None:
    """A pore field from another specimen: the archive's pore fields are its best thumbnail candidates, but
    none of their pixels explain it, so nothing is matched."""
    stranger = publish(micrograph("pores", 99, WIDTH, HEIGHT, fov=0.05), crop=WHOLE, width=100, quality=45)
    index = _index(tmp_path, fields)
    ranked = thumbnails.best(index.thumbnail_search, thumbnails.queries(stranger), np.ones(len(index), bool), k=3)
    assert ranked and all(Path(index.images[position]["path"]).stem.startswith("pores") for position, *_ in ranked[:1])
    assert Matcher(index).match_panel(stranger).matches == []


@pytest.mark.parametrize("edits", [{}, {"gamma": 0.6}, {"flip": True, "angle": 2.5}], ids=["plain", "gamma", "mirrored"])
def test_a_whole_field_matched_through_its_thumbnail_is_its_source_not_its_repeat(fields, tmp_path: Path, edits) -> None:
    """A hard negative: a repeat of the field seconds later (the same structure, other noise) aligns as well
    as the source and is confirmed too; it is the source's related image, never the match."""
    repeat = acquire(render(make_scene("pores", 41), (0.5, 0.5), 0.05, WIDTH, HEIGHT), 1001)
    assert np.array_equal(micrograph("pores", 41, WIDTH, HEIGHT, fov=0.05), fields["pores_001"])  # the same field
    panel = publish(fields["pores_001"], crop=WHOLE, width=100, quality=45, **edits)
    (match,) = Matcher(_index(tmp_path, {**fields, "pores_001_repeat": repeat})).match_panel(panel).matches
    assert (Path(match.path).stem, match.inliers) == ("pores_001", 0)
    assert [Path(path).stem for path in match.related_paths] == ["pores_001_repeat"]
