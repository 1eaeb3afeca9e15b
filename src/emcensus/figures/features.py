"""Pixels → ORB keypoints and binary descriptors, the same way for archive images and published panels.

Both sides go through one preparation, so that a panel and its source look alike to ORB: grey
8-bit (16-bit and float images stretched between their 0.5 and 99.5 percentiles), the SEM data bar
cut off (its height is what the file stores beyond the image area the metadata gives), the longer
side brought to at most 1024 px (and small panels up to 512 px: ORB's patches need room), then a
light Gaussian blur so that corners come from structure, not from detector noise or JPEG blocks.
CLAHE was tried and left out: on the test micrographs it found fewer true inliers (8 of 21 panels
instead of 12, published panels resized, gamma-changed, JPEG'd). Keypoints are spread over ORB's
pyramid levels and over a grid, so that a crop of any part of an archive image keeps some at every
scale; coordinates are in the input's pixels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from operator import attrgetter

import cv2
import numpy as np

from emcensus.figures.colour import scalar_from_colour_map

#: Longer side after preparation: big enough for detail, small enough for 20 ms per image.
MAX_SIDE = 1024
#: Small panels are upsampled to this longer side (a 100 px panel holds almost no ORB keypoints).
MIN_SIDE = 512
#: Descriptors kept per archive image: 400 × 32 bytes, 1.9 GB at 150 k images (300 found 10 of 21
#: test panels, 500 found 14).
ARCHIVE_FEATURES = 400
#: Descriptors per query variant: a panel is matched once, against everything.
QUERY_FEATURES = 1500
#: Pixels of each pyramid level's border where a published panel gets no keypoint to vote with (ORB's
#: default is its patch size, 31): enough for FAST's ring and the Harris window to lie on the panel's own
#: pixels; the descriptor's patch may reach past the edge (ORB mirrors the level there). A crop shown
#: enlarged is seen at the source's scale only on the panel's coarse levels, where a 31 px band (in that
#: level's pixels) left 21-39 % of a 336x252 panel's area: its source's keypoints fell in the band and it
#: got no vote (seeds 3, 11, 23 of the generated corpora: 103-336 px crops at 1.7-1.8x).
QUERY_EDGE = 8
#: Keypoints ORB detects per keypoint kept: the choice `_spread` makes over levels and grid cells.
#: The index, the query and the matcher's dense features of candidates alike: dense features chosen
#: among twice as many (an 800x600 file at twice its size: 139 -> 100 ms CPU) made an unrelated image
#: verify with exactly `MIN_INLIERS` on a distractor panel of seed 11 (structure correlation 0.18),
#: which four times as many keep out.
SURPLUS = 4
#: Cells per side of the grid that spreads keypoints over the image.
_GRID = 6
#: Bits of a keypoint's number in `_spread`'s sort keys: a response's 32 bits, or a level and two such
#: numbers, fit in 64 with room up to a million keypoints.
_MAX_BITS = 20
_ORB_PATCH = 31
_BLUR_SIGMA = 1.0
_FAST_THRESHOLD = 12


@dataclass(slots=True)
class Features:
    """Keypoint coordinates (n, 2) float32 in input pixels, descriptors (n, 32) uint8, and the
    factor from input pixels to the prepared image (how precise a coordinate is)."""

    points: np.ndarray
    descriptors: np.ndarray
    factor: float

    def __len__(self) -> int:
        return len(self.points)


def to_grey8(pixels: np.ndarray) -> np.ndarray:
    """Grey uint8 from grey or RGB(A) pixels of any depth (deeper ones stretched on percentiles); a
    false-colour image gives the values its colour map shows (`colour`), not its brightness."""
    array = np.asarray(pixels)
    if array.ndim == 3:
        if array.shape[2] == 1:
            array = array[:, :, 0]
        else:
            array = array[:, :, :3]
            if array.dtype != np.uint8:
                array = _stretch(array.astype(np.float32))
            scalar = scalar_from_colour_map(array)
            array = scalar if scalar is not None else cv2.cvtColor(np.ascontiguousarray(array), cv2.COLOR_RGB2GRAY)
    if array.ndim != 2:
        raise ValueError(f"pixels of shape {array.shape} are not an image")
    if array.dtype == np.uint8:
        return np.ascontiguousarray(array)
    return _stretch(array.astype(np.float32))


def _stretch(values: np.ndarray) -> np.ndarray:
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return np.zeros(values.shape, np.uint8)
    low, high = np.percentile(finite, (0.5, 99.5))
    if high <= low:
        high = low + 1
    scaled = (np.nan_to_num(values, nan=low) - low) * (255.0 / (high - low))
    return np.clip(scaled, 0, 255).astype(np.uint8)


def image_area(pixels: np.ndarray, image_rows: int | None) -> np.ndarray:
    """The pixels without the data bar an SEM burns in below the image area: `image_rows` is the
    area's height from the metadata; a file holding more rows than that holds a bar."""
    if image_rows and 0 < image_rows < pixels.shape[0]:
        return pixels[:image_rows]
    return pixels


