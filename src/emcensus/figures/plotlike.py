"""Whether a panel is a drawing (a plot, a chart, a scheme) rather than a micrograph.

A drawing cannot be an archive image, so the matcher gives it only its first, cheap search and none
of the fallbacks that a micrograph without a verified fit gets (about 2 s of CPU each at 150 k images).
A drawing lies on paper: one near-white tone, exactly the same value, covers a large share of it, and
a handful of tones (paper, ink, a fill or two) cover most of it. A micrograph has noise and texture
everywhere: even a bright or partly saturated one spreads over dozens of tones, and one traced into
16 vector tones has no paper (its brightest layer is not paper white, and its layers share the area).
Measured on every panel of the four generated corpora and the 150 k bench's publications (538
micrographs, 16 plots): the paper share of micrographs is at most 0.10 and their 80 % needs at least
6 tones; the plots have 0.42-0.94 paper and 15 of 16 need at most 3 tones.

A micrograph overexposed past ~78 % (255 its commonest tone) passes both; what is not paper tells it
apart: a drawing's marks are ink, a few tones (their 3 commonest hold at least a third of the marks in
every plot and scheme measured, 0.33-0.93; an overexposed micrograph's remainder spreads over dozens,
median 0.21), and they are strokes, letters and fills, connected (a mark's pixel has marks on 0.81-0.99
of its 4 sides on average; the remainder of an overexposed micrograph is specks and frayed blobs, median
0.71, those of a raw frame 0.29-0.74). On 192 published micrographs overexposed to 78-95 %, 189 of which
passed the paper and tone tests, these two call 13 drawings (raw frames: 47 of 48 passed, none now); on
the 421 panels of the four corpora (seeds 3, 7, 11, 23) the same 10 of 11 plots are drawings and none of
the 410 micrographs, and the generator's 60 plots, schemes and charts pasted as JPEG all stay drawings.
About 0.1 ms a panel.
"""

from __future__ import annotations

import numpy as np

PAPER_TONE = 240  # the darkest grey still read as paper white
MIN_PAPER_SHARE = 0.3  # of the pixels, of that one exact tone
MOST_PIXELS = 0.8
MAX_TONES = 4  # tones that cover MOST_PIXELS of a drawing
INK_TONES, MIN_INK_SHARE = 3, 0.25  # the commonest tones of the marks (not paper) hold this share of them
MIN_CONNECTED = 0.75  # of a mark pixel's 4 neighbours that are marks too, on average over the marks


def is_drawing(grey: np.ndarray) -> bool:
    """Whether the 8-bit grey panel is a drawing on paper (a plot, a chart, a scheme): one paper-white
    tone covers `MIN_PAPER_SHARE` of it and `MAX_TONES` tones cover `MOST_PIXELS` of it, and its marks
    (what is not paper) are ink, not the textured remainder of an overexposed micrograph (`_inked`).
    Errs towards "micrograph": a drawing missed costs time, a micrograph called a drawing costs its match."""
    if grey.size == 0:
        return False
    grey = np.asarray(grey, np.uint8)
    counts = np.bincount(grey.ravel(), minlength=256)
    paper = int(counts.argmax())
    if paper < PAPER_TONE or counts[paper] < MIN_PAPER_SHARE * grey.size:
        return False
    by_share = np.sort(counts)[::-1]
    return int(by_share[:MAX_TONES].sum()) >= MOST_PIXELS * grey.size and _inked(grey, counts, paper)


def _inked(grey: np.ndarray, counts: np.ndarray, paper: int) -> bool:
    """Whether the marks on the paper are a drawing's: few tones (`INK_TONES` hold `MIN_INK_SHARE` of them)
    and connected (`MIN_CONNECTED`); blank paper is a drawing too."""
    marks = int(grey.size - counts[paper])
    if not marks:
        return True
    ink = np.sort(np.delete(counts, paper))[::-1]
    if ink[:INK_TONES].sum() < MIN_INK_SHARE * marks:
        return False
    marked = np.pad(grey != paper, 1)
    inner = marked[1:-1, 1:-1]
    sides = (np.count_nonzero(inner & marked[:-2, 1:-1]) + np.count_nonzero(inner & marked[2:, 1:-1])
             + np.count_nonzero(inner & marked[1:-1, :-2]) + np.count_nonzero(inner & marked[1:-1, 2:]))
    return sides >= MIN_CONNECTED * 4 * marks
