"""Which voted images a small panel's dense check takes: a small crop holds few of its source's indexed
descriptors, so most candidates gather the 2 votes the ranking needs and tie; the image that the panel's
other preparation (at its own size) votes for too comes before those only one vote names.

Real files and a real index (procedural micrographs written as TIFFs); the two votes are given, as the
order among tied images is the index's own."""

from __future__ import annotations

import random
from itertools import zip_longest
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


def _images(ranked: list[tuple[int, int]]) -> list[int]:
    return list(dict.fromkeys(position for position, _ in ranked))


def _in_turn(voted: list[tuple[int, int]], native: list[tuple[int, int]]) -> list[tuple[int, int]]:
    return [pair for pairs in zip_longest(voted, native) for pair in pairs if pair is not None]


def test_votes_as_cast_on_seed_23() -> None:
    """The two votes as the index cast them (positions of seed 23's archive). Rossi 1c: its source (196) tied
    with 2 votes 4th, and 5th taken in turn, now among the images checked densely; a panel whose first vote's
    leader (37, 5 votes) only that vote names: moved behind the agreed ones, the first the deeper check takes."""
    voted = [(18, 0), (87, 0), (105, 0), (196, 0), (48, 1), (105, 1)]
    native = [(48, 1), (48, 0), (106, 1), (196, 0), (87, 1)]
    assert 196 not in _images(_in_turn(voted, native))[:DENSE_CANDIDATES]
    assert 196 in _images(_agreed_first(voted, native))[:DENSE_CANDIDATES]

    voted = [(37, 1), (70, 0), (186, 0), (91, 1), (37, 0), (151, 0), (173, 1), (91, 0), (112, 0), (123, 0)]
    native = [(91, 0), (93, 0), (127, 0), (151, 0), (186, 0), (93, 1), (173, 1), (91, 1)]
    images = _images(_agreed_first(voted, native))
    assert images[:DENSE_CANDIDATES] == [91, 186, 151, 173] and images[DENSE_CANDIDATES] == 37


def test_a_reorder_of_the_votes_taken_in_turn() -> None:
    """On random votes (an image named twice, by both variants, too): every pair of the two votes kept, the
    images both name first, each part in the order the votes taken in turn give it."""
    rng = random.Random(5)
    for _ in range(200):
        voted, native = ([(rng.randrange(12), rng.randrange(2)) for _ in range(rng.randrange(11))] for _ in range(2))
        turn = _in_turn(voted, native)
        both = {p for p, _ in voted} & {p for p, _ in native}
        assert _agreed_first(voted, native) == [pair for pair in turn if pair[0] in both] + \
            [pair for pair in turn if pair[0] not in both]
        assert len(_images(_agreed_first(voted, native))[:DENSE_CANDIDATES]) == \
            len(_images(turn)[:DENSE_CANDIDATES])  # as many images checked


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

    first = [(p, 0) for p in others[:4]] + [(source, 0)]  # at MIN_SIDE: the source tied 5th
    native = iter([[(others[4], 0), (others[5], 1), (source, 0)]])  # at its own size: named again
    fits_of = matcher._fits
    matcher._indexed = lambda variants, not_after_year, width, height: (first, fits_of(variants, first, width, height))
    matcher._vote = lambda variants, not_after_year: next(native, [])
    dense: list[list[int]] = []

    def spy(variants, pairs, width, height, *, upsample=None):
        if upsample == 2:
            dense.append([p for p, _ in pairs])
        return fits_of(variants, pairs, width, height, upsample=upsample)

    matcher._fits = spy
    result = matcher.match_panel(panel)
    assert dense[0][0] == source and len(set(dense[0])) == DENSE_CANDIDATES  # first, within the same count
    assert [Path(m.path).stem for m in result.matches] == ["field_001"]
    assert result.matches[0].inliers >= MIN_INLIERS
