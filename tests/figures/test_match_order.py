"""A panel's result does not depend on what the matcher matched before: users match folders of papers
in any order, and the matcher keeps archive pixels and dense features between panels (`_pixels`,
`_dense_features`), evicting the oldest. Matching A then B must give B's result as B alone, with the
caches cold, warm, or evicted down to one entry."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from emcensus.figures import match as match_module
from emcensus.figures.match import Matcher, PanelResult
from figures.match_support import publish, scene, shot
from figures.test_match import _index, shot_images, write_tiffs


def _outcome(result: PanelResult) -> list[tuple]:
    """Everything a panel's result says, matches then weaker candidates, rounded for comparison."""
    return [(weak, Path(m.path).stem, m.inliers, m.score, tuple(np.round(m.crop_box_px, 3)), round(m.scale, 6),
             m.mirrored, m.inverted, tuple(Path(p).stem for p in m.related_paths))
            for weak, found in ((False, result.matches), (True, result.weaker)) for m in found]


@pytest.fixture(scope="module")
def panels(tmp_path_factory) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], object]:
    images = shot_images()
    folder = write_tiffs(tmp_path_factory.mktemp("order"), images)
    panels = {  # each one through other steps of the search: dense at both sizes, the negative, every fallback
        "small crop": publish(images["b"], crop=(0.35, 0.35, 0.65, 0.65), width=200),
        "inverted crop": publish(images["c"], crop=(0.4, 0.4, 0.65, 0.65), width=160, quality=70, invert=True),
        "repeat enlarged": publish(images["a_repeat"], crop=(0.0, 0.0, 1.0, 1.0), width=900),
        "stranger": publish(shot(scene(999), 100, 100, 1.0, seed=9)),
    }
    index = _index(images, folder=folder)
    alone = {name: _outcome(Matcher(index).match_panel(panel)) for name, panel in panels.items()}
    assert [name for name, found in alone.items() if found and not found[0][0]] == \
        ["small crop", "inverted crop", "repeat enlarged"]  # the cases matched: a result worth comparing
    return panels, alone, index


@pytest.mark.parametrize("order", ["forward", "backward"])
@pytest.mark.parametrize("evicting", [False, True], ids=["caches-kept", "caches-of-one"])
def test_a_panel_matched_after_others_gives_its_result_alone(panels, monkeypatch, order, evicting):
    panels_by_name, alone, index = panels
    if evicting:  # every entry evicted by the next: a value must never be served for another use
        monkeypatch.setattr(match_module, "_CACHED_IMAGES", 1)
        monkeypatch.setattr(match_module, "_CACHED_FEATURES", 1)
    names = list(panels_by_name) if order == "forward" else list(panels_by_name)[::-1]
    matcher = Matcher(index)
    for name in names + names[:1]:  # the first one again, on caches the others filled
        assert _outcome(matcher.match_panel(panels_by_name[name])) == alone[name], name
