"""What the matcher spends per panel: the images acquired around a doubtful fit are verified on the
panel's variant that fit (a field's images share its orientation), each once."""

from __future__ import annotations

from pathlib import Path

from emcensus.figures.features import to_grey8
from emcensus.figures.match import DENSE_FEATURES, MIN_INLIERS, MIN_SIDE, NATIVE_SIDE, Matcher
from figures.match_support import publish, scene, shot
from figures.test_match_candidates import _index


def test_images_around_a_mirrored_doubtful_fit_are_verified_on_the_mirrored_panel_only(tmp_path: Path) -> None:
    specimen = scene(310)
    images = {"field_001": shot(specimen, 200, 200, 1.0, 1), "field_002": shot(specimen, 150, 150, 1.3, 2),
              "field_003": shot(specimen, 100, 100, 1.6, 3), "other_001": shot(scene(311), 100, 100, 1.0, 4)}
    matcher = Matcher(_index(tmp_path, images, outvoted=set()))
    position = {Path(image["path"]).stem: p for p, image in enumerate(matcher.index.images)}
    grey = to_grey8(publish(images["field_001"], crop=(0.2, 0.2, 0.8, 0.8), width=300, flip=True))
    height, width = grey.shape
    variants = matcher._variants(grey, inverted=False)
    doubtful = matcher._fits(variants, [(position["field_002"], 1)], width, height, upsample=1)
    assert doubtful and doubtful[0].mirrored

    asked: list[tuple[int, int]] = []
    fits_of = matcher._fits

    def spy(variants, pairs, width, height, *, upsample=None):
        asked.extend(pairs)
        return fits_of(variants, pairs, width, height, upsample=upsample)

    matcher._fits = spy
    found = matcher._around(variants, doubtful, width, height, None)
    neighbours = matcher._neighbours(position["field_002"], None)
    assert sorted(asked) == sorted([(p, 1) for p in neighbours] * len(DENSE_FEATURES))  # mirrored only, each once
    source = [fit for fit in found if fit.position == position["field_001"]]
    assert source and all(fit.mirrored for fit in source) and max(fit.inliers for fit in source) >= MIN_INLIERS


def test_a_panel_at_least_min_side_long_votes_once_per_polarity(tmp_path: Path) -> None:
    """The panel at its own size (`NATIVE_SIDE`) votes again only where that differs: a panel at least
    `MIN_SIDE` long is prepared alike both ways, so its second vote would be the first, searched again."""
    images = {f"other_{k:03d}": shot(scene(320 + k), 100, 100, 1.0, k) for k in range(4)}
    matcher = Matcher(_index(tmp_path, images, outvoted=set()))
    grey = to_grey8(publish(shot(scene(399), 100, 100, 1.0, 9), width=MIN_SIDE + 88))  # from no archive image
    assert max(grey.shape) >= MIN_SIDE
    for inverted in (False, True):
        first = matcher._vote(matcher._variants(grey, inverted=inverted), None)
        assert matcher._vote(matcher._variants(grey, inverted=inverted, min_side=NATIVE_SIDE), None) == first

    votes: list[tuple[bool, float]] = []  # (on the negative, preparation factor) of each vote
    vote_of = matcher._vote

    def spy(variants, not_after_year):
        votes.append((variants[0].inverted, variants[0].features.factor))
        return vote_of(variants, not_after_year)

    matcher._vote = spy
    assert not matcher.match_panel(grey).matches
    assert [inverted for inverted, _ in votes] == [False, True]  # one per polarity: nothing verified, every step ran
    small = to_grey8(publish(shot(scene(399), 100, 100, 1.0, 9), width=300))
    votes.clear()
    matcher.match_panel(small)
    # a small panel: its native vote too (at its own size: `NATIVE_SIDE`), on the panel as printed, not
    # on its negative (see NATIVE_SIDE)
    assert [inverted for inverted, _ in votes] == [False, False, True]
    assert votes[0][1] == votes[2][1] == MIN_SIDE / 300 and votes[1][1] == 1.0


