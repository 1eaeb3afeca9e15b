"""The matcher on real pixels: procedural micrographs, published the way authors do it (crop,
resize, JPEG, flip, inverted contrast, small rotation, gamma, arrows and labels), matched through a
real faiss index of ORB descriptors. No catalog here: the index is built from TIFF files directly
(the matcher reads them for its second, dense verification and to tell a source from its repeats)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile

from emcensus.figures.features import ARCHIVE_FEATURES, extract
from emcensus.figures.index import VisualIndex
from emcensus.figures.match import Matcher
from figures.match_support import BAR, HEIGHT, WIDTH, publish, scene, shot, visual_index

#: name -> (specimen, x, y, zoom, noise seed); A has a repeat and a 2.5x zoom into its field.
SHOTS = {
    "a": (0, 100, 100, 1.0, 1), "a_repeat": (0, 100, 100, 1.0, 2), "a_zoom": (0, 250, 200, 0.4, 3),
    "b": (1, 150, 80, 1.0, 4), "c": (2, 60, 120, 1.0, 5), "d": (3, 100, 100, 1.0, 6), "e": (4, 100, 100, 1.0, 7),
}
PIXEL_SIZE = 10e-9


def shot_images() -> dict[str, np.ndarray]:
    """The `SHOTS` micrographs, pixels by name."""
    specimens = {n: scene(100 + n) for n in {s[0] for s in SHOTS.values()}}
    return {name: shot(specimens[sp], x, y, zoom, seed) for name, (sp, x, y, zoom, seed) in SHOTS.items()}


def write_tiffs(folder: Path, images: dict[str, np.ndarray]) -> Path:
    """Each image as `folder/name.tif` (what the matcher reads back for its dense checks)."""
    for name, pixels in images.items():
        tifffile.imwrite(folder / f"{name}.tif", pixels)
    return folder


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> dict[str, np.ndarray]:
    images = shot_images()
    archive.folder = write_tiffs(tmp_path_factory.mktemp("archive"), images)
    return images


def _index(images: dict[str, np.ndarray], years: dict[str, int] | None = None,
           folder: Path | None = None) -> VisualIndex:
    """An index of `images`, written as TIFFs named after them in `folder` (the module archive's by default)."""
    folder = folder or archive.folder
    return visual_index({folder / f"{name}.tif": pixels for name, pixels in images.items()}, pixel_size_m=PIXEL_SIZE,
                        years={folder / f"{name}.tif": year for name, year in (years or {}).items()})


@pytest.fixture(scope="module")
def matcher(archive) -> Matcher:
    return Matcher(_index(archive))


def _names(result) -> list[str]:
    return [Path(m.path).stem for m in result.matches]


def _stems(paths: list[str]) -> list[str]:
    return [Path(p).stem for p in paths]


@pytest.mark.parametrize("how", [
    {},
    {"flip": True},
    {"invert": True},
    {"angle": 4.0},
    {"gamma": 0.6, "quality": 40},
    {"crop": (0.0, 0.0, 1.0, 1.0), "width": 900},
], ids=["crop60", "mirrored", "inverted", "rotated", "gamma-jpeg40", "enlarged"])
def test_published_panel_is_found_with_its_crop_and_scale(matcher, archive, how):
    crop = how.get("crop", (0.1, 0.1, 0.7, 0.7))
    panel = publish(archive["b"], **how)
    result = matcher.match_panel(panel)
    assert _names(result) == ["b"]
    found = result.matches[0]
    assert found.inliers >= 12 and found.mirrored == how.get("flip", False)
    assert found.inverted == how.get("invert", False)
    expected_scale = panel.shape[1] / ((crop[2] - crop[0]) * WIDTH)
    assert found.scale == pytest.approx(expected_scale, rel=0.06)
    truth = (crop[0] * WIDTH, crop[1] * HEIGHT, crop[2] * WIDTH, crop[3] * HEIGHT)
    tolerance = 0.04 * WIDTH + (10 if how.get("angle") else 0)  # a rotated panel's box holds its corners
    assert np.allclose(found.crop_box_px, truth, atol=tolerance)
    crop_width = found.crop_box_px[2] - found.crop_box_px[0]
    assert found.panel_fov_m == pytest.approx(crop_width * PIXEL_SIZE, rel=0.08)


def test_repeat_and_zoom_of_the_same_field_are_related_never_the_match(matcher, archive):
    result = matcher.match_panel(publish(archive["a"]))
    assert _names(result) == ["a"]
    assert set(_stems(result.matches[0].related_paths)) <= {"a_repeat", "a_zoom"}
    # the repeat shares the structure but not the noise: it verifies, more weakly than the source
    assert "a_repeat" in _stems(result.matches[0].related_paths + [m.path for m in result.weaker])


def test_source_not_its_repeat_when_both_verify_strongly(matcher, archive):
    """Enlarged, the repeat verifies with many inliers too: the fine detail (noise) the panel
    carries says which of the two was published."""
    for name in ("a", "a_repeat"):
        result = matcher.match_panel(publish(archive[name], crop=(0.0, 0.0, 1.0, 1.0), width=900))
        assert _names(result) == [name]
        assert ("a_repeat" if name == "a" else "a") in _stems(result.matches[0].related_paths)


def test_small_crop_is_verified_with_keypoints_read_from_the_archive_file(matcher, archive):
    """A 30 % crop holds a few dozen of the 400 indexed keypoints: the best-voted candidates are
    verified again with many more, extracted from their files."""
    result = matcher.match_panel(publish(archive["b"], crop=(0.35, 0.35, 0.65, 0.65), width=200))
    assert _names(result) == ["b"]
    box = result.matches[0].crop_box_px
    assert np.allclose(box, (0.35 * WIDTH, 0.35 * HEIGHT, 0.65 * WIDTH, 0.65 * HEIGHT), atol=0.03 * WIDTH)


@pytest.mark.parametrize(("name", "crop", "width", "quality"), [
    ("b", (0.35, 0.35, 0.65, 0.65), 200, 70),
    ("c", (0.4, 0.4, 0.65, 0.65), 160, 70),
    ("d", (0.2, 0.3, 0.5, 0.6), 150, 50),
], ids=["crop30-200px", "crop25-160px", "crop30-150px-jpeg50"])
def test_small_inverted_crop_is_verified_densely_on_its_negative(matcher, archive, name, crop, width, quality):
    """A small crop printed in inverted contrast: the negative's own keypoints vote, and its
    candidates are verified on dense keypoints read from their files, as for a positive panel (the
    negative verified only on indexed keypoints found none of these three)."""
    result = matcher.match_panel(publish(archive[name], crop=crop, width=width, quality=quality, invert=True))
    assert _names(result) == [name]
    found = result.matches[0]
    assert found.inverted and found.inliers >= 12
    assert found.scale == pytest.approx(width / ((crop[2] - crop[0]) * WIDTH), rel=0.06)


def test_zoomed_image_published_on_its_own_is_matched_to_itself(matcher, archive):
    result = matcher.match_panel(publish(archive["a_zoom"], crop=(0.05, 0.05, 0.95, 0.95), width=400))
    assert _names(result) == ["a_zoom"]


def test_specimen_not_in_the_archive_matches_nothing(matcher):
    stranger = shot(scene(999), 100, 100, 1.0, seed=9)
    result = matcher.match_panel(publish(stranger))
    assert result.matches == []
    assert all(m.inliers < 12 for m in result.weaker)


def test_montage_of_two_images_gives_two_matches(matcher, archive):
    left, right = publish(archive["c"], width=280), publish(archive["d"], width=280)
    gutter = np.full((left.shape[0], 12), 255, np.uint8)
    result = matcher.match_panel(np.hstack([left, gutter, right[:left.shape[0]]]))
    assert sorted(_names(result)) == ["c", "d"]


def test_images_acquired_after_the_article_are_not_candidates(archive):
    late = Matcher(_index(archive, years={"b": 2020}))
    panel = publish(archive["b"])
    assert _names(late.match_panel(panel, not_after_year=2019)) == []
    assert _names(late.match_panel(panel, not_after_year=2020)) == ["b"]


def test_data_bar_is_cut_before_features(archive):
    with_bar = np.vstack([archive["c"], np.full((BAR, WIDTH), 255, np.uint8)])
    features = extract(with_bar, ARCHIVE_FEATURES, image_rows=HEIGHT)
    assert len(features) > 100
    assert features.points[:, 1].max() < HEIGHT


def test_empty_index_matches_nothing(archive):
    empty = VisualIndex([], np.zeros((0, 32), np.uint8), np.zeros((0, 2), np.float32))
    assert Matcher(empty).match_panel(publish(archive["a"])).matches == []


def test_archive_file_whose_read_never_ends_is_skipped_within_the_budget(archive, monkeypatch):
    """Re-reading a candidate's file runs under the scan's per-file budget: a hung read costs the
    budget, not the command (the small crop then goes unverified instead of waiting)."""
    import time

    from emcensus.figures import match as match_module

    def hangs(path: str, *args, **kwargs) -> np.ndarray:
        time.sleep(30)  # a hung share
        raise AssertionError("the budget did not stop the read")

    monkeypatch.setattr(match_module, "read_pixels", hangs)
    monkeypatch.setattr(match_module, "FILE_TIMEOUT_S", 0.3)
    started = time.monotonic()
    result = Matcher(_index(archive)).match_panel(publish(archive["b"], crop=(0.35, 0.35, 0.65, 0.65), width=200))
    assert time.monotonic() - started < 15
    assert "b" not in _names(result)


def test_archive_file_damaged_since_it_was_indexed_leaves_its_candidate_unverified(archive, tmp_path):
    """A candidate's file whose decoder now fails with an error of its own (a deflate TIFF damaged since it
    was indexed: imagecodecs' DeflateError, a RuntimeError) is not read, as an unreadable file is not: that
    candidate goes unverified, and the panel, and the command, go on."""
    write_tiffs(tmp_path, archive)
    tifffile.imwrite(tmp_path / "b.tif", archive["b"], compression="zlib")
    damaged = bytearray((tmp_path / "b.tif").read_bytes())
    damaged[len(damaged) // 2:len(damaged) // 2 + 64] = bytes(64)
    (tmp_path / "b.tif").write_bytes(bytes(damaged))
    matcher = Matcher(_index(archive, folder=tmp_path))
    result = matcher.match_panel(publish(archive["b"], crop=(0.35, 0.35, 0.65, 0.65), width=200))
    assert "b" not in _names(result)
    assert matcher._pixels(list(archive).index("b")) is None
    assert _names(matcher.match_panel(publish(archive["c"]))) == ["c"]
