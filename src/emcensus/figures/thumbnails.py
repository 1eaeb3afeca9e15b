"""Whole-field thumbnails: a candidate source for panels that show a whole archive image with too few corners.

A published panel that shows an archive image's whole field shrunk to a hundred pixels (a smooth
field of pores at 0.14x) keeps no keypoint ORB can match, even against its source; its layout of
light and dark is still the image's. Each indexed image keeps a `SIDE` x `SIDE` thumbnail of its image
area (aspect dropped: a whole field of the same aspect maps onto it), each pixel replaced by its rank
among the thumbnail's pixels: gamma, contrast and bit depth change no rank, and every thumbnail holds
the same values, so one inner product with a centred query is their correlation. A thumbnail only
proposes candidates; the matcher verifies them as it does every other (`match.Matcher`).
"""

from __future__ import annotations

import cv2
import numpy as np

#: Pixels per side. 32 x 32 = 1 KiB per image (150 MB at 150 k images); the whole-field panels the
#: keypoints missed (103-131 px, shrunk to 0.14-0.18x, JPEG, gamma, inverted) correlate 0.76-0.84
#: with their sources' thumbnails, ranked first among 200 archive images.
SIDE = 32
PIXELS = SIDE * SIDE
#: Changes when `thumbnail` computes other values: the index stores its thumbnails under this format's name,
#: so thumbnails of another one are not compared with a panel's (the next `figures index` computes them again).
FORMAT = 1
#: Rows of the stored matrix scored at a time (bounds the float copy: 16 k x 1 KiB x 4 bytes).
_CHUNK = 16_384
#: The norm of a centred thumbnail whose values are all different: ranks 0-255, each `PIXELS // 256` times.
_NORM = float(np.linalg.norm(np.repeat(np.arange(256, dtype=np.float64), PIXELS // 256) - 127.5))
#: A stored row for an image that has no thumbnail: constant, so it correlates 0 with every query.
NONE = np.zeros(PIXELS, np.uint8)


def thumbnail(pixels: np.ndarray) -> np.ndarray:
    """(PIXELS,) uint8: the grey image brought to SIDE x SIDE (halved by a Gaussian pyramid while its shorter
    side is at least 4 x SIDE, then area-averaged: 0.4 ms for an 800x600 frame, where area averaging alone
    takes 1.4), as the ranks of its pixels scaled to 0-255 (ties share their mean rank), so every thumbnail
    has the same mean and nearly the same spread. In floats: a pyramid of 8-bit levels ties a dark field's
    pixels."""
    array = np.asarray(pixels, np.float32)
    while min(array.shape[:2]) >= 4 * SIDE:
        array = cv2.pyrDown(array)
    small = cv2.resize(array, (SIDE, SIDE), interpolation=cv2.INTER_AREA).ravel()
    ordered = np.sort(small)
    rank = (np.searchsorted(ordered, small, "left") + np.searchsorted(ordered, small, "right")) / 2
    return np.floor(rank * (256 / PIXELS)).astype(np.uint8)


def queries(grey: np.ndarray) -> np.ndarray:
    """(2, PIXELS) float32: a panel's thumbnail and its mirror image's, centred, of unit norm."""
    rows = np.stack([thumbnail(grey), thumbnail(np.ascontiguousarray(grey[:, ::-1]))]).astype(np.float32)
    rows -= rows.mean(axis=1, keepdims=True)
    return rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-6)


def correlations(query: np.ndarray, stored: np.ndarray) -> np.ndarray:
    """(n, 2) float32: the correlation of each stored thumbnail with the panel's (`queries`) and its mirror
    image's; negative for an inverted copy. The queries are centred, so a stored row's mean drops out."""
    out = np.empty((len(stored), len(query)), np.float32)
    for first in range(0, len(stored), _CHUNK):
        np.matmul(np.asarray(stored[first:first + _CHUNK], np.float32), query.T, out=out[first:first + _CHUNK])
    return out / np.float32(_NORM)


def best(scores: np.ndarray, allowed: np.ndarray, k: int, floor: float = 0.0) -> list[tuple[int, bool, bool, float]]:
    """The `k` allowed images whose thumbnails correlate best with the panel's (`correlations`), in either
    polarity and either orientation, above `floor`: (position, mirrored, inverted, correlation), best first."""
    magnitude = np.abs(scores)
    which = magnitude.argmax(axis=1)
    strongest = np.where(allowed, magnitude[np.arange(len(scores)), which], -1.0)
    top = np.argsort(-strongest, kind="stable")[:k]
    return [(int(p), bool(which[p]), bool(scores[p, which[p]] < 0), float(strongest[p]))
            for p in top if strongest[p] > floor]


def whole_field(width: int, height: int, image_width: int, image_height: int) -> np.ndarray:
    """The 2x3 similarity fit (archive px -> panel px) of a panel showing an image's whole field: one scale
    (the mean of both sides'), centres on each other."""
    scale = float(np.sqrt(width / image_width * height / image_height))
    return np.array([[scale, 0.0, (width - 1) / 2 - scale * (image_width - 1) / 2],
                     [0.0, scale, (height - 1) / 2 - scale * (image_height - 1) / 2]])


#: How far the intensity alignment of a whole field may stray from a similarity: the ratio of its linear
#: part's singular values. Sources aligned at 1.000-1.03; unrelated images that the alignment bent to
#: correlate 0.8-0.95 did so at 1.11-12 (`match.THUMBNAIL_CANDIDATES`).
SIMILARITY = 1.05


def is_similarity(transform: np.ndarray) -> bool:
    """Whether a 2x3 fit is a similarity (within `SIMILARITY`), not mirrored: what a published copy of an
    image is (a fit that shears or stretches it is an alignment forcing unrelated structure together)."""
    linear = np.asarray(transform, np.float64)[:, :2]
    larger, smaller = np.linalg.svd(linear, compute_uv=False)
    return bool(np.linalg.det(linear) > 0 and larger <= SIMILARITY * smaller)
