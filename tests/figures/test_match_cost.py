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

    votes: list[tuple[bool, float, int]] = []  # (on the negative, preparation factor, variants searched) of each ballot
    ballot_of = matcher._ballot

    def spy(variants, not_after_year, *, kept=None):
        searched = len(variants) - (0 if kept is None else len(kept) // len(matcher.index))
        votes.append((variants[0].inverted, variants[0].features.factor, searched))
        return ballot_of(variants, not_after_year, kept=kept)

    matcher._ballot = spy
    assert not matcher.match_panel(grey).matches
    # one vote per polarity (nothing verified, every step ran): the panel as printed, then its mirror image
    assert votes == [(False, 1.0, 1), (False, 1.0, 1), (True, 1.0, 1), (True, 1.0, 1)]  # at least MIN_SIDE: as is
    small = to_grey8(publish(shot(scene(399), 100, 100, 1.0, 9), width=300))
    votes.clear()
    matcher.match_panel(small)
    # a small panel: its native vote too (at its own size: `NATIVE_SIDE`, both variants at once), on the
    # panel as printed, not on its negative (see NATIVE_SIDE)
    factor = MIN_SIDE / 300
    assert votes == [(False, factor, 1), (False, factor, 1), (False, 1.0, 2), (True, factor, 1), (True, factor, 1)]


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


def test_the_mirror_image_votes_only_when_the_panel_as_printed_stands_on_nothing(tmp_path: Path) -> None:
    """Most panels are printed as acquired: the mirror image's vote, and its candidates' verification,
    are spent only when the printed candidates stood on nothing (`Matcher._indexed`). Then the ballot of
    both is what one search of both gives, and no (image, variant) pair is verified twice."""
    specimen = scene(350)
    images = {"field_001": shot(specimen, 200, 200, 1.0, 1), **{f"other_{k:03d}": shot(scene(351 + k), 100, 100,
                                                                                     1.0, 2 + k) for k in range(3)}}
    matcher = Matcher(_index(tmp_path, images, outvoted=set()))
    ballots: list[int] = []  # the variants each ballot searched
    verified: list[tuple[int, bool]] = []  # (image position, mirrored) of each verification on indexed keypoints
    ballot_of, verify_of = matcher._ballot, matcher._verify

    def ballot(variants, not_after_year, *, kept=None):
        ballots.append(len(variants) - (0 if kept is None else len(kept) // len(matcher.index)))
        return ballot_of(variants, not_after_year, kept=kept)

    def verify(variant, at, width, height, archive=None):
        if archive is None:
            verified.append((at, variant.mirrored))
        return verify_of(variant, at, width, height, archive)

    matcher._ballot, matcher._verify = ballot, verify
    for flip in (False, True):
        ballots.clear()
        verified.clear()
        grey = to_grey8(publish(images["field_001"], crop=(0.2, 0.2, 0.8, 0.8), width=300, flip=flip))
        height, width = grey.shape
        variants = matcher._variants(grey, inverted=False)
        voted, fits = matcher._indexed(variants, None, width, height)
        assert [(Path(matcher.index.images[f.position]["path"]).stem, f.mirrored) for f in fits
                if f.inliers >= MIN_INLIERS] == [("field_001", flip)]
        assert len(verified) == len(set(verified))  # each pair once
        if not flip:  # the printed vote stood: the mirror image was neither searched nor extracted
            assert ballots == [1] and not any(mirrored for _, mirrored in verified)
            assert variants[1]._voting is None and variants[1]._features is None
        else:  # the joint ballot: as one search of both variants ranks it, its pairs verified as before
            assert ballots == [1, 1]
            again = matcher._variants(grey, inverted=False)
            assert voted == matcher._vote(again, None)
            assert [(f.position, f.mirrored, f.inliers) for f in fits] == \
                [(f.position, f.mirrored, f.inliers) for f in matcher._fits(again, voted, width, height)]
