"""Which keypoints an archive image keeps (`features._spread`, through `extract`): every ORB pyramid
level its share, spread over a grid, so that a small crop of a field, shown enlarged, still finds its
source by the descriptor vote (chosen by response alone, the coarse levels won and a 25 % crop's
region kept a handful of fine-scale descriptors)."""

from __future__ import annotations

import io
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from emcensus.figures.features import ARCHIVE_FEATURES, MAX_SIDE, _spread, detector, prepare
from emcensus.figures.index import VisualIndex
from emcensus.figures.match import Matcher
from emcensus.figures.textures import micrograph
from figures.match_support import texture_archive

WIDTH, HEIGHT = 800, 600
KINDS = ("particles", "pores", "fibres", "crystals", "films")


def _keypoints(rng: np.random.Generator) -> tuple[cv2.KeyPoint, ...]:
    """Keypoints as ORB gives them: fewer at each coarser level, and stronger there."""
    keypoints = []
    for level, count in enumerate((347, 290, 241, 201, 168, 140, 116, 97)):
        for x, y in rng.uniform((0, 0), (WIDTH, HEIGHT), (count, 2)):
            keypoints.append(cv2.KeyPoint(float(x), float(y), 31 * 1.2 ** level, -1,
                                          float(rng.uniform(0, 1) * 2 ** level), level))
    return tuple(keypoints)


def test_every_level_keeps_its_share_and_any_first_part_of_the_list_too() -> None:
    keypoints = _keypoints(np.random.default_rng(0))
    detected = np.bincount([kp.octave for kp in keypoints])
    kept = _spread(keypoints, ARCHIVE_FEATURES, (HEIGHT, WIDTH))
    assert len(kept) == ARCHIVE_FEATURES and len({id(kp) for kp in kept}) == ARCHIVE_FEATURES
    for first in (ARCHIVE_FEATURES, 300, 150):  # an index capped below the 400 keeps the first ones
        levels = np.bincount([kp.octave for kp in kept[:first]], minlength=len(detected))
        assert np.all(np.abs(levels - first * detected / len(keypoints)) <= 1.5), (first, levels)


