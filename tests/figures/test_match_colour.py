"""False-colour panels: the colour map is detected and each pixel read back as its place along it, so
that a jet or turbo panel (brightness not monotonic along the map) shows ORB the source's structure.
Real pixels: procedural micrographs coloured with OpenCV's maps (the detection knows matplotlib's),
saved as JPEG with a white label on top, matched through a real faiss index."""

from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
from PIL import Image

from emcensus.figures.colour import detect_colour_map
from emcensus.figures.features import to_grey8
from emcensus.figures.match import Matcher
from figures.match_support import publish, scene, shot
from figures.test_match import _index, _names, shot_images, write_tiffs


def _false_colour(grey: np.ndarray, colormap: int, quality: int = 50) -> np.ndarray:
    """A grey panel drawn in a colour map, labelled in white and saved as a colour JPEG."""
    rgb = np.ascontiguousarray(cv2.applyColorMap(grey, colormap)[:, :, ::-1])
    cv2.putText(rgb, "Pd", (10, 30), cv2.FONT_HERSHEY_SIMPLEX, 0.9, (255, 255, 255), 2)
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="JPEG", quality=quality)
    return np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("RGB"))


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.ravel().astype(np.float64), b.ravel().astype(np.float64))[0, 1])


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> tuple[dict[str, np.ndarray], Matcher]:
    """The matcher tests' micrographs, and a matcher over them."""
    images = shot_images()
    return images, Matcher(_index(images, folder=write_tiffs(tmp_path_factory.mktemp("colour"), images)))


@pytest.fixture(scope="module")
def micrograph() -> np.ndarray:
    return shot(scene(7), 100, 100, 1.0, seed=1)[:300, :400]


@pytest.mark.parametrize("colormap", ["JET", "TURBO", "RAINBOW"])
def test_rainbow_map_panel_reads_back_as_its_grey_values_where_brightness_scrambles_them(micrograph, colormap):
    coloured = _false_colour(micrograph, getattr(cv2, f"COLORMAP_{colormap}"))
    assert detect_colour_map(coloured) is not None
    brightness = cv2.cvtColor(coloured, cv2.COLOR_RGB2GRAY)
    assert _correlation(brightness, micrograph) < 0.4 < 0.85 < _correlation(to_grey8(coloured), micrograph)


@pytest.mark.parametrize("colormap", ["HOT", "VIRIDIS", "INFERNO", "PARULA"])
def test_map_whose_brightness_rises_is_detected_and_read_by_brightness(micrograph, colormap):
    """Brightness already rises along these maps, at JPEG's full resolution (colour is at half)."""
    coloured = _false_colour(micrograph, getattr(cv2, f"COLORMAP_{colormap}"))
    assert detect_colour_map(coloured) is not None
    assert np.array_equal(to_grey8(coloured), cv2.cvtColor(coloured, cv2.COLOR_RGB2GRAY))


def test_panel_is_read_back_through_its_map_block_by_block_as_whole(micrograph, monkeypatch):
    """A huge panel is read back a block of rows at a time (bounded memory), to the same values."""
    from emcensus.figures import colour

    coloured = _false_colour(micrograph, cv2.COLORMAP_JET)
    whole = colour.scalar_from_colour_map(coloured)
    assert whole is not None
    monkeypatch.setattr(colour, "_BLOCK", 1000)  # 2 rows and a half of 400 px: blocks of 2 rows
    assert np.array_equal(colour.scalar_from_colour_map(coloured), whole)
    monkeypatch.setattr(colour, "_BLOCK", 1)  # a row at a time
    assert np.array_equal(colour.scalar_from_colour_map(coloured), whole)


@pytest.mark.parametrize("photograph", ["astronaut", "coffee", "chelsea", "rocket"])
def test_colour_photographs_keep_their_brightness(photograph):
    """Held by no map, or by one whose brightness rises (coffee by copper, chelsea by pink, rocket by
    bone): real photographs, as scikit-image ships them."""
    import skimage.data

    image = np.ascontiguousarray(getattr(skimage.data, photograph)()[:, :, :3])
    assert np.array_equal(to_grey8(image), cv2.cvtColor(image, cv2.COLOR_RGB2GRAY))


def test_images_no_map_holds_keep_their_brightness(micrograph):
    rng = np.random.default_rng(3)
    grey_as_rgb = np.repeat(micrograph[:, :, None], 3, axis=2)
    overlay = grey_as_rgb.copy()  # a grey micrograph with a red and a green overlay
    overlay[:, :150, 0] = 255
    overlay[150:, :, 1] = 200
    labelled = grey_as_rgb.copy()  # a coloured arrow and label on a grey micrograph
    cv2.arrowedLine(labelled, (40, 40), (120, 120), (255, 230, 0), 3)
    cv2.putText(labelled, "pore", (150, 60), cv2.FONT_HERSHEY_SIMPLEX, 1.0, (230, 30, 30), 2)
    for image in (grey_as_rgb, overlay, labelled, rng.integers(0, 256, (200, 200, 3), dtype=np.uint8)):
        assert detect_colour_map(image) is None
        assert np.array_equal(to_grey8(image), cv2.cvtColor(image, cv2.COLOR_RGB2GRAY))


@pytest.mark.parametrize(("name", "crop", "width", "colormap"), [
    ("e", (0.1, 0.1, 0.5, 0.5), 300, "JET"),
    ("e", (0.1, 0.1, 0.5, 0.5), 300, "TURBO"),
    ("b", (0.35, 0.35, 0.65, 0.65), 200, "TURBO"),
], ids=["crop40-jet", "crop40-turbo", "crop30-200px-turbo"])
def test_crop_in_a_rainbow_map_is_matched_to_its_source(archive, name, crop, width, colormap):
    """By brightness the turbo panels verified nothing and the jet one 15 inliers."""
    images, matcher = archive
    grey = publish(images[name], crop=crop, width=width, quality=90)
    result = matcher.match_panel(_false_colour(grey, getattr(cv2, f"COLORMAP_{colormap}")))
    assert _names(result) == [name]
    assert result.matches[0].inliers >= 12
