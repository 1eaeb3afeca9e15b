"""Which voted images a small panel's dense check takes: a small crop holds few of its source's indexed
descriptors, so most candidates gather the 2 votes the ranking needs and tie; the image that the panel's
other preparation (at its own size) votes for too comes before those only one vote names.

Real files and a real index (procedural micrographs written as TIFFs); the two votes are given, as the
order among tied images is the index's own."""

from __future__ import annotations

from pathlib import Path

from emcensus.figures.match import DENSE_CANDIDATES, MIN_INLIERS, MIN_SIDE, Matcher, _agreed_first
from figures.match_support import publish, scene, shot
from figures.test_match_candidates import _index


def test_images_both_votes_name_come_first_each_vote_keeping_its_order() -> None:
    voted = [(1, 0), (2, 0), (3, 1), (9, 0), (4, 0)]
    native = [(5, 1), (9, 1), (6, 0), (2, 1)]
    assert _agreed_first(voted, native) == [(2, 0), (9, 1), (9, 0), (2, 1),
                                            (1, 0), (5, 1), (3, 1), (6, 0), (4, 0)]
    assert _agreed_first(voted, []) == voted
    assert _agreed_first([(1, 0), (2, 0)], [(3, 0), (4, 1)]) == [(1, 0), (3, 0), (2, 0), (4, 1)]  # taken in turn


def test_small_crop_tied_low_in_one_vote_and_named_by_the_other_is_checked_densely_first(tmp_path: Path) -> None:
    """Seed 23 Rossi 1c: its source tied 4th of the images with 2 votes, Rh_003 first on a vote of one
    preparation only; taken in turn, four others came before it and it was never checked densely."""
    images = {"field_001": shot(scene(330), 200, 200, 1.0, 1)} | {
        f"other_{k:03d}": shot(scene(331 + k), 100, 100, 1.0, 2 + k) for k in range(6)}
    # the source's indexed descriptors left out: it verifies only on dense ones, read from its file
    matcher = Matcher(_index(tmp_path, images, outvoted={"field_001"}))
    position = {Path(image["path"]).stem: p for p, image in enumerate(matcher.index.images)}
    source, others = position["field_001"], [position[f"other_{k:03d}"] for k in range(6)]
    panel = publish(images["field_001"], crop=(0.35, 0.35, 0.62, 0.62), width=260)
    assert max(panel.shape) < MIN_SIDE  # a small panel: it votes at its own size too

    votes = iter([[(p, 0) for p in others[:4]] + [(source, 0)],  # at MIN_SIDE: the source tied 5th
                  [(others[4], 0), (others[5], 1), (source, 0)]])  # at its own size: named again
    matcher._vote = lambda variants, not_after_year: next(votes, [])
    dense: list[list[int]] = []
    fits_of = matcher._fits

    def spy(variants, pairs, width, height, *, upsample=None):
        if upsample == 2:
            dense.append([p for p, _ in pairs])
        return fits_of(variants, pairs, width, height, upsample=upsample)

    matcher._fits = spy
    result = matcher.match_panel(panel)
    assert dense[0][0] == source and len(set(dense[0])) == DENSE_CANDIDATES  # first, within the same count
    assert [Path(m.path).stem for m in result.matches] == ["field_001"]
    assert result.matches[0].inliers >= MIN_INLIERS
