"""Which archive image a published panel shows: descriptor voting, then a verified geometric fit.

What is known to work on real vendor files (issue 8) and is done here: the panel's ORB descriptors
(and, when its candidates verify on nothing, those of its mirror image) vote for archive images through
the faiss index; the few best candidates are verified with one-to-one ratio-test matching and a similarity fit with RANSAC
(`cv2.estimateAffinePartial2D`), kept when the scale is plausible (0.05–20) and the inliers spread
over the panel. True sources have tens to hundreds of inliers, unrelated images a handful, so a match
needs `MIN_INLIERS`. When nothing verified, the best-voted candidates are verified again with many
more keypoints read from the archive files (a crop of 20 % holds few of the 400 indexed ones), then
the images acquired around a weakly verified one (a series member of the source), then the weak ones
with both sides at their fit's scale, then the voted images further down the ranking, one by one
until one verifies; every new candidate passes the same verification. When still
nothing verified, the same search runs on the panel's negative (inverted contrast).

Of the images that verify on the same region of a panel (repeats seconds apart, a magnification
series) one is the match and the others are listed under `related`, never as a second match: the
surest fit (its score counts how much of the panel the image covers, so a zoom into part of the
field loses), unless another image's pixels, warped by its fit, clearly explain the panel's fine
detail better (repeats share the structure, not the noise the panel carries), or, where the fine
detail cannot tell (a field shrunk far), its smoothed pixels do (what earlier shots left on a repeat
is smooth); the images acquired around a match that stands on little keypoint evidence are aligned
by it and join it when their pixels explain the panel. An image that
verifies on a *different* region of the panel (a montage, a series side by side) is a match of
its own. A second fit on the matches left over
keeps a zoomed inset from standing for the whole panel: the fit over the larger region wins.
"""

from __future__ import annotations

import functools
import gc
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from itertools import zip_longest
from pathlib import Path
from typing import Any, TypeVar

import cv2
import faiss
import numpy as np
from threadpoolctl import threadpool_limits

from emcensus.analysis.publications import article_id
from emcensus.catalog.figures import ProposedMatch
from emcensus.errors import ConfigError
from emcensus.figures.documents import DOCUMENT_SUFFIXES, FigureError, FigureImage, Limits, iter_figures
from emcensus.figures.features import MAX_SIDE, MIN_SIDE, QUERY_EDGE, QUERY_FEATURES, Features, extract, to_grey8
from emcensus.figures import thumbnails
from emcensus.figures.index import VisualIndex, read_pixels
from emcensus.figures.ocr import OcrUnavailableError, ocr_line
from emcensus.figures.panels import PanelBox, split_panels
from emcensus.figures.plotlike import is_drawing
from emcensus.figures.scalebar import check_against_fov, fov_from_bar, read_scale_bar, settle_with_fov
from emcensus.scan.pool import FILE_TIMEOUT_S, Budget, Pool, Producer, ProducerFailed, ReadTimeout, Ticket, computing

#: Inliers a match needs to be listed (unrelated images reach 6–8, true sources 17–262).
MIN_INLIERS = 12
#: Inliers a weaker candidate needs to be listed with `--all`.
WEAK_INLIERS = 6
#: Candidates verified per panel (after voting).
CANDIDATES = 10
#: Neighbours per query descriptor in the vote, and the Hamming distance a vote may have (of 256 bits;
#: in proportion on an index of shorter codes).
NEIGHBOURS = 8
MAX_HAMMING = 64
#: A query descriptor votes only for the image of its nearest neighbour, and only when that is
#: clearly nearer than the nearest descriptor of any other image. On the generated corpus (42
#: panels) this put the source first for 83 % of panels and in the top 10 for 93 %; one vote for
#: each of 4 neighbours within 64 bits: 55 % and 81 %.
VOTE_RATIO = 0.8
#: Lowe's ratio test on the two nearest archive descriptors (0.9 verified 11 of 21 test panels, 0.8 8).
RATIO = 0.9
#: Published px per archive px a fit may have.
SCALE_RANGE = (0.05, 20.0)
#: Fraction of the panel's width and height the inliers must span.
MIN_SPREAD = 0.08
#: Two fits on the same region of a panel (overlap / smaller area) show the same field.
SAME_REGION = 0.5
#: Reprojection error allowed, in pixels of the prepared panel.
_REPROJECTION_PX = 3.0
#: A panel nothing verified on: its best-voted candidates are verified again with many more keypoints
#: extracted from the archive file itself (a crop of 20 % holds few of the 400 indexed ones), first
#: at the file's size (a small panel shrunk from most of a field), then, when still nothing verified,
#: from the file upsampled twice (up to `DENSE_SIDE`): a small crop shown enlarged is seen at a scale
#: the upsampled panel's coarse ORB levels barely reach, so the panel at its own size (`NATIVE_SIDE`)
#: votes for candidates too. Keypoints per upsampling factor; on crops of 21-27 % of the width
#: (generated corpus, 8 panels): 0-14 inliers with 2,500 at the file's size, 90-276 with 10,000 at twice.
DENSE_FEATURES = {1: 2500, 2: 8000}
DENSE_SIDE = 2048
DENSE_CANDIDATES = 4
#: A panel on which still nothing verified (every step below): the source may be outvoted by images
#: of look-alike texture (a small crop holds 3-9 of its 400 indexed descriptors, unrelated images
#: gather 10-20 votes), so the ranked images after the first `DENSE_CANDIDATES`, up to this many, are
#: verified densely at the file's size one by one, stopping at the first that verifies. On the panel as
#: printed only: on its negative (inverted contrast) this check found nothing on 554 panels of four
#: generated corpora and the 150 k-image index (it ran on 47 of them, mostly plots and distractors), for
#: 4.5 % of the matcher's CPU at 150 k (paired in one run, the same matches); a negative verifies on its
#: indexed or dense keypoints of the best-voted images (`DENSE_CANDIDATES`) as before.
DEEP_CANDIDATES = 16
#: On the panel as printed only: on its negative the vote at its own size found nothing on four generated
#: corpora and the 150 k-image index, for a faiss search per small panel left unmatched (~0.1 s at 150 k);
#: a small inverted crop verifies at twice the file's size on its negative's own vote (tests/figures/test_match.py).
NATIVE_SIDE = 256
#: Fidelity (see `_fidelity`) by which a fit of the same region must beat the surest one
#: to be the match instead: a panel enlarged from its source gives 0.6 against 0.2 for a repeat;
#: shrunk to a third and JPEG'd, 0.83 against 0.81 once the fits are refined (`_refined`; 0.72
#: against 0.68 before). On the generated corpus the refined fidelity chose the source in 19 of 20
#: panels where several images of one field verified, the score in 18. On seeds 3 and 11 (53 such
#: panels) the source had the highest fidelity in 52; where the surest fit was another member, the
#: source's fidelity was higher by 0.010 (a vector trace), 0.015 (a 102 px panel), 0.024-0.72; in the
#: 53rd (102 px, shrunk to 0.13: no noise left) three repeats were within 0.0003 of each other.
FIDELITY_MARGIN = 0.005
#: Where no fidelity beats the surest fit's by `FIDELITY_MARGIN` (seed 11 Chen 1a, three repeats at 0.13x:
#: 0.7947-0.7959), the structure correlation (`_structure_of`) by which one of those tied must beat the
#: surest's to be the match (the source 0.9525, the other repeats 0.9498 and 0.937; the repeats differ by
#: what the earlier shots' contamination and charging left, `textures.EXPOSURE_CHANGE`). The margin is within
#: the structure's own spread: of 137 source-repeat pairs fitting one region on seeds 3, 7, 11 and 23, the
#: repeat's structure was the higher in 7, by more than the margin in 4 (up to 0.011; in one the source's
#: fidelity was higher by just 0.005), so it decides only between fits whose fidelity is at least the surest's.
STRUCTURE_MARGIN = 0.005
#: A verified image that covers less than this fraction of the panel (the panel, mapped into it,
#: reaches beyond its edges) is most often a higher magnification of part of the panel's field: the
#: images acquired around it (`NEIGHBOURS_AROUND` each way in its folder) are verified densely too,
#: and one of them covering the panel is the match (a stitched montage keeps its partial tiles).
#: So is a fit scoring under `DOUBTFUL_SCORE` (few inliers among many ratio-test matches: a
#: series member at another magnification fits with 20 of 150 where its source, densely, fits 146 of 347).
FULL_COVERAGE = 0.8
DOUBTFUL_SCORE = 20.0
NEIGHBOURS_AROUND = 2
#: A panel nothing verified on, where images verified weakly (`WEAK_INLIERS`): among the `WEAK_SEEDS`
#: best of them may be a series member of the source, or the source itself. The image acquired just
#: before and just after each is verified densely at twice the file's size (crops of 22-27 % of a
#: field shown enlarged, whose source the vote never ranked: 68-216 inliers on the generated corpus,
#: the seed a series member with 6-7), and the seeds themselves with both sides at the scale of their
#: weak fit (`Matcher._at_fit_scale`: a 225 px region shown at 2.45x on a slide, 67 inliers instead
#: of 10; a smooth field shrunk to 40 % and inverted, 12 instead of 11, but 12-19 as the resampled
#: size moves by a few pixels: a borderline case).
WEAK_SEEDS = 3
#: A panel on which nothing verified after every step, where an image fits weakly: a smooth field
#: (large pores, shrunk) has few corners, and its source fits with 6-11 inliers, as unrelated images
#: can. The weak fit stands when the image, warped by it (refined by intensity alignment), explains
#: the panel's structure: the correlation of both, smoothed, over at least `CONFIRM_COVERAGE` of the
#: panel. On generated corpora (seeds 3 and 11) 31 weak fits of unrelated images correlated at most
#: 0.44, sources left weak 0.76-0.99 (a pore field shrunk to 0.66: 6 inliers, 0.94); another member of the
#: source's group correlates as high (0.92-0.96; a series member at 1.1x the field 0.72-0.87), so
#: the bar is above that series member, and the group's fidelity still decides between members.
CONFIRM_CORRELATION = 0.9
CONFIRM_COVERAGE = 0.5
#: A weak fit next to a verified one stands as a montage's next tile (`Matcher._next_tile`) when its
#: scale is within this factor of the verified fit's and its rotation within these degrees.
TILE_SCALE = 1.03
TILE_ROTATION_DEG = 2.0
#: A panel on which nothing verified in either polarity may show an archive image's whole field with too
#: few corners for any keypoint fit, even against its source (pore fields 103-131 px at 0.14-0.18x: not
#: 6 inliers, densely or at the fit's scale). The images whose whole-field thumbnails (`thumbnails`) correlate best with the
#: panel's, of an aspect within `THUMBNAIL_ASPECT` of the panel's, are candidates, aligned onto the whole
#: panel (`_whole_fields`). Of 3,368 such candidates (top 8 of every panel of seeds 3, 7, 11, 23), unrelated
#: images aligned to a structure correlation up to 0.95, always by an affine fit far from a similarity
#: (singular values 1.11-12x apart); kept to similarities, unrelated ones reached 0.70 and 44 of 72
#: sources 0.9 (`CONFIRM_CORRELATION`). With 3,000 generated look-alikes (the same textures, other
#: specimens) among the candidates: 8 of them aligned above 0.9 (0.968 at most), none as a similarity
#: (0.775 at most of 184); 40 sources confirmed, ranked 1st-8th.
THUMBNAIL_CANDIDATES = 8
THUMBNAIL_ASPECT = 1.25
_CONFIRM_SIGMA = 1.5
#: Archive images' pixels, and dense features (at most 8,000 x 40 bytes each), kept in memory: panels
#: of one article often show the same images, and a panel's searches revisit candidates (4 generated
#: publications: 36.6 s CPU with 16 features kept, 31.8 s with 64, separate runs on a loaded machine).
#: An unmatched panel alone touches about 50 (every fallback step, both polarities), so 64 held little
#: more than one: the long publication at 150 k images computed 201 dense features, 39 of them again after
#: they were dropped (40 when the oldest went first, not the least recently used); with 128 kept, 7 again
#: (256: none): 6.5 % less matcher CPU (3 interleaved rounds each, one run, loaded), the same matches;
#: at most 128 x 320 kB (about 22 MB as 1x and 2x features mix).
_CACHED_IMAGES = 16
_CACHED_FEATURES = 128