def test_dense_features_and_pixels_used_again_are_the_last_dropped(tmp_path: Path, monkeypatch) -> None:
    """The caches drop the least recently used entry: panels of one article come back to the same
    candidates, and dropping the oldest first recomputed 40 of a long publication's 202 dense features."""
    import emcensus.figures.match as match_module

    images = {f"other_{k:03d}": shot(scene(330 + k), 100, 100, 1.0, k) for k in range(3)}
    matcher = Matcher(_index(tmp_path, images, outvoted=set()))
    position = {Path(image["path"]).stem: p for p, image in enumerate(matcher.index.images)}
    extracted: list[int] = []
    read: list[str] = []
    extract_of, read_of = match_module.extract, match_module.read_pixels
    monkeypatch.setattr(match_module, "extract", lambda pixels, n, **sides: extracted.append(n) or extract_of(pixels, n, **sides))
    monkeypatch.setattr(match_module, "read_pixels", lambda path: read.append(Path(path).stem) or read_of(path))
    monkeypatch.setattr(match_module, "_CACHED_FEATURES", 2)
    monkeypatch.setattr(match_module, "_CACHED_IMAGES", 2)
    first, second, third = (position[f"other_{k:03d}"] for k in range(3))
    kept = matcher._dense_features(first, 1)
    for used in (second, first, third):  # the first used again after the second: the second is dropped for the third
        matcher._dense_features(used, 1)
    assert matcher._dense_features(first, 1) is kept
    assert len(extracted) == 3 and read == ["other_000", "other_001", "other_002"]
    matcher._dense_features(second, 1)  # dropped: extracted again, from its pixels still held
    assert len(extracted) == 4 and len(read) == 3
    for used in (first, second, third):  # the pixels held: the third's and the second's, used last
        matcher._pixels(used)
    assert read == ["other_000", "other_001", "other_002", "other_000", "other_002"]


def test_a_pair_verified_before_is_not_verified_again_and_each_step_gets_fits_of_its_own(tmp_path: Path) -> None:
    """Later steps of a panel's search reach (image, variant) pairs an earlier step verified (`_around`
    a neighbour checked densely before, `_deeper` an image `_agreed_first` moved): the fit is the same, so
    it is not computed again; each step's fits are its own, as later steps change them (`_confirm`)."""
    specimen = scene(340)
    images = {"field_001": shot(specimen, 200, 200, 1.0, 1), "other_001": shot(scene(341), 100, 100, 1.0, 2)}
    matcher = Matcher(_index(tmp_path, images, outvoted=set()))
    position = {Path(image["path"]).stem: p for p, image in enumerate(matcher.index.images)}
    grey = to_grey8(publish(images["field_001"], crop=(0.2, 0.2, 0.8, 0.8), width=300))
    height, width = grey.shape
    variants = matcher._variants(grey, inverted=False)
    pairs = [(position["field_001"], 0), (position["other_001"], 0)]
    verified: list[tuple[int, bool]] = []
    verify_of = matcher._verify

    def spy(variant, at, width, height, archive=None):
        verified.append((at, archive is None))
        return verify_of(variant, at, width, height, archive)

    matcher._verify = spy
    first = matcher._fits(variants, pairs, width, height, upsample=1)
    assert [fit.position for fit in first] == [position["field_001"]] and first[0].inliers >= MIN_INLIERS
    first[0].confirmed, first[0].coverage = True, 0.5  # what a later step may do to its own fits
    again = matcher._fits(variants, pairs, width, height, upsample=1)
    assert verified == [(position["field_001"], False), (position["other_001"], False)]  # each pair once
    assert again[0] is not first[0] and not again[0].confirmed and again[0].coverage == 1.0
    assert (again[0].inliers, again[0].matches) == (first[0].inliers, first[0].matches)
    assert (again[0].transform == first[0].transform).all()
    matcher._fits(variants, pairs, width, height)  # on the indexed keypoints: another verification
    matcher._fits(matcher._variants(grey, inverted=False), pairs, width, height, upsample=1)  # another search's variants
    assert verified[2:] == [(position["field_001"], True), (position["other_001"], True),
                            (position["field_001"], False), (position["other_001"], False)]
