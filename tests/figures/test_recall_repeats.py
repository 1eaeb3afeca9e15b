"""Repeats as hard negatives where the keypoints are few: a smooth pore field shrunk to 100 px, whose
repeat seconds later fits with a dozen inliers while the source itself fits with fewer. The images
acquired around such a doubtful fit are aligned by it and stand on their pixels, so the source is the
match and the repeat its related image, never the other way round.

Real parts: procedural micrographs (`textures`) written as TIFFs that the matcher reads back, a real
faiss index, panels published as authors do (`publish`: crop, resize, arrow, label, JPEG)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile

import emcensus.figures.match as match_module
from emcensus.figures.match import (FIDELITY_MARGIN, MIN_INLIERS, STRUCTURE_MARGIN, Fit, Matcher, _fidelity,
                                    _structure_of)
from emcensus.figures.textures import acquire, make_scene, micrograph, render
from figures.match_support import publish, visual_index

WIDTH, HEIGHT = 640, 480
WHOLE = (0.05, 0.03, 0.95, 0.98)


@pytest.fixture(scope="module")
def matcher(tmp_path_factory: pytest.TempPathFactory) -> Matcher:
    """Five smooth pore fields, each with a repeat (other noise, no exposure change: the hardest
    case), two unrelated crystal fields; one folder, acquired in name order."""
    folder = tmp_path_factory.mktemp("repeats")
    images = {}
    for i in range(5):
        images[f"pores_{i:03d}"] = micrograph("pores", 40 + i, WIDTH, HEIGHT, fov=0.05)
        images[f"pores_{i:03d}_repeat"] = acquire(render(make_scene("pores", 40 + i), (0.5, 0.5), 0.05, WIDTH, HEIGHT),
                                                  1000 + i)
    images.update({f"crystals_{i:03d}": micrograph("crystals", 60 + i, WIDTH, HEIGHT) for i in range(2)})
    files = {folder / f"{name}.tif": pixels for name, pixels in images.items()}
    for path, pixels in files.items():
        tifffile.imwrite(path, pixels)
    return Matcher(visual_index(files, area=(WIDTH, HEIGHT), thumbnails=True))


def _fits_of(matcher: Matcher, panel: np.ndarray) -> dict[str, int]:
    """Each image's most inliers on the panel by keypoints alone (its search on the printed polarity)."""
    found: dict[str, int] = {}
    for fit in matcher._search(panel, False, None):
        name = Path(matcher.index.images[fit.position]["path"]).stem
        found[name] = max(found.get(name, 0), fit.inliers)
    return found


def test_a_repeat_fitting_on_a_dozen_inliers_gives_way_to_its_source(matcher: Matcher) -> None:
    panel = publish(matcher_pixels(matcher, "pores_003"), crop=WHOLE, width=100, quality=45)
    inliers = _fits_of(matcher, panel)
    # the hard case: the repeat verifies on keypoints, the source does not
    assert inliers["pores_003_repeat"] >= MIN_INLIERS > inliers.get("pores_003", 0)
    (match,) = matcher.match_panel(panel).matches
    assert Path(match.path).stem == "pores_003"
    assert [Path(path).stem for path in match.related_paths] == ["pores_003_repeat"]
    # its numbers are its own alignment's: the author kept 90 % of the width at 100 px
    assert match.scale == pytest.approx(100 / (0.9 * WIDTH), rel=0.03)
    assert match.inliers == 0  # no keypoint evidence of its own (README: such matches score 0)


def test_an_unrelated_neighbour_is_not_aligned_into_the_match(matcher: Matcher) -> None:
    """The field acquired next (another specimen of the same look) is aligned too, and does not stand."""
    panel = publish(matcher_pixels(matcher, "pores_003"), crop=WHOLE, width=100, quality=45)
    (match,) = matcher.match_panel(panel).matches
    assert not any(Path(path).stem.startswith(("pores_002", "pores_004")) for path in match.related_paths)


def matcher_pixels(matcher: Matcher, name: str) -> np.ndarray:
    """An archive image's pixels as its file holds them."""
    path = next(image["path"] for image in matcher.index.images if Path(image["path"]).stem == name)
    return tifffile.imread(path)


