"""Whole-field thumbnails: a candidate source for panels that show a whole archive image with too few corners.

A published panel that shows an archive image's whole field shrunk to a hundred pixels (a smooth
field of pores at 0.14x) keeps no keypoint ORB can match, even against its source; its layout of
light and dark is still the image's. Each indexed image keeps a `SIDE` x `SIDE` thumbnail of its image
area (aspect dropped: a whole field of the same aspect maps onto it), each pixel replaced by its rank
among the thumbnail's pixels: gamma, contrast and bit depth change no rank, and every thumbnail holds
the same values (but for ties), so one inner product with a centred query is their correlation. A thumbnail only
proposes candidates; the matcher verifies them as it does every other (`match.Matcher`).
"""

from __future__ import annotations

from typing import Any

import cv2
import faiss
import numpy as np

#: Pixels per side. 32 x 32 = 1 KiB per image (150 MB at 150 k images); the whole-field panels the
#: keypoints missed (103-131 px, shrunk to 0.14-0.18x, JPEG, gamma, inverted) correlate 0.76-0.84
#: with their sources' thumbnails, ranked first among 200 archive images.
SIDE = 32
PIXELS = SIDE * SIDE
#: Changes when `thumbnail` computes other values: the index stores its thumbnails under this format's name,
#: so thumbnails of another one are not compared with a panel's (the next `figures index` computes them again).
FORMAT = 1
#: The norm of a centred thumbnail whose values are all different: ranks 0-255, each `PIXELS // 256` times.
_NORM = float(np.linalg.norm(np.repeat(np.arange(256, dtype=np.float64), PIXELS // 256) - 127.5))
#: A stored row for an image that has no thumbnail: constant, so it correlates 0 with every query.
NONE = np.zeros(PIXELS, np.uint8)
#: Correlation under which a thumbnail proposes nothing: whole fields that their pixels then confirmed
#: correlated 0.16-0.91 with their sources' thumbnails (seeds 3, 7, 11, 23).
MIN_CORRELATION = 0.1


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


def searcher(stored: np.ndarray) -> Any:
    """A faiss index holding a copy of the stored thumbnails (n, PIXELS) for `best`: 8-bit codes decoded as
    their own values (+0.5, which a centred query ignores), searched by inner product on one thread (150 k
    images: 19 ms a search, where numpy's float copy and product took 360)."""
    index = faiss.IndexScalarQuantizer(PIXELS, faiss.ScalarQuantizer.QT_8bit_uniform, faiss.METRIC_INNER_PRODUCT)
    index.train(np.array([np.zeros(PIXELS), np.full(PIXELS, 255.0)], np.float32))  # each code reads as itself
    if len(stored):
        index.add_sa_codes(np.ascontiguousarray(stored, np.uint8))
    return index


def held(index: Any) -> np.ndarray:
    """The thumbnails a `searcher` holds, (n, PIXELS) uint8, without a copy."""
    return faiss.rev_swig_ptr(index.codes.data(), index.ntotal * PIXELS).reshape(index.ntotal, PIXELS)


def best(index: Any, query: np.ndarray, allowed: np.ndarray, k: int, floor: float = MIN_CORRELATION
         ) -> list[tuple[int, bool, bool, float]]:
    """The `k` allowed images (a bool per position) whose thumbnails in `index` (`searcher`) correlate best
    with the panel's (`queries`), in either orientation and either polarity, above `floor`: (position,
    mirrored, inverted, correlation), best first."""
    if not index.ntotal:
        return []
    bitmap = np.packbits(np.asarray(allowed, bool), bitorder="little")  # alive while faiss reads it
    rows = np.concatenate([query, -query]).astype(np.float32)  # as published, mirrored, inverted, both
    scores, positions = index.search(rows, k, params=faiss.SearchParameters(sel=faiss.IDSelectorBitmap(bitmap)))
    found: dict[int, tuple[int, bool, bool, float]] = {}
    for row in range(len(rows)):
        for score, position in zip(scores[row] / _NORM, positions[row]):
            if position >= 0 and score > floor and score > found.get(position, (0, False, False, -1.0))[3]:
                found[int(position)] = (int(position), bool(row % 2), row >= 2, float(score))
    return sorted(found.values(), key=lambda candidate: -candidate[3])[:k]


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
