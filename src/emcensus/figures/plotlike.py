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
"""

from __future__ import annotations

import numpy as np

PAPER_TONE = 240  # the darkest grey still read as paper white
MIN_PAPER_SHARE = 0.3  # of the pixels, of that one exact tone
MOST_PIXELS = 0.8
MAX_TONES = 4  # tones that cover MOST_PIXELS of a drawing


def is_drawing(grey: np.ndarray) -> bool:
    """Whether the 8-bit grey panel is a drawing on paper (a plot, a chart, a scheme): one paper-white
    tone covers `MIN_PAPER_SHARE` of it and `MAX_TONES` tones cover `MOST_PIXELS` of it. Errs towards
    "micrograph": a drawing missed costs time, a micrograph called a drawing costs its match."""
    if grey.size == 0:
        return False
    counts = np.bincount(np.asarray(grey, np.uint8).ravel(), minlength=256)
    paper = int(counts.argmax())
    if paper < PAPER_TONE or counts[paper] < MIN_PAPER_SHARE * grey.size:
        return False
    by_share = np.sort(counts)[::-1]
    return int(by_share[:MAX_TONES].sum()) >= MOST_PIXELS * grey.size