def _shrunk_far(tmp_path: Path, exposed: int) -> tuple[Matcher, np.ndarray, Fit, Fit]:
    """A pore field's first shot shown whole at 0.125x, and fits of it and of a later shot of the field
    (`exposed` earlier shots: 0, another first shot with its own noise alone) by the same transform."""
    signal = render(make_scene("pores", 7), (0.5, 0.5), 0.3, WIDTH, HEIGHT)
    shots = {"field_001": acquire(signal, 71), "field_002": acquire(signal, 72, exposed=exposed)}
    files = {tmp_path / f"{name}.tif": pixels for name, pixels in shots.items()}
    for path, pixels in files.items():
        tifffile.imwrite(path, pixels)
    matcher = Matcher(visual_index(files, area=(WIDTH, HEIGHT)))
    panel = publish(shots["field_001"], crop=(0.0, 0.0, 1.0, 1.0), width=80, quality=49)
    scale = 80 / WIDTH
    source, repeat = (Fit(position, 30, 60, np.array([[scale, 0, 0], [0, scale, 0]]), False, False,
                          (0.0, 0.0, panel.shape[1] - 1.0, panel.shape[0] - 1.0)) for position in range(2))
    fidelity = [_fidelity(matcher._aligned(fit, panel)) for fit in (source, repeat)]
    assert abs(fidelity[0] - fidelity[1]) < FIDELITY_MARGIN  # the fine detail cannot tell them apart
    return matcher, panel, source, repeat


def test_shrunk_far_the_source_is_told_from_its_repeat_by_what_earlier_shots_left(tmp_path: Path) -> None:
    """A field shown whole at 0.125x (seed 11 Chen 1a: 0.13x): the noise that tells a source from its repeat
    is averaged away (their fidelities tie), but what the earlier shots' contamination and charging left on
    the repeat is smooth and survives; the source is the match even when the repeat fit surest."""
    matcher, panel, source, repeat = _shrunk_far(tmp_path, exposed=2)
    assert matcher._explains_best([repeat, source], panel) is source
    assert matcher._explains_best([source, repeat], panel) is source


def test_shrunk_far_noise_alone_does_not_overturn_the_surest_fit(tmp_path: Path) -> None:
    """Two first shots of the field, their own noise alone between them (a microscope whose repeats leave
    nothing smooth): their smoothed pixels differ by less than `STRUCTURE_MARGIN` (0.0015 here), so the
    structure does not decide and the surest fit stays the match, whichever it is."""
    matcher, panel, source, repeat = _shrunk_far(tmp_path, exposed=0)
    structure = [_structure_of(matcher._aligned(fit, panel)) for fit in (source, repeat)]
    assert abs(structure[0] - structure[1]) < STRUCTURE_MARGIN
    assert matcher._explains_best([repeat, source], panel) is repeat
    assert matcher._explains_best([source, repeat], panel) is source


@pytest.mark.parametrize(("fidelity", "chosen"), [(0.797, "surest"), (0.801, "other")])
def test_the_structure_decides_only_among_fits_whose_fine_detail_is_as_good(
        monkeypatch: pytest.MonkeyPatch, fidelity: float, chosen: str) -> None:
    """Fidelities within `FIDELITY_MARGIN`, the other fit's structure higher by twice `STRUCTURE_MARGIN`: it is
    the match only when its fine detail explains the panel at least as well as the surest's (seed 23: a repeat's
    structure beat its source's by 0.010, the source's fidelity higher by 0.005); otherwise the surest stays."""
    surest, other = (Fit(position, 30, 60, np.eye(2, 3), False, False, (0.0, 0.0, 99.0, 99.0)) for position in range(2))
    measured = {id(surest): (0.8, 0.9), id(other): (fidelity, 0.9 + 2 * STRUCTURE_MARGIN)}
    monkeypatch.setattr(Matcher, "_aligned", lambda self, fit, grey: fit)
    monkeypatch.setattr(match_module, "_fidelity", lambda fit: measured[id(fit)][0])
    monkeypatch.setattr(match_module, "_structure_of", lambda fit: measured[id(fit)][1])
    assert abs(fidelity - 0.8) < FIDELITY_MARGIN
    best = Matcher.__new__(Matcher)._explains_best([surest, other], np.zeros((100, 100), np.uint8))
    assert best is (surest if chosen == "surest" else other)