@dataclass(slots=True)
class Fit:
    """One archive image verified against a panel."""

    position: int  # in the index's image table
    inliers: int
    matches: int
    transform: np.ndarray  # 2x3, archive px -> panel px (of the mirrored panel when `mirrored`)
    mirrored: bool
    inverted: bool
    region: tuple[float, float, float, float]  # inliers' extent in the panel (unmirrored px)
    coverage: float = 1.0  # fraction of the panel, mapped into the archive image, that lies inside it
    #: under `MIN_INLIERS`, but stands: the warped image explains the panel (`CONFIRM_CORRELATION`), or the
    #: fit is a montage's next tile beside a verified one (`Matcher._next_tile`)
    confirmed: bool = False

    @property
    def score(self) -> float:
        """Inliers, weighed by the fraction of ratio-test matches they are (a repeat of the source
        fits with fewer inliers and a lower fraction than the source itself) and by how much of the
        panel the image explains (a higher magnification of part of the field explains only that part)."""
        return self.inliers * (self.inliers / max(self.matches, 1)) ** 0.5 * self.coverage

    @property
    def scale(self) -> float:
        return float(np.hypot(self.transform[0, 0], self.transform[1, 0]))

    def crop_box(self, panel_width: int, panel_height: int, image_width: int | None,
                 image_height: int | None) -> tuple[float, float, float, float]:
        """The panel's rectangle in the archive image's pixels (clipped to the image when its size is known)."""
        linear, offset = self.transform[:, :2], self.transform[:, 2]
        corners = np.array([[0, 0], [panel_width, 0], [panel_width, panel_height], [0, panel_height]], np.float64)
        archive = (np.linalg.inv(linear) @ (corners - offset).T).T
        x0, y0 = archive.min(axis=0)
        x1, y1 = archive.max(axis=0)
        if image_width:
            x0, x1 = max(0.0, x0), min(float(image_width), x1)
        if image_height:
            y0, y1 = max(0.0, y0), min(float(image_height), y1)
        return float(x0), float(y0), float(x1), float(y1)


@dataclass(slots=True)
class PanelMatch:
    """A panel's archive image: the catalog id, the fit, and the other images of the same field."""

    image_id: int
    path: str
    score: float  # Fit.score to 2 decimals: what people see is what --min-score compares
    inliers: int
    crop_box_px: tuple[float, float, float, float]
    scale: float
    mirrored: bool
    inverted: bool
    panel_fov_m: float | None
    related: list[int] = field(default_factory=list)  # catalog ids, best first
    related_paths: list[str] = field(default_factory=list)


@dataclass(slots=True)
class PanelResult:
    """Matches the tool stands behind, and weaker candidates (listed only on request)."""

    matches: list[PanelMatch]
    weaker: list[PanelMatch]


class _Variant:
    """One way the panel is queried (mirrored or not, in one polarity): the features its fits use
    (`features`: keypoints out of ORB's own 31 px band) and those it votes with (`voting`: up to
    `QUERY_EDGE` of its borders), each extracted from `pixels` when first read, as `_variants` leaves
    them: the vote at `NATIVE_SIDE` never fits, `_at_fit_scale` never votes (a second ORB extraction,
    ~14 ms, each). Made with features and no pixels, it votes with those.

    `fitted`: the fit (or None) of each (image position, upsampling) already verified against this variant:
    the later steps of a panel's search reach images an earlier one verified (`_around` a neighbour checked
    densely before, `_deeper` a small panel's image reordered by `_agreed_first`), and the fit is the same
    (the ratio-test pairs and the RANSAC seed are; the long publication at 150 k: 20 of 560 verifications)."""

    __slots__ = ("mirrored", "inverted", "fitted", "_pixels", "_sides", "_features", "_voting")

    def __init__(self, features: Features | None, mirrored: bool, inverted: bool, *, pixels: np.ndarray | None = None,
                 sides: dict[str, int] | None = None) -> None:
        self.mirrored, self.inverted, self._pixels, self._sides = mirrored, inverted, pixels, sides or {}
        self._features: Features | None = features
        self._voting: Features | None = None
        self.fitted: dict[tuple[int, int | None], Fit | None] = {}

    @property
    def features(self) -> Features:
        if self._features is None:
            self._features = extract(self._pixels, QUERY_FEATURES, **self._sides)
        return self._features

    @property
    def voting(self) -> Features:
        if self._voting is None:
            self._voting = self.features if self._pixels is None else \
                extract(self._pixels, QUERY_FEATURES, edge=QUERY_EDGE, **self._sides)
        return self._voting


