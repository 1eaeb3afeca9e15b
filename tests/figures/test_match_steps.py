"""bench/match_steps.py: the per-step record of a panel, read from the product's own matcher on real pixels
(issue 8's stop-rule data): the step where the match first stood, the votes and inliers each step had."""

from __future__ import annotations

import sys
from pathlib import Path

from emcensus.figures.match import Matcher
from figures.match_support import publish, scene, shot
from figures.test_match import _index, shot_images, write_tiffs

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from match_steps import StepTrace, first_stood  # noqa: E402


def test_a_panel_record_names_the_step_its_match_stood_at_and_what_each_step_had(tmp_path: Path) -> None:
    images = shot_images()
    matcher = Matcher(_index(images, folder=write_tiffs(tmp_path, images)))
    methods = dict(vars(Matcher))
    plain = publish(images["b"])
    inverted_crop = publish(images["c"], crop=(0.4, 0.4, 0.65, 0.65), width=160, quality=70, invert=True)
    stranger = publish(shot(scene(999), 100, 100, 1.0, seed=9))
    trace = StepTrace()
    with trace.traced():
        for panel in (plain, inverted_crop, stranger):
            matcher.match_panel(panel)
    assert all(vars(Matcher)[name] is method for name, method in methods.items())  # the product's methods back
    first, small, none = trace.panels
    assert first_stood(first) == "printed/indexed" and first["matches"][0][0] == "b.tif"
    assert [step["step"] for step in first["polarities"][0]["steps"]][:2] == ["vote", "indexed"]
    assert first["polarities"][0]["steps"][0]["top"][0] >= 10  # the source's votes
    # the small inverted crop: nothing before twice the file's size on its negative (see NATIVE_SIDE)
    assert first_stood(small) == "negative/dense2" and small["matches"][0][0] == "c.tif"
    negative = small["polarities"][1]["steps"]
    assert all(not step.get("stood") for step in negative[:3]) and negative[3]["step"] == "dense2"
    # a panel from no archive image: every step of both polarities, then the whole fields; nothing stood
    assert none["matches"] == [] and first_stood(none) is None
    assert [p["inverted"] for p in none["polarities"]] == [False, True] and none["steps"][0]["step"] == "whole fields"
    assert {"dense1", "dense2", "deep"} <= {step["step"] for step in none["polarities"][0]["steps"]}
    assert none["cpu"] >= sum(p["cpu"] for p in none["polarities"])
    matcher.match_panel(plain)  # not traced once the trace is left
    assert len(trace.panels) == 3