def test_each_level_spreads_its_share_over_the_image() -> None:
    """Every cell of the 6 x 6 grid keeps finest-level keypoints, not only where they respond most."""
    rng = np.random.default_rng(1)
    keypoints = list(_keypoints(rng))
    for kp in keypoints:  # the left half responds ten times more strongly
        if kp.pt[0] < WIDTH / 2:
            kp.response *= 10
    kept = _spread(tuple(keypoints), ARCHIVE_FEATURES, (HEIGHT, WIDTH))
    finest = np.array([kp.pt for kp in kept if kp.octave == 0])
    cells = {(int(x * 6 // WIDTH), int(y * 6 // HEIGHT)) for x, y in finest}
    assert len(cells) == 36


def _spread_written_out(keypoints: tuple[cv2.KeyPoint, ...], n: int,
                        shape: tuple[int, int] = (HEIGHT, WIDTH)) -> list[cv2.KeyPoint]:
    """`_spread`'s choice with Python loops: each level's keypoints ranked in their grid cells, strongest
    first (equal responses: detected first), taken in turns over the cells up to the level's share, and
    listed by how far into its share each one is, then by strength."""
    height, width = shape
    strength = {i: rank for rank, i in enumerate(sorted(range(len(keypoints)), key=lambda i: -keypoints[i].response))}
    cells: dict[int, dict[int, list[int]]] = {}
    for i in sorted(strength, key=strength.get):
        x, y = (float(v) for v in np.float32(keypoints[i].pt))
        cell = min(int(np.float32(y) * 6 // height), 5) * 6 + min(int(np.float32(x) * 6 // width), 5)
        cells.setdefault(keypoints[i].octave, {}).setdefault(cell, []).append(i)
    found = np.bincount([kp.octave for kp in keypoints])
    shares = np.diff(np.floor(n * np.cumsum(found) / len(keypoints)), prepend=0)
    chosen = []
    for level, level_cells in cells.items():
        turns = sorted((rank, strength[i], i) for cell in level_cells.values() for rank, i in enumerate(cell))
        chosen += [(place / shares[level], strength[i], i) for place, (_, _, i) in enumerate(turns[:int(shares[level])])]
    return [keypoints[i] for _, _, i in sorted(chosen)]


@pytest.mark.parametrize("n", [ARCHIVE_FEATURES, 1000])
def test_the_choice_is_the_one_written_out_equal_responses_included(n: int) -> None:
    """`_spread` sorts one integer key per order (fast on the 32,000 keypoints of dense features): the same
    keypoints in the same order as the rule written out, where many responses are equal."""
    keypoints = _keypoints(np.random.default_rng(3))
    for kp in keypoints:  # a handful of distinct responses per level: ties everywhere
        kp.response = round(kp.response * 4 / 2 ** kp.octave) / 4 * 2 ** kp.octave
    expected = _spread_written_out(keypoints, n)
    assert len({kp.response for kp in keypoints}) < 50 and len(expected) == n
    assert [id(kp) for kp in _spread(keypoints, n, (HEIGHT, WIDTH))] == [id(kp) for kp in expected]


def test_negative_and_zero_responses_are_ordered_as_numbers() -> None:
    """Harris responses below zero (edges) and zeros of either sign (-0.0 equals 0.0: detected first wins)."""
    keypoints = _keypoints(np.random.default_rng(4))
    for i, kp in enumerate(keypoints):
        kp.response = (-0.0, 0.0, -1e-30, 1e-30, -3.5, 2.0)[i % 6] if i % 3 else kp.response - 0.5 * 2 ** kp.octave
    expected = _spread_written_out(keypoints, ARCHIVE_FEATURES)
    assert [id(kp) for kp in _spread(keypoints, ARCHIVE_FEATURES, (HEIGHT, WIDTH))] == [id(kp) for kp in expected]


@pytest.mark.parametrize(("kind", "upsample", "n"), [("particles", 1, ARCHIVE_FEATURES), ("pores", 1, 2500),
                                                     ("fibres", 2, 8000)])
def test_orbs_own_keypoints_are_chosen_as_written_out(kind: str, upsample: int, n: int) -> None:
    """On ORB's keypoints of a generated micrograph, as the index and the matcher's dense features at the
    file's size and twice it detect them (up to 32,000, equal Harris responses among them), `_spread`
    keeps the keypoints, in the order, of the rule written out."""
    pixels = micrograph(kind, 5, WIDTH, HEIGHT)
    image, _ = prepare(pixels, min_side=upsample * WIDTH, max_side=max(upsample * WIDTH, MAX_SIDE))
    keypoints = detector(n).detect(image, None)
    assert len(keypoints) > 2 * n
    kept = _spread(keypoints, n, image.shape)
    assert [id(kp) for kp in kept] == [id(kp) for kp in _spread_written_out(keypoints, n, image.shape[:2])]


def test_fewer_keypoints_than_asked_are_all_kept() -> None:
    keypoints = _keypoints(np.random.default_rng(2))[:50]
    assert _spread(keypoints, ARCHIVE_FEATURES, (HEIGHT, WIDTH)) == list(keypoints)


def _enlarged_crop(pixels: np.ndarray, box: tuple[int, int, int, int], zoom: float, quality: int) -> np.ndarray:
    """A region of a field shown `zoom` times larger, saved as JPEG, as an author shows a detail."""
    x0, y0, x1, y1 = box
    panel = cv2.resize(pixels[y0:y1, x0:x1], (round((x1 - x0) * zoom), round((y1 - y0) * zoom)),
                       interpolation=cv2.INTER_CUBIC)
    buffer = io.BytesIO()
    Image.fromarray(panel).save(buffer, format="JPEG", quality=quality)
    return np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("L"))


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, np.ndarray], VisualIndex]:
    """Thirty generated micrographs (six of each texture: look-alikes outvote a small crop's source),
    each in a folder of its own (no neighbour brings the source in), indexed as `figures index` keeps them."""
    return texture_archive(tmp_path_factory.mktemp("archive"), KINDS, range(11, 17), width=WIDTH, height=HEIGHT)


@pytest.mark.parametrize("zoom", [1.4, 3.5])
def test_small_crop_shown_enlarged_gets_the_vote_for_its_source(archive, zoom: float) -> None:
    """A 25 % crop of a crystal field shown enlarged: with the coarse levels' descriptors kept by
    response alone, no panel descriptor voted for its source and the match was missed; now it is
    voted for and verified."""
    images, index = archive
    panel = _enlarged_crop(images["crystals_11"], (100, 60, 300, 210), zoom, 75)
    result = Matcher(index).match_panel(panel)
    assert [Path(match.path).parent.name for match in result.matches] == ["crystals_11"]