def _single_threaded(method: Callable[..., PanelResult]) -> Callable[..., PanelResult]:
    """`method` run with one faiss (OpenMP) thread and one BLAS thread, the caller's settings given back
    after: one panel's few thousand descriptors are searched faster by one thread, as faiss's threads spin
    when the cores are busy (1.0 s per search on 2 shared cores, 0.2 s on one); numpy's OpenBLAS, woken by
    the panel's few large products (`colour`), kept a second thread per worker spinning (1.7 % of a
    2-worker run's CPU, `perf`). A library user's own searches and products keep their threads."""
    @functools.wraps(method)
    def with_one_thread(*args: Any, **kwargs: Any) -> PanelResult:
        threads = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(1)
        try:
            with threadpool_limits(limits=1, user_api="blas"):
                return method(*args, **kwargs)
        finally:
            faiss.omp_set_num_threads(threads)
    return with_one_thread


class Matcher:
    """Matches panels against one loaded visual index."""

    def __init__(self, index: VisualIndex, *, candidates: int = CANDIDATES, min_inliers: int = MIN_INLIERS,
                 deep_candidates: int = DEEP_CANDIDATES):
        self.index = index
        self.candidates = candidates
        self.min_inliers = min_inliers
        self.deep_candidates = deep_candidates
        self._dense: dict[tuple[int, int], Features | None] = {}
        self._folders = _by_folder(index)  # built here: forked workers share it instead of each building it
        self._archive: dict[int, np.ndarray | None] = {}
        #: Acquisition year of each indexed image (0: unknown), for `not_after_year`.
        self._years = np.array([image["year"] or 0 for image in index.images], dtype=np.int64)

    @_single_threaded
    def match_panel(self, pixels: np.ndarray, *, not_after_year: int | None = None) -> PanelResult:
        """The archive images a panel shows. `not_after_year` (the article's year) leaves out images
        acquired later: an article cannot show them."""
        height, width = pixels.shape[:2]
        if self.index.faiss.ntotal == 0 or min(height, width) < 8:
            return PanelResult([], [])
        grey = to_grey8(pixels)
        if is_drawing(grey):  # a plot or a scheme shows no archive image: the first search, none of the fallbacks
            return self._group(self._search(grey, False, not_after_year, fallbacks=False), grey)
        fits = self._search(grey, False, not_after_year)
        if not self._verified(fits):  # inverted contrast: the same search on the panel's negative
            fits += self._search(grey, True, not_after_year)
        if not self._verified(fits):  # a whole field with too few corners: candidates by thumbnail
            fits = self._whole_fields(grey, fits, not_after_year)
        return self._group(fits, grey)

    def _whole_fields(self, grey: np.ndarray, fits: list[Fit], not_after_year: int | None) -> list[Fit]:
        """`fits` with the images whose whole field the panel shows: the `THUMBNAIL_CANDIDATES` of a near
        aspect whose thumbnails correlate best with the panel's (either polarity, either orientation), each
        aligned onto the whole panel and standing only as a weak fit stands (`_confirm`), and only when the
        alignment stays a similarity (`thumbnails.is_similarity`). Such an image's weak keypoint fits give way."""
        if self.index.thumbnail_search is None:  # an index written before thumbnails: `figures index` adds them
            return fits
        height, width = grey.shape
        allowed = np.abs(np.log(width / height / self.index.aspects)) <= np.log(THUMBNAIL_ASPECT)
        if not_after_year is not None:
            allowed &= self._years <= not_after_year
        found = []
        for position, mirrored, inverted, _ in thumbnails.best(
                self.index.thumbnail_search, thumbnails.queries(grey), allowed, THUMBNAIL_CANDIDATES):
            image = self.index.images[position]
            fit = Fit(position, 0, 0, thumbnails.whole_field(width, height, image["width_px"], image["height_px"]),
                      mirrored, inverted, (0.0, 0.0, width - 1.0, height - 1.0))
            if self._stands_aligned(fit, grey) and thumbnails.is_similarity(fit.transform):
                found.append(fit)
        shown = {fit.position for fit in found}
        return [fit for fit in fits if fit.position not in shown] + found

    def _search(self, grey: np.ndarray, inverted: bool, not_after_year: int | None, *,
                fallbacks: bool = True) -> list[Fit]:
        """The fits of the panel in one polarity: the voted candidates on their indexed keypoints,
        then, while nothing verified, on dense ones (`DENSE_FEATURES`), the images acquired around a
        doubtful fit (`FULL_COVERAGE`) or a weak one (`WEAK_SEEDS`), the weak ones at their scale, and
        the voted images further down the ranking (`DEEP_CANDIDATES`); last, the weak fits whose pixels
        explain the panel (`CONFIRM_CORRELATION`). Without `fallbacks`, the first step only."""
        height, width = grey.shape
        variants = self._variants(grey, inverted=inverted)
        voted, fits = self._indexed(variants, not_after_year, width, height)
        if not fallbacks:
            return fits
        if not self._verified(fits):
            fits += self._fits(variants, _both_ways(voted, len(variants)), width, height, upsample=1)
        ranked = voted
        if not self._verified(fits):
            if max(width, height) < MIN_SIDE and not inverted:  # longer: the same vote; negative: see NATIVE_SIDE
                native = self._vote(self._variants(grey, inverted=inverted, min_side=NATIVE_SIDE), not_after_year)
                ranked = _agreed_first(voted, native)
            fits += self._fits(variants, _both_ways(ranked, len(variants)), width, height, upsample=2)
        fits += self._around(variants, [fit for fit in fits if fit.inliers >= self.min_inliers
                                        and (fit.coverage < FULL_COVERAGE or fit.score < DOUBTFUL_SCORE)],
                             width, height, not_after_year)
        if not self._verified(fits):  # a series member verified weakly: the source is acquired around it
            near = _each_variant((position for seed in self._weak_seeds(fits)
                                  for position in self._neighbours(seed.position, not_after_year)[:2]),
                                 len(variants))
            fits += self._fits(variants, near, width, height, upsample=2)
        if not self._verified(fits):
            fits += self._at_fit_scale(grey, inverted, self._weak_seeds(fits), width, height)
        if not self._verified(fits):  # the source outvoted: deeper into the ranking, until one verifies
            deep = self._deeper(variants, ranked, width, height)
            fits += deep + self._around(variants, [fit for fit in deep if fit.inliers >= self.min_inliers],
                                        width, height, not_after_year)
        if not self._verified(fits):  # few corners: a weak fit whose pixels explain the panel stands
            for seed in self._weak_seeds(fits):
                self._confirm(seed, grey)
        return fits + self._aligned_around(fits, grey, not_after_year)

    def _aligned_around(self, fits: Sequence[Fit], grey: np.ndarray, not_after_year: int | None) -> list[Fit]:
        """The images acquired around a fit the panel stands on with little keypoint evidence (under
        `DOUBTFUL_SCORE`), aligned by that fit and standing when their pixels explain the panel (`_confirm`):
        on a smooth field a repeat may fit with 12 inliers where its source fits with none (2 of 30 pore
        fields shrunk to 100-130 px); side by side, the group's fidelity chooses between them (`_group`)."""
        shown = {fit.position for fit in fits if self._stands(fit)}
        found = []
        for fit in [fit for fit in fits if self._stands(fit) and fit.score < DOUBTFUL_SCORE]:
            for position in self._neighbours(fit.position, not_after_year):
                if position in shown:
                    continue
                other = replace(fit, position=position, inliers=0, matches=0, confirmed=False)
                if self._stands_aligned(other, grey):
                    shown.add(position)
                    found.append(other)
        return found

    def _stands_aligned(self, fit: Fit, grey: np.ndarray) -> bool:
        """Whether a fit without keypoint evidence of its own (a whole field, a neighbour aligned by another's
        fit) stands on its pixels (`_confirm`); it then covers what its refined fit covers."""
        self._confirm(fit, grey)
        if fit.confirmed:
            image = self.index.images[fit.position]
            fit.coverage = _coverage(fit, grey.shape[1], grey.shape[0], image.get("width_px"), image.get("height_px"))
        return fit.confirmed

    def _around(self, variants: list[_Variant], doubtful: Sequence[Fit], width: int, height: int,
                not_after_year: int | None) -> list[Fit]:
        """Fits of the images acquired around doubtful fits (`FULL_COVERAGE`), checked densely: another
        magnification of the field, or a repeat, is as likely the source. A neighbour may take a
        doubtful fit's place, not add a match on another region of the panel, unless it is the next
        tile of a stitched montage (`_next_tile`): then it stands even when it fits weakly."""
        if not doubtful:
            return []
        mirrored: dict[int, int] = {}  # each neighbour with the variant its field's doubtful fit is on
        for fit in doubtful:
            for position in self._neighbours(fit.position, not_after_year):
                mirrored.setdefault(position, int(fit.mirrored))
        near = list(mirrored.items())[:DENSE_CANDIDATES]
        kept = []
        for upsample in DENSE_FEATURES:  # both: a dozen inliers at the file's size lose to the partial fit
            for fit in self._fits(variants, near, width, height, upsample=upsample):
                if any(_overlap(fit.region, other.region) >= SAME_REGION for other in doubtful):
                    kept.append(fit)
                elif any(self._next_tile(fit, other, width) for other in doubtful):
                    fit.confirmed = True
                    kept.append(fit)
        return kept

    def _next_tile(self, fit: Fit, partial: Fit, width: int) -> bool:
        """Whether a neighbour's fit is the next tile of a montage that `partial` (a verified fit
        covering part of the panel) is a tile of: tiles acquired in one run are stitched at one scale
        and orientation, so the fit has `partial`'s scale, rotation, mirroring and polarity (within
        `TILE_SCALE` and `TILE_ROTATION_DEG`), and lies where `partial`'s image does not reach. A
        weak fit of an unrelated image agrees on all of that about once in 10,000 (its scale spreads
        over 0.05-20, its rotation over the circle); a repeat or a series member of `partial`'s field
        fits where `partial` does (on seed 11, a 102 px montage of two tiles at 0.13x: the second
        tile fits with 10 inliers, 0.8 % off in scale, on the part the first does not cover)."""
        if (fit.mirrored, fit.inverted) != (partial.mirrored, partial.inverted):
            return False
        turn = np.arctan2(fit.transform[1, 0], fit.transform[0, 0]) - np.arctan2(partial.transform[1, 0],
                                                                               partial.transform[0, 0])
        if abs(np.log(fit.scale / partial.scale)) > np.log(TILE_SCALE) or \
                abs(np.degrees(np.angle(np.exp(1j * turn)))) > TILE_ROTATION_DEG:
            return False
        x0, y0, x1, y1 = fit.region  # on the panel as printed; the transforms map onto the mirrored one when mirrored
        centre = np.array([(width - 1) - (x0 + x1) / 2 if partial.mirrored else (x0 + x1) / 2, (y0 + y1) / 2])
        linear, offset = partial.transform[:, :2], partial.transform[:, 2]
        x, y = np.linalg.solve(linear, centre - offset)
        image = self.index.images[partial.position]
        return not (0 <= x <= (image.get("width_px") or np.inf) and 0 <= y <= (image.get("height_px") or np.inf))

    def _deeper(self, variants: list[_Variant], ranked: Sequence[tuple[int, int]], width: int,
                height: int) -> list[Fit]:
        """The voted images after the first `DENSE_CANDIDATES`, up to `deep_candidates` (`DEEP_CANDIDATES`),
        verified one by one on dense keypoints at the file's size, until one verifies; one that fits
        weakly with the panel enlarged as ORB sees it (`_seen_enlarged`), at twice the file's size too
        (a 31 % crop shown at 1.32x and inverted, voted 10th: 10 inliers at the file's size, 164 at twice).
        Nothing on the panel's negative (see `DEEP_CANDIDATES`): that inverted crop, on the corpus of
        tests/figures/test_table1_from_matches.py, is found without it now (every pair of that corpus still is)."""
        if variants[0].inverted:
            return []
        images = list(dict.fromkeys(position for position, _ in ranked))[DENSE_CANDIDATES:self.deep_candidates]
        fits: list[Fit] = []
        for position in images:
            pairs = _each_variant([position], len(variants))
            found = self._fits(variants, pairs, width, height, upsample=1)
            if not self._verified(found) and any(self._seen_enlarged(fit, variants) for fit in found):
                found += self._fits(variants, pairs, width, height, upsample=2)  # shown enlarged: see DENSE_FEATURES
            fits += found
            if self._verified(fits):
                break
        return fits

    def _seen_enlarged(self, fit: Fit, variants: list[_Variant]) -> bool:
        """Whether ORB sees the archive's detail enlarged in the panel: the fit's scale between the
        prepared images, the panel's brought up to `MIN_SIDE` (a 21 % crop printed 161 px wide at
        0.97x is prepared at 3.2x: 9 inliers at the file's size, 68 at twice)."""
        archive = self._dense_features(fit.position, 1)
        return archive is not None and fit.scale * variants[0].features.factor / archive.factor > 1

    def _weak_seeds(self, fits: Sequence[Fit]) -> list[Fit]:
        """The best fits of the `WEAK_SEEDS` images that verified weakly (`WEAK_INLIERS` or more)."""
        best: dict[int, Fit] = {}
        for fit in sorted(fits, key=lambda fit: -fit.score):
            if fit.inliers >= WEAK_INLIERS:
                best.setdefault(fit.position, fit)
        return list(best.values())[:WEAK_SEEDS]

    def _at_fit_scale(self, grey: np.ndarray, inverted: bool, seeds: Sequence[Fit], width: int,
                      height: int) -> list[Fit]:
        """The weakly verified images verified again with both sides at the scale their weak fit
        found: the archive file resampled to it (many keypoints), the panel at its own size (at least
        `NATIVE_SIDE`). A panel shrunk or enlarged from a smooth field keeps only coarse structure,
        which the two ORB pyramids then see at the same levels (see `WEAK_SEEDS`)."""
        fits: list[Fit] = []
        enlarge = max(1.0, NATIVE_SIDE / max(width, height))
        variants = self._variants(grey, inverted=inverted, min_side=round(enlarge * max(width, height)),
                                  max_side=DENSE_SIDE)
        for seed in seeds:
            pixels = self._pixels(seed.position)
            if pixels is None:
                continue
            side = min(DENSE_SIDE, max(NATIVE_SIDE // 2, round(enlarge * seed.scale * max(pixels.shape))))
            archive = extract(pixels, DENSE_FEATURES[1], min_side=side, max_side=side)
            fits += [fit for fit in (self._verify(variant, seed.position, width, height, archive)
                                     for variant in variants) if fit is not None]
        return fits

    def _verified(self, fits: Sequence[Fit]) -> bool:
        return any(self._stands(fit) for fit in fits)

    def _stands(self, fit: Fit) -> bool:
        """A fit the tool stands behind: enough inliers, or confirmed by its pixels (`CONFIRM_CORRELATION`)."""
        return fit.inliers >= self.min_inliers or fit.confirmed

    # ------------------------------------------------------------------ query
    @staticmethod
    def _variants(grey: np.ndarray, *, inverted: bool, min_side: int = MIN_SIDE,
                  max_side: int = MAX_SIDE) -> list[_Variant]:
        """The panel's features and those of its mirror image (x on the mirrored panel), each with the
        features it votes with: keypoints up to `QUERY_EDGE` of its borders, where a small crop's source
        may lie. The fits stay on keypoints out of ORB's own band: with the band's keypoints, series members
        and weak fits verified on a dozen and more inliers (tests/figures/test_match_candidates.py), and
        the vote alone brings the missed sources in (the corpora of seeds 3, 11 and 23)."""
        if inverted:
            grey = 255 - grey
        sides = {"min_side": min_side, "max_side": max(min_side, max_side)}
        both = (grey, np.ascontiguousarray(grey[:, ::-1]))
        return [_Variant(None, mirrored, inverted, pixels=pixels, sides=sides)
                for pixels, mirrored in zip(both, (False, True))]

    def _fits(self, variants: list[_Variant], voted: list[tuple[int, int]], width: int, height: int, *,
              upsample: int | None = None) -> list[Fit]:
        """Verified fits of the (image, variant) pairs: on the indexed keypoints, or on dense ones
        extracted at `upsample` times the file's size. A pair verified before is not verified again
        (`_Variant.fitted`); each call gets fits of its own, as the later steps change them."""
        fits = []
        for position, which in voted:
            variant = variants[which]
            if (position, upsample) not in variant.fitted:
                archive = self._dense_features(position, upsample) if upsample else None
                if upsample and archive is None:
                    continue
                variant.fitted[position, upsample] = self._verify(variant, position, width, height, archive)
            fit = variant.fitted[position, upsample]
            if fit is not None:
                fits.append(replace(fit))
        return fits

    def _dense_features(self, position: int, upsample: int) -> Features | None:
        """Many keypoints of an archive image, read from its file (None when it cannot be read now)."""
        key = (position, upsample)
        if not _used(self._dense, key):
            pixels = self._pixels(position)
            side = min(DENSE_SIDE, upsample * max(pixels.shape)) if pixels is not None else 0
            self._dense[key] = None if pixels is None else extract(
                pixels, DENSE_FEATURES[upsample], min_side=side, max_side=max(side, MAX_SIDE))
            _trim(self._dense, _CACHED_FEATURES)
        return self._dense[key]

    def _neighbours(self, position: int, not_after_year: int | None) -> list[int]:
        """The images acquired just before and after one (`NEIGHBOURS_AROUND` each way in its folder,
        by name): where the other magnifications of a series, and the repeats, of a field are. Those
        acquired after `not_after_year` are left out, as the vote leaves them out."""
        folder = self._folders[os.path.dirname(self.index.images[position]["path"])]
        at = folder.index(position)
        before, after = folder[max(0, at - NEIGHBOURS_AROUND):at][::-1], folder[at + 1:at + 1 + NEIGHBOURS_AROUND]
        nearest_first = _in_turn(before, after)
        if not_after_year is None:
            return nearest_first
        return [other for other in nearest_first if self._years[other] <= not_after_year]

    def _pixels(self, position: int) -> np.ndarray | None:
        """An archive image's area as grey 8-bit, read from its file (None when it cannot be read now)."""
        if not _used(self._archive, position):
            image = self.index.images[position]
            try:  # the scan's per-file budget: an archive file that blocks is skipped, not waited on
                with Budget(FILE_TIMEOUT_S) as budget, budget.file(0):
                    grey = to_grey8(read_pixels(image["path"]))
            except (ReadTimeout, Exception):  # Exception: also a decoder's own error on a file damaged since it was indexed
                grey = None
            rows = image.get("height_px")
            self._archive[position] = grey[:rows] if grey is not None and rows else grey
            _trim(self._archive, _CACHED_IMAGES)
        return self._archive[position]

    def _indexed(self, variants: list[_Variant], not_after_year: int | None, width: int,
                 height: int) -> tuple[list[tuple[int, int]], list[Fit]]:
        """The vote and the fits of its candidates on their indexed keypoints: the panel as
        printed votes and its candidates are verified; only when none stands does the mirror image vote,
        and the (image, variant) pairs of both votes are ranked and verified as one ballot (the printed
        votes kept, the pairs verified before not verified again: `_Variant.fitted`), as when both voted at
        once. Most panels are printed as acquired: on the corpora of seeds 3, 7, 11 and 23 (421 panels) 276
        stood on the printed vote of a polarity and skipped the mirror image's ORB extraction, half of the
        faiss search and its candidates' verification, with the same matches and the same images standing on
        every panel, the weakest accepted keypoint match (12-13 inliers) and the best on an unmatched panel
        (6) as before (every other panel's evidence unchanged): matcher CPU 694 -> 540 s (traced, one run
        each, loaded; there the vote is an exact search of 80 k descriptors). The long publication at 150 k:
        the same 16 of 18 pairs, its faiss search 5.8/5.3 -> 5.0/4.9 s CPU and the whole within this machine's
        noise (36.4-38.6 -> 37.8-39.1 s; quiet, interleaved, one process)."""
        printed = self._ballot(variants[:1], not_after_year)
        voted = self._ranked(printed)
        fits = self._fits(variants, voted, width, height)
        if self._verified(fits):
            return voted, fits
        voted = self._ranked(self._ballot(variants, not_after_year, kept=printed))
        return voted, self._fits(variants, voted, width, height)

    def _vote(self, variants: list[_Variant], not_after_year: int | None) -> list[tuple[int, int]]:
        """(image position, variant) pairs with the most query descriptors near their descriptors."""
        return self._ranked(self._ballot(variants, not_after_year))

    def _ranked(self, counts: np.ndarray) -> list[tuple[int, int]]:
        """The `candidates` (image position, variant) pairs of a ballot (`_ballot`) with the most votes, 2 at least."""
        keys = np.flatnonzero(counts >= 2)  # sorted: the order of a stable sort of all the keys among equal counts
        best = keys[np.argsort(-counts[keys], kind="stable")[: self.candidates]]
        return [(int(key % len(self.index)), int(key // len(self.index))) for key in best]

    def _ballot(self, variants: list[_Variant], not_after_year: int | None, *,
                kept: np.ndarray | None = None) -> np.ndarray:
        """The votes of each (variant, image position) pair, at `variant * len(index) + position`: the
        evidence a panel has before any fit (bench/match_steps.py reads it). `kept`: the ballot of the
        first variants, counted before (each query descriptor's neighbours are its own, searched alone
        or with others'); only the rest are searched."""
        counts = np.zeros(len(variants) * len(self.index), np.int64)
        done = 0
        if kept is not None:
            done, counts[:len(kept)] = len(kept) // len(self.index), kept
        parts = [v.voting.descriptors for v in variants[done:]]
        if not sum(len(p) for p in parts):
            return counts
        variant_of = np.repeat(np.arange(done, len(variants)), [len(p) for p in parts])
        distances, owners = self.index.search(np.concatenate(parts), NEIGHBOURS)  # owners: image positions
        if not_after_year is not None:  # images acquired after the article are not neighbours at all
            late = (owners >= 0) & (self._years[np.maximum(owners, 0)] > not_after_year)
            owners = np.where(late, -1, owners)
            distances = np.where(late, 256, distances)
            order = np.argsort(distances, axis=1, kind="stable")
            owners, distances = np.take_along_axis(owners, order, 1), np.take_along_axis(distances, order, 1)
        first = owners[:, 0]
        other = np.where((owners != first[:, None]) & (owners >= 0), distances, 256).min(axis=1)
        near = MAX_HAMMING * self.index.code_bits // 256  # the inverted file compares shorter codes
        voting = (first >= 0) & (distances[:, 0] <= near) & (distances[:, 0] < VOTE_RATIO * other)
        keys = variant_of[voting] * len(self.index) + first[voting]
        return counts + np.bincount(keys, minlength=len(counts))

    # ------------------------------------------------------------------ verification
    def _verify(self, variant: _Variant, position: int, width: int, height: int,
                archive: Features | None = None) -> Fit | None:
        """The similarity fit of an archive image (its indexed keypoints, or `archive`) onto the
        panel, or None when it does not hold."""
        if archive is None:
            archive_points, archive_descriptors = self.index.features_of(position)
        else:
            archive_points, archive_descriptors = archive.points, archive.descriptors
        query = variant.features
        if len(archive_descriptors) < 2 or len(query) < 2:
            return None
        pairs = _one_to_one(query.descriptors, archive_descriptors)
        if len(pairs) < WEAK_INLIERS:
            return None
        source = np.asarray(archive_points, np.float32)[pairs[:, 1]]
        target = query.points[pairs[:, 0]]
        threshold = _REPROJECTION_PX / query.factor
        fits = []
        remaining = np.ones(len(source), bool)
        for _ in range(2):  # the second fit, on what the first left, finds a whole panel behind an inset
            if remaining.sum() < WEAK_INLIERS:
                break
            transform, mask = cv2.estimateAffinePartial2D(source[remaining], target[remaining], method=cv2.RANSAC,
                                                          ransacReprojThreshold=threshold, maxIters=2000,
                                                          confidence=0.995)
            if transform is None:
                break
            inlier = np.zeros(len(source), bool)
            inlier[np.flatnonzero(remaining)[mask.ravel().astype(bool)]] = True
            fit = self._checked(variant, position, transform, target[inlier], len(pairs), width, height)
            if fit is not None:
                fits.append(fit)
            remaining &= ~inlier
        strong = [fit for fit in fits if fit.inliers >= self.min_inliers] or fits
        return max(strong, key=lambda fit: (_area(fit.region), fit.inliers), default=None)

    def _checked(self, variant: _Variant, position: int, transform: np.ndarray, inliers: np.ndarray, matches: int,
                 width: int, height: int) -> Fit | None:
        """The fit when it is plausible: enough inliers, a sane scale, inliers spread over the panel."""
        if len(inliers) < WEAK_INLIERS:
            return None
        image_width, image_height = self.index.images[position].get("width_px"), self.index.images[position].get("height_px")
        scale = float(np.hypot(transform[0, 0], transform[1, 0]))
        if not SCALE_RANGE[0] <= scale <= SCALE_RANGE[1]:
            return None
        x0, y0 = inliers.min(axis=0)
        x1, y1 = inliers.max(axis=0)
        if x1 - x0 < MIN_SPREAD * width or y1 - y0 < MIN_SPREAD * height:
            return None
        if variant.mirrored:  # inliers are on the mirrored panel: their region on the panel as printed
            x0, x1 = (width - 1) - x1, (width - 1) - x0
        fit = Fit(position, len(inliers), matches, transform, variant.mirrored, variant.inverted,
                  (float(x0), float(y0), float(x1), float(y1)))
        fit.coverage = _coverage(fit, width, height, image_width, image_height)
        return fit

    # ------------------------------------------------------------------ grouping
    def _group(self, fits: Sequence[Fit], grey: np.ndarray) -> PanelResult:
        """Best fit of each image; per panel region one match, the other images its related ones."""
        height, width = grey.shape
        best: dict[int, Fit] = {}
        for fit in fits:  # a fit that stands before a higher-scoring one that does not
            if fit.position not in best or (self._stands(fit), fit.score) > (self._stands(best[fit.position]),
                                                                            best[fit.position].score):
                best[fit.position] = fit
        groups: list[list[Fit]] = []
        weaker: list[PanelMatch] = []
        for fit in sorted(best.values(), key=lambda fit: -fit.score):
            if not self._stands(fit):
                weaker.append(self._panel_match(fit, width, height))
                continue
            group = next((g for g in groups if _overlap(g[0].region, fit.region) >= SAME_REGION), None)
            if group is None:
                groups.append([fit])
            else:
                group.append(fit)
        matches = []
        for group in groups:
            if len(group) > 1:  # the surest fit, unless another one's pixels clearly explain the panel better
                clearly = self._explains_best(group, grey)
                group.remove(clearly)
                group.insert(0, clearly)
            match = self._panel_match(group[0], width, height)
            match.related = [self.index.images[fit.position]["id"] for fit in group[1:]]
            match.related_paths = [self.index.images[fit.position]["path"] for fit in group[1:]]
            matches.append(match)
        return PanelResult(matches, weaker)

    def _explains_best(self, group: Sequence[Fit], grey: np.ndarray) -> Fit:
        """Of fits on one region of the panel (the surest first), the one whose image explains the panel:
        the surest, unless another's fidelity (`_fidelity`) beats it by `FIDELITY_MARGIN`. Where none
        does, the fine detail cannot tell them apart (a field shrunk far: the noise that tells a source
        from its repeat is averaged away), and the one of those tied whose smoothed pixels correlate best
        with the panel's (`_structure_of`) is it when it beats the surest by `STRUCTURE_MARGIN`: what
        the earlier shots' contamination and charging left on a repeat is smooth, and survives shrinking.
        Only a fit whose fine detail explains the panel at least as well as the surest's is tied: the
        structure alone is less sure than its margin (see `STRUCTURE_MARGIN`)."""
        aligned = {id(fit): self._aligned(fit, grey) for fit in group}
        fidelity = {id(fit): _fidelity(aligned[id(fit)]) * fit.coverage for fit in group}
        surest = group[0]
        clearly = max(group, key=lambda fit: fidelity[id(fit)])
        if fidelity[id(clearly)] >= fidelity[id(surest)] + FIDELITY_MARGIN:
            return clearly
        tied = [fit for fit in group if fidelity[id(fit)] >= fidelity[id(surest)]]
        structure = {id(fit): _structure_of(aligned[id(fit)]) * fit.coverage for fit in tied}
        coarse = max(tied, key=lambda fit: structure[id(fit)])
        return coarse if structure[id(coarse)] >= structure[id(surest)] + STRUCTURE_MARGIN else surest

    def _confirm(self, fit: Fit, grey: np.ndarray) -> None:
        """A weak fit confirmed when its pixels explain the panel (`_structure_of`: both smoothed,
        correlated over the part of the panel the image covers), with the refined
        transform they were aligned by: a fit from 6-11 inliers is off by pixels, and so would be its
        crop box, scale and field of view (a pore field at 0.8185x, 9 inliers: scale 0.8116 and a y
        offset of -26.9 px, refined 0.8194 and -31.7, true -31.4)."""
        aligned = self._aligned(fit, grey)
        if _structure_of(aligned) >= CONFIRM_CORRELATION:
            fit.confirmed, fit.transform = True, aligned[3]

    def _aligned(self, fit: Fit, grey: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
        """The panel as the fit saw it (mirrored, inverted), the archive image warped onto it by the
        refined fit (`_refined`), where that holds archive pixels, and the refined fit; None when it
        cannot be read. A panel longer than `MAX_SIDE` is compared brought down to it (the alignment
        costs in proportion to the panel's area: a 3,000 px panel 5.6 s of CPU at full size, 0.2 s
        brought down, the same crop box to 0.2 px); the refined fit is given in the panel's own pixels."""
        archive = self._pixels(fit.position)
        if archive is None:
            return None
        target = np.ascontiguousarray(grey[:, ::-1]) if fit.mirrored else grey
        if fit.inverted:
            target = 255 - target
        shrink = min(1.0, MAX_SIDE / max(grey.shape))
        if shrink < 1:
            size = (max(1, round(grey.shape[1] * shrink)), max(1, round(grey.shape[0] * shrink)))
            target = cv2.resize(target, size, interpolation=cv2.INTER_AREA)
        height, width = target.shape
        source = archive.astype(np.float32)
        if fit.scale * shrink < 1:  # averaged down as the author's software did, before the warp
            source = cv2.GaussianBlur(source, (0, 0), 0.5 / (fit.scale * shrink))
        target = target.astype(np.float32)
        transform = _refined(_rescaled(fit.transform, shrink), source, target)
        warped = cv2.warpAffine(source, transform, (width, height), flags=cv2.INTER_LINEAR)
        inside = cv2.warpAffine(np.ones(archive.shape, np.uint8), transform, (width, height),
                                flags=cv2.INTER_NEAREST)
        inside = cv2.erode(inside, np.ones((5, 5), np.uint8)).astype(bool)
        if inside.sum() < 64:
            return None
        return target, warped, inside, _rescaled(transform, 1 / shrink)

    def _panel_match(self, fit: Fit, width: int, height: int) -> PanelMatch:
        image = self.index.images[fit.position]
        pixel_size = image.get("pixel_size_m")
        return PanelMatch(
            image_id=image["id"], path=image["path"], score=round(fit.score, 2), inliers=fit.inliers,
            crop_box_px=fit.crop_box(width, height, image.get("width_px"), image.get("height_px")),
            scale=fit.scale, mirrored=fit.mirrored, inverted=fit.inverted,
            panel_fov_m=pixel_size * width / fit.scale if pixel_size else None,
        )


def _by_folder(index: VisualIndex) -> dict[str, list[int]]:
    """Folder -> positions of its images, by name: where the images acquired around one are."""
    folders: dict[str, list[int]] = {}
    for position in sorted(range(len(index)), key=lambda p: index.images[p]["path"]):
        folders.setdefault(os.path.dirname(index.images[position]["path"]), []).append(position)
    return folders


def _both_ways(voted: Sequence[tuple[int, int]], variants: int) -> list[tuple[int, int]]:
    """The first `DENSE_CANDIDATES` images voted for, each with every variant of the panel."""
    return _each_variant(list(dict.fromkeys(position for position, _ in voted))[:DENSE_CANDIDATES], variants)


def _agreed_first(voted: Sequence[tuple[int, int]], native: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """The two votes of a small panel (prepared at `MIN_SIDE` and at its own size) taken in turn, the images
    both name before those only one names. Where a small crop has few of its source's indexed descriptors,
    most candidates gather the 2 votes the ranking needs, and the order among them is the index's: the
    other preparation voting for an image too is the evidence that breaks the tie (seed 23 Rossi 1c, a 27 %
    crop at 1.28x, JPEG 50: the first vote gave 5 images 2 votes each, its source 4th; taken in turn with the
    second vote's first it came 5th, outside `DENSE_CANDIDATES`, never checked densely; named by both votes
    it is checked, 92 inliers). A reorder: no image more is checked. What it moves out of the first
    `DENSE_CANDIDATES` is an image one vote names alone, that vote's first too (seed 23: one with 5 votes
    behind agreed ones with 2-4); the deeper check (`_deeper`) takes it next. Of the 114 small panels of seeds
    3, 7, 11 and 23 that reach this step, 13 check other images than taken in turn: a source moved in on 2,
    out on 1 (seed 3, found all the same); ordering by each image's vote count first lost a source on seed 7."""
    both = {position for position, _ in voted} & {position for position, _ in native}
    return sorted(_in_turn(voted, native), key=lambda pair: pair[0] not in both)  # stable: the turns kept within each


_Item = TypeVar("_Item")


def _in_turn(first: Sequence[_Item], second: Sequence[_Item]) -> list[_Item]:
    """The items of two lists taken in turn, the first's first; the longer one's rest at the end."""
    return [item for pair in zip_longest(first, second) for item in pair if item is not None]


def _each_variant(positions: Iterable[int], variants: int) -> list[tuple[int, int]]:
    """Every (image position, variant) pair of the images in `positions`, each image once, in order."""
    return [(position, which) for position in dict.fromkeys(positions) for which in range(variants)]


def _one_to_one(query: np.ndarray, archive: np.ndarray) -> np.ndarray:
    """(query, archive) keypoint pairs: each query descriptor's nearest archive descriptor when it
    passes the ratio test against the second nearest, each archive descriptor used once (its nearest)."""
    exact = faiss.IndexBinaryFlat(archive.shape[1] * 8)
    exact.add(np.ascontiguousarray(archive))
    distances, labels = exact.search(np.ascontiguousarray(query), 2)
    keep = (labels[:, 1] >= 0) & (distances[:, 0] < RATIO * distances[:, 1])
    rows = np.flatnonzero(keep)
    rows = rows[np.argsort(distances[rows, 0], kind="stable")]
    _, first = np.unique(labels[rows, 0], return_index=True)
    rows = rows[first]
    return np.stack([rows, labels[rows, 0]], axis=1)


def _refined(transform: np.ndarray, source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The fit brought to sub-pixel agreement with the panel by intensity alignment (ECC): a fit
    from a dozen inliers is off by a pixel, which blurs the fine detail that tells a source from its
    repeat. The fit as it was when the alignment does not converge."""
    height, width = target.shape
    warped = cv2.warpAffine(source, transform, (width, height), flags=cv2.INTER_LINEAR)
    try:
        _, correction = cv2.findTransformECC(target, warped, np.eye(2, 3, dtype=np.float32), cv2.MOTION_AFFINE,
                                             (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 50, 1e-5), None, 3)
    except cv2.error:
        return transform
    # correction maps panel px -> warped px; the refined fit is its inverse after the fit
    inverse = np.vstack([cv2.invertAffineTransform(correction), [0, 0, 1]])
    return (inverse @ np.vstack([transform, [0, 0, 1]]))[:2]


def _rescaled(transform: np.ndarray, factor: float) -> np.ndarray:
    """A fit onto the panel made a fit onto the panel resized by `factor` (pixel centres kept)."""
    if factor == 1:
        return transform
    return np.hstack([transform[:, :2] * factor, (transform[:, 2:] + 0.5) * factor - 0.5])


def _structure_of(aligned: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None) -> float:
    """The correlation of the panel and the warped image (`Matcher._aligned`), both smoothed, where
    the image covers the panel; 0 when it covers under `CONFIRM_COVERAGE`."""
    if aligned is None or aligned[2].mean() < CONFIRM_COVERAGE:
        return 0.0
    target, warped, inside, _ = aligned
    return _correlation(*(cv2.GaussianBlur(image, (0, 0), _CONFIRM_SIGMA)[inside] for image in (target, warped)))


def _fidelity(aligned: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None) -> float:
    """How well the archive image, warped by its fit (`Matcher._aligned`), explains the panel's fine
    detail: the correlation of both high-passed. Repeats seconds apart share the structure but not the
    noise, so the source, whose noise the panel carries, scores highest; 0 when it cannot be read."""
    if aligned is None:
        return 0.0
    target, warped, inside, _ = aligned
    return _correlation(_high_pass(target)[inside], _high_pass(warped)[inside])


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation of two equally long arrays (0 when either is flat)."""
    a, b = a - a.mean(), b - b.mean()
    norm = float(np.sqrt((a * a).sum() * (b * b).sum()))
    return float((a * b).sum()) / norm if norm > 0 else 0.0


def _high_pass(image: np.ndarray) -> np.ndarray:
    return image - cv2.GaussianBlur(image, (0, 0), 2.0)


def _used(cache: dict[Any, Any], key: Any) -> bool:
    """Whether a cache dict holds `key`; one it holds becomes its most recently used entry, the last
    `_trim` drops."""
    if key not in cache:
        return False
    cache[key] = cache.pop(key)
    return True


def _trim(cache: dict[Any, Any], limit: int) -> None:
    """Drop the least recently used entries of a cache dict (`_used`) beyond `limit`."""
    while len(cache) > limit:
        cache.pop(next(iter(cache)))


def _area(box: tuple[float, float, float, float]) -> float:
    return max(0.0, box[2] - box[0]) * max(0.0, box[3] - box[1])


def _coverage(fit: Fit, width: int, height: int, image_width: int | None, image_height: int | None) -> float:
    """The fraction of the panel, mapped into the archive image by the fit, that lies inside it."""
    whole = _area(fit.crop_box(width, height, None, None))
    return _area(fit.crop_box(width, height, image_width, image_height)) / whole if whole else 0.0


def _overlap(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    """Intersection over the smaller area: 1 when one region lies inside the other."""
    inter = _area((max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])))
    smaller = min(_area(a), _area(b))
    return inter / smaller if smaller > 0 else 0.0


# ---------------------------------------------------------------------------------------- documents
@dataclass(slots=True)
class FoundPanel:
    """One (panel, archive image) match of a document, as `figures match` lists it."""

    article: str
    document: str
    page: int
    panel_bbox: tuple[float, float, float, float]
    caption: str
    match: PanelMatch
    scale_bar_m: float | None
    weak: bool = False
    #: the printed value against bar length × the matched FOV when they disagree, or the reads that
    #: disagreed and the one the FOV confirmed (`settle_with_fov`)
    scale_bar_check: str | None = None

    def proposed(self) -> ProposedMatch:
        """The match as the catalog stores it for review (the document's path absolute: the dashboard
        re-reads the panel from wherever `serve` runs)."""
        m = self.match
        return ProposedMatch(self.article, os.path.abspath(self.document), self.page, self.panel_bbox, m.image_id,
                             m.score, m.inliers, m.crop_box_px, m.scale, self.scale_bar_m, m.panel_fov_m, m.related,
                             self.caption, self.scale_bar_check)

    def to_dict(self) -> dict[str, Any]:
        """The JSON object other tools read (keys fixed by issue 8)."""
        return {
            "article": self.article, "document": self.document, "page": self.page,
            "panel_bbox": list(self.panel_bbox), "image": self.match.path, "score": self.match.score,
            "inliers": self.match.inliers, "crop_box_px": list(self.match.crop_box_px), "scale": self.match.scale,
            "scale_bar_m": self.scale_bar_m, "panel_fov_m": self.match.panel_fov_m,
            "related": list(self.match.related_paths), "scale_bar_check": self.scale_bar_check,
        }


def document_paths(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """The documents named, folders walked for the suffixes `documents` reads (sorted, no symlinked folders)."""
    found: list[Path] = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            for folder, dirs, files in os.walk(path):
                dirs.sort()
                found += [Path(folder, name) for name in sorted(files) if Path(name).suffix.lower() in DOCUMENT_SUFFIXES]
        else:
            found.append(path)
    return found


#: How long matching one panel may take on a pool's worker before it is ended and the panel listed as
#: not matched (a library hanging on a strange image): a panel takes ~1 s of CPU on average against a
#: 150 k-image index (the long publication: 26 panels, 26.3 s), the slowest ones a few times that.
PANEL_TIMEOUT_S = 120.0
#: The longest wait for a document's next figure from its reading process before that process is ended
#: as stuck: the reader's own bound on a document (`Limits.max_seconds`, checked between pages) and as
#: much again for the page in progress.
DOCUMENT_WAIT_S = 2 * Limits.max_seconds


def match_documents(paths: Iterable[str | os.PathLike[str]], matcher: Matcher, *,
                    year_of: Callable[[str], int | None] = lambda article: None, weaker: bool = False,
                    warn: Callable[[str], None] = lambda line: None, workers: int | None = 0,
                    panel_timeout: float = PANEL_TIMEOUT_S) -> Iterator[FoundPanel]:
    """Every panel of every document matched: the matches the tool stands behind (and, with
    `weaker`, the weaker candidates). A document that gives no figures is one line to `warn`, and
    so is a printed scale bar that disagrees with its length × the matched image's field of view.

    `workers` processes match the panels (None: all cores; 0: in this process), while one process of
    its own reads the documents and splits their panels (`DOCUMENT_WAIT_S`), whatever `workers`: a
    document that crashes or hangs its C reader is one line, the others are read. The workers are forked with
    the matcher loaded, so the index (memory-mapped files and the image table) is held once and
    shared, not loaded per worker; a panel that crashes its worker twice, or whose matching takes
    longer than `panel_timeout` seconds, is one line, the others are matched. Panels, and the lines
    said, come out in the order of the documents whatever the workers, so the output equals a run in
    this process."""
    global _pooled  # noqa: PLW0603 - what forked workers inherit
    if not panel_timeout > 0:
        raise ConfigError(f"the time a panel may take must be more than 0 s, not {panel_timeout:g}")
    _pooled, reader = matcher, Producer(_document_steps, DOCUMENT_WAIT_S)
    # one OpenCV thread per worker (the workers fill the cores), set before they fork: set in a forked
    # child, OpenCV's thread pool, inherited from a parent that used it, deadlocks
    threads = cv2.getNumThreads()
    if workers != 0:
        cv2.setNumThreads(1)
        _warm_ocr()
        # the objects held now (the index's image table above all) kept out of the garbage collector's
        # passes: a pass in a worker writes into every object it visits, which copies their pages
        gc.freeze()
    try:
        with Pool(None, workers, FILE_TIMEOUT_S) as pool:  # stopped midway: its workers ended at once
            tasks = _panel_tasks(paths, year_of, weaker, panel_timeout, reader)
            for found, lines in _in_order(pool, tasks, _AHEAD_PER_WORKER * pool.width):
                for line in lines:
                    warn(line)
                yield from found
    finally:
        reader.close()
        cv2.setNumThreads(threads)
        if workers != 0:
            gc.unfreeze()
        _pooled = None


#: The matcher forked workers match with (set by `match_documents` before its pool starts them).
_pooled: Matcher | None = None
#: Panels handed to the pool and not yet listed, per worker: enough that no worker waits while the
#: panel in front is slow, few enough that a 500-page thesis is not held in memory at once.
_AHEAD_PER_WORKER = 4


@dataclass(frozen=True, slots=True)
class _PanelTask:
    """One panel to match and what its matches are listed with; `skipped`: why it was given up on
    (an archive read it needed blocked beyond its budget, see `scan.pool`)."""

    article: str
    document: str
    page: int
    region: tuple[float, float, float, float]
    caption: str
    pixels: np.ndarray
    year: int | None
    weaker: bool
    seconds: float  # the time its matching may take on a pool's worker
    skipped: str | None = None

    def skip(self, indices: Iterable[int] | None, reason: str) -> _PanelTask:
        return replace(self, skipped=reason)


def _warm_ocr() -> None:
    """The scale-bar OCR loaded and run once here, before the workers fork: each would otherwise load
    it on its first label (0.9 s of CPU a worker, for every pool started)."""
    try:
        ocr_line(np.full((48, 96), 255, np.uint8))
    except OcrUnavailableError:  # no OCR here: the workers go on without labels, as they would
        pass


def _panel_tasks(paths: Iterable[str | os.PathLike[str]], year_of: Callable[[str], int | None], weaker: bool,
                 seconds: float, reader: Producer) -> Iterator[_PanelTask | list[str]]:
    """The panels of every document in order, and, where they fall, the lines reading them gave
    (images skipped inside a document, a document that gives no figures, one whose `reader` process
    crashed or hung: the panels read before stand)."""
    for path in document_paths(paths):
        try:
            for step in reader.items(path):
                if isinstance(step, list):
                    yield step
                    continue
                figure, boxes = step
                article = article_id(figure.article)
                year = year_of(article)
                for box in boxes:
                    yield _PanelTask(article, str(path), figure.page, figure.region(box), figure.caption,
                                     figure.pixels[box[1]:box[3], box[0]:box[2]], year, weaker, seconds)
        except ProducerFailed as exc:
            yield [f"{path}: {exc}"]


def _document_steps(path: Path) -> Iterator[list[str] | tuple[FigureImage, list[PanelBox]]]:
    """A document's figures, each with its panels' pixel boxes, and the lines reading it gave, in order."""
    lines: list[str] = []
    try:
        for figure in iter_figures(path, warn=lines.append):
            if lines:
                yield lines
                lines = []
            yield figure, split_panels(figure.pixels)
    except FigureError as exc:
        lines.append(str(exc))
    if lines:
        yield lines


def _match_panel_task(task: _PanelTask) -> tuple[list[FoundPanel], list[str]]:
    """A panel's matches and the lines they gave (a scale bar that disagrees), by the matcher `_pooled`;
    on a pool's worker, the panel is the suspect while it is matched (`computing`): a panel
    that kills its worker twice, or hangs past its time, is one line, the others are matched."""
    if task.skipped:
        return [], [f"{task.document} page {task.page}: a panel not matched: {task.skipped}"]
    assert _pooled is not None, "match_documents sets the matcher before the pool runs a task"
    lines: list[str] = []
    with computing(seconds=task.seconds):
        return _found_in_panel(_pooled, task, lines.append), lines


def _found_in_panel(matcher: Matcher, task: _PanelTask, warn: Callable[[str], None]) -> list[FoundPanel]:
    """The panel's matches (and weaker candidates when asked), each with the printed scale bar."""
    panel = task.pixels
    result = matcher.match_panel(panel, not_after_year=task.year)
    found = [(m, False) for m in result.matches] + ([(m, True) for m in result.weaker] if task.weaker else [])
    if not found:
        return []
    # the matched fields of view end the reading once one settles a bar's readings (fewer OCR reads)
    bar = read_scale_bar(panel, [m.panel_fov_m for m, weak in found if not weak and m.panel_fov_m])
    listed = []
    for match, weak in found:
        settled, note = bar, None
        if bar and not weak and match.panel_fov_m:
            # where the label's reads disagree, the matched FOV may choose among them: the
            # note names the reads; else a value read that disagrees with the FOV is noted
            settled, note = settle_with_fov(bar, match.panel_fov_m, panel.shape[1])
            note = note or check_against_fov(settled, match.panel_fov_m, panel.shape[1])
        if note:  # a calibration or unit error, a (possibly) mislabelled bar: said, not corrected
            warn(f"{task.document} page {task.page}: {Path(match.path).name}: {note}")
        if match.panel_fov_m is None:  # an image without a pixel size: the printed bar says it
            match.panel_fov_m = fov_from_bar(settled, panel.shape[1])
        listed.append(FoundPanel(task.article, task.document, task.page, task.region, task.caption, match,
                                 settled.value_m if settled else None, weak, note))
    return listed


def _in_order(pool: Pool, steps: Iterable[_PanelTask | list[str]], ahead: int
              ) -> Iterator[tuple[list[FoundPanel], list[str]]]:
    """(matches, lines) of each step in the order given, the panels matched on `pool`, at most
    `ahead` of them handed out and not yet given back."""
    queue: deque[Ticket | list[str]] = deque()
    steps = iter(steps)
    waiting = 0  # tickets in the queue
    while True:
        while waiting < ahead and (step := next(steps, None)) is not None:
            if isinstance(step, list):
                queue.append(step)
            else:
                queue.append(pool.submit(_match_panel_task, step))
                waiting += 1
        while queue and (isinstance(queue[0], list) or queue[0].done):
            front = queue.popleft()
            if isinstance(front, list):
                yield [], front
            else:
                waiting -= 1
                yield front.value
        if not queue:
            if step is None:
                return
            continue
        pool.wait({ticket for ticket in queue if isinstance(ticket, Ticket) and not ticket.done})
