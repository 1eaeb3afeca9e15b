"""Near-duplicate groups: one frame saved as tif + jpg + bmp, re-saved, copied, cropped.

Candidates are pairs whose perceptual hashes (pHash or dHash of the image area, 64 bits each, the
`imagehash` package) differ in at most `HASH_DISTANCE` bits, taken within one instrument and
`DAY_WINDOW` days of acquisition; each candidate is confirmed by SSIM on 256 px thumbnails (the
hash alone also pairs two shots of a bland field). Confirmed pairs are joined by union-find; a
group is named by its smallest image id.

A repeat of the same field (a second exposure, its own noise) is grouped too: it shows the same
content, so for reuse it is one sample, and a model tested on one and trained on the other is tested
on what it has seen (near-duplicates across splits inflate test accuracy: ciFAIR, 2020). The
thumbnails are lightly blurred before SSIM so that this holds at any dose, not only at low noise.
Limits: a crop larger than a few % of each side changes the hashes and is not found; a copy that
keeps a data bar its metadata does not describe is compared with the bar.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import date

import cv2
import imagehash
import numpy as np
from PIL import Image
from skimage.metrics import structural_similarity

from emcensus.figures.features import to_grey8
from emcensus.unionfind import UnionFind

#: Bits two 64-bit hashes may differ in for a pair to be a candidate.
HASH_DISTANCE = 6
#: Days apart two acquisitions of a pair may be.
DAY_WINDOW = 1
#: Longer side of the thumbnails SSIM compares.
THUMB_SIDE = 256
#: SSIM a candidate needs to be confirmed.
SSIM_MIN = 0.8
#: Blur (thumbnail px) before SSIM, and the smallest overlap (px) a crop is compared on.
_SSIM_BLUR_PX = 1.0
_MIN_OVERLAP = 32


@dataclass(frozen=True, slots=True)
class Thumb:
    """An image area's 8-bit thumbnail (longer side THUMB_SIDE) and that side's length in file pixels."""

    pixels: np.ndarray
    side_px: int


def thumbnail(grey: np.ndarray) -> Thumb:
    """The thumbnail hashes and SSIM see: the image area (2-D, `metrics.grey_float`) at longer side
    THUMB_SIDE, stretched to 8 bits."""
    area = np.asarray(grey, np.float32)  # resized before the stretch: its percentiles on 50 k pixels, not millions
    factor = THUMB_SIDE / max(area.shape)
    size = (max(1, round(area.shape[1] * factor)), max(1, round(area.shape[0] * factor)))
    small = cv2.resize(area, size, interpolation=cv2.INTER_AREA if factor < 1 else cv2.INTER_CUBIC)
    return Thumb(to_grey8(small), max(area.shape))


def hashes(thumb: Thumb) -> tuple[str, str]:
    """(pHash, dHash) of a thumbnail, 16 hex digits each."""
    image = Image.fromarray(thumb.pixels)
    return str(imagehash.phash(image)), str(imagehash.dhash(image))


def similarity(a: Thumb, b: Thumb) -> float:
    """SSIM of two thumbnails, lightly blurred (content, not the noise of one exposure), the better of:
    one resized onto the other (a resized copy), and the smaller placed in the larger at the same
    pixel size (a crop keeps the pixel size; template matching finds where it was cut)."""
    big, small = (a, b) if a.side_px >= b.side_px else (b, a)
    big_px, small_px = (cv2.GaussianBlur(t.pixels, (0, 0), _SSIM_BLUR_PX) for t in (big, small))
    best = _ssim(big_px, cv2.resize(small_px, big_px.shape[::-1], interpolation=cv2.INTER_AREA))
    factor = small.side_px / big.side_px * max(big_px.shape) / max(small_px.shape)
    if factor < 0.99:
        template = cv2.resize(small_px, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)
        h, w = template.shape
        if min(h, w) >= _MIN_OVERLAP and h <= big_px.shape[0] and w <= big_px.shape[1]:
            scores = cv2.matchTemplate(big_px, template, cv2.TM_CCOEFF_NORMED)
            _, _, _, (x, y) = cv2.minMaxLoc(scores)
            best = max(best, _ssim(big_px[y:y + h, x:x + w], template))
    return best


def _ssim(a: np.ndarray, b: np.ndarray) -> float:
    return float(structural_similarity(a, b, data_range=255))


@dataclass(frozen=True, slots=True)
class Hashed:
    """What the grouping knows of one image."""

    image_id: int
    instrument: str | None
    day: date | None  # acquisition day; None: unknown (compared with the unknown days of its instrument)
    phash: int
    dhash: int


#: Set bits of each byte value.
_POPCOUNT = np.array([bin(value).count("1") for value in range(256)], np.uint8)


def _bits(values: np.ndarray) -> np.ndarray:
    """Set bits of each uint64."""
    return _POPCOUNT[values.view(np.uint8)].reshape(len(values), 8).sum(axis=1)


def candidate_pairs(images: Sequence[Hashed], focus: Collection[int] | None = None) -> list[tuple[int, int]]:
    """(smaller id, larger id) pairs within one instrument and DAY_WINDOW days whose pHash or dHash
    differ in at most HASH_DISTANCE bits; with `focus`, only the pairs holding one of those ids (an
    incremental run: pairs of two unchanged images keep their verdict). An image of unknown day (a
    copy dated only by its file) is compared with every image of its instrument."""
    by_instrument: dict[str | None, list[Hashed]] = {}
    for image in images:
        by_instrument.setdefault(image.instrument, []).append(image)
    pairs: set[tuple[int, int]] = set()
    for members in by_instrument.values():
        # dated images by day, then the undated; each image is compared with slices of these arrays
        members = sorted(members, key=lambda m: (m.day is None, m.day or date.min))
        ids = np.array([m.image_id for m in members], np.int64)
        phash = np.array([m.phash for m in members], np.uint64)
        dhash = np.array([m.dhash for m in members], np.uint64)
        dated = sum(1 for m in members if m.day is not None)
        days = np.array([m.day.toordinal() for m in members[:dated]], np.int64)
        starts = np.searchsorted(days, days - DAY_WINDOW, side="left")
        ends = np.searchsorted(days, days + DAY_WINDOW, side="right")
        for index in range(len(members)):
            if focus is not None and members[index].image_id not in focus:
                continue
            others = _partners(index, dated, len(members), int(starts[index]) if index < dated else 0,
                               int(ends[index]) if index < dated else 0, every=focus is not None)
            close = ((_bits(phash[others] ^ phash[index]) <= HASH_DISTANCE)
                     | (_bits(dhash[others] ^ dhash[index]) <= HASH_DISTANCE))
            image_id = int(ids[index])
            pairs.update((min(other, image_id), max(other, image_id)) for other in ids[others][close].tolist())
    return sorted(pairs)


def _partners(index: int, dated: int, count: int, start: int, end: int, *, every: bool) -> np.ndarray:
    """Positions the image at `index` is compared with: a dated image with those within the window
    [start, end) and the undated, an undated one with all. Without `every` (all images are compared)
    each pair is taken once: from its earlier member, or from its undated one."""
    if index < dated:
        return np.r_[start:index, index + 1:end, dated:count] if every else np.r_[index + 1:end]
    return np.r_[0:index, index + 1:count] if every else np.r_[0:dated, index + 1:count]


def groups(ids: Iterable[int], confirmed: Iterable[tuple[int, int]]) -> dict[int, int]:
    """Union-find over the confirmed pairs: image id → group (its smallest id), for images in a
    group of two or more."""
    forest = UnionFind(ids)
    for a, b in confirmed:
        if a in forest and b in forest:
            forest.union(a, b)
    group_of = forest.smallest()
    sizes = Counter(group_of.values())
    return {node: group for node, group in group_of.items() if sizes[group] > 1}


def day_of(acquired_at: str | None, source: str | None) -> date | None:
    """The acquisition day from the metadata; None when only the file's date is known (a copy's file
    date is the day it was copied)."""
    if not acquired_at or source != "metadata":
        return None
    try:
        return date.fromisoformat(acquired_at[:10])
    except ValueError:
        return None


__all__ = ["DAY_WINDOW", "HASH_DISTANCE", "SSIM_MIN", "THUMB_SIDE", "Hashed", "candidate_pairs", "day_of",
           "groups", "hashes", "similarity", "thumbnail", "Thumb"]