def prepare(pixels: np.ndarray, *, image_rows: int | None = None, min_side: int = MIN_SIDE,
            max_side: int = MAX_SIDE) -> tuple[np.ndarray, float]:
    """The image ORB sees, and the factor from input pixels to it; `image_rows` (the image area's
    height from the metadata) cuts off a data bar stored below it; the longer side is brought
    between `min_side` and `max_side`."""
    grey = image_area(to_grey8(pixels), image_rows)
    longer = max(grey.shape)
    if longer == 0:
        raise ValueError("an empty image")
    factor = 1.0
    if longer > max_side:
        factor = max_side / longer
    elif longer < min_side:
        factor = min_side / longer
    if factor != 1.0:
        size = (max(1, round(grey.shape[1] * factor)), max(1, round(grey.shape[0] * factor)))
        grey = cv2.resize(grey, size, interpolation=cv2.INTER_AREA if factor < 1 else cv2.INTER_CUBIC)
    return cv2.GaussianBlur(grey, (0, 0), _BLUR_SIGMA), factor


def detector(n_features: int, edge: int = _ORB_PATCH) -> cv2.ORB:
    """The ORB that `extract` detects and describes with: `SURPLUS` times `n_features` keypoints for
    `_spread` to choose from, none within `edge` px of a pyramid level's border (the benches and tests that
    time or check its steps make it here, so they run what `extract` runs)."""
    return cv2.ORB_create(nfeatures=n_features * SURPLUS, scaleFactor=1.2, nlevels=8, edgeThreshold=edge,
                          patchSize=_ORB_PATCH, fastThreshold=_FAST_THRESHOLD)


def extract(pixels: np.ndarray, n_features: int, *, image_rows: int | None = None, min_side: int = MIN_SIDE,
            max_side: int = MAX_SIDE, edge: int = _ORB_PATCH) -> Features:
    """ORB keypoints spread over the image, at most `n_features` chosen among `SURPLUS` times as many
    detected, none within `edge` px of a pyramid level's border (`QUERY_EDGE`), in input pixel coordinates."""
    image, factor = prepare(pixels, image_rows=image_rows, min_side=min_side, max_side=max_side)
    orb = detector(n_features, edge)
    keypoints = _spread(orb.detect(image, None), n_features, image.shape)
    keypoints, descriptors = orb.compute(image, keypoints)
    if descriptors is None or not keypoints:
        return Features(np.zeros((0, 2), np.float32), np.zeros((0, 32), np.uint8), factor)
    return Features(cv2.KeyPoint_convert(keypoints) / factor, descriptors, factor)


def _spread(keypoints: Sequence[cv2.KeyPoint], n: int, shape: tuple[int, ...]) -> list[cv2.KeyPoint]:
    """The `n` keypoints, each pyramid level keeping its share (the same fraction of every level's
    keypoints), taken in turns from a grid's cells, strongest first in each cell; listed so that any
    first part of the list keeps those shares. Chosen by response alone, the coarse levels win (their
    corners respond more strongly: the median rises 8-10 fold from level 0 to 7) and a small crop's
    region keeps almost no fine-scale descriptor (3 of the 31 in a 25 % crop shown enlarged, whose
    source got no vote; with the levels' shares 8 of 31).

    Every order is a value sort of unsigned integer keys whose low bits say which keypoint (argsorts,
    the stable one of the responses above all, took twice as long on the matcher's 32,000 keypoints of
    dense features); equal responses go to the keypoint detected first."""
    count = len(keypoints)
    if count <= n:
        return list(keypoints)
    bits = (count - 1).bit_length()
    if bits > _MAX_BITS:
        raise ValueError(f"{count:,} keypoints are more than _spread's keys hold")
    height, width = shape[:2]
    xy = cv2.KeyPoint_convert(keypoints)
    response = np.fromiter(map(attrgetter("response"), keypoints), np.float32, count)
    level = np.fromiter(map(attrgetter("octave"), keypoints), np.int64, count)
    found = np.bincount(level)  # also refuses a negative level
    cell = (np.minimum(xy[:, 1] * _GRID // height, _GRID - 1) * _GRID
            + np.minimum(xy[:, 0] * _GRID // width, _GRID - 1)).astype(np.uint64)
    shift, numbers = np.uint64(bits), np.arange(count, dtype=np.uint64)
    strongest = np.sort(_weaker_first(response) << shift | numbers) & np.uint64((1 << bits) - 1)
    strength = np.empty(count, np.uint64)  # 0 for the strongest keypoint
    strength[strongest] = numbers
    levels = level.astype(np.uint64)
    rank = _place(levels * np.uint64(_GRID * _GRID) + cell, strength, bits, strongest)  # in its level's cell
    place = _place(levels, rank.astype(np.uint64) << shift | strength, 2 * bits, strongest)  # cells in turns
    share = np.diff(np.floor(n * np.cumsum(found) / count), prepend=0)  # adds up to n
    chosen = np.flatnonzero(place < share[level])
    through = place[chosen] / share[level[chosen]]  # how far into its level's share
    return [keypoints[i] for i in chosen[np.lexsort((strength[chosen], through))].tolist()]


def _weaker_first(response: np.ndarray) -> np.ndarray:
    """Unsigned keys of float32 responses that rise as the response falls, equal for equal responses
    (-0.0 and 0.0 too): the IEEE bits ordered as the numbers are (a negative's all flipped, a
    positive's sign bit set), then all flipped."""
    bits = (response + np.float32(0)).view(np.uint32).astype(np.uint64)  # + 0: -0.0 becomes 0.0
    rising = np.where(bits >> np.uint64(31) == 1, bits ^ np.uint64(0xFFFFFFFF), bits | np.uint64(1 << 31))
    return rising ^ np.uint64(0xFFFFFFFF)


def _place(group: np.ndarray, within: np.ndarray, width: int, strongest: np.ndarray) -> np.ndarray:
    """The place of each keypoint within its group by `within`: distinct values in a group, under
    2**`width`, whose low bits are the keypoint's strength (its place in `strongest`)."""
    keys = np.sort(group << np.uint64(width) | within)
    who = strongest[keys & np.uint64((1 << (len(strongest) - 1).bit_length()) - 1)]
    groups = keys >> np.uint64(width)
    at = np.arange(len(keys))
    starts = np.empty(len(keys), bool)  # where a group starts
    starts[0], starts[1:] = True, groups[1:] != groups[:-1]
    place = np.empty(len(keys), np.int64)
    place[who] = at - np.maximum.accumulate(np.where(starts, at, 0))
    return place
