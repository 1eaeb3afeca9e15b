"""OCR scripted for scale-bar tests: the label crops are real, the text each read gives is the test's."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from emcensus.figures.ocr import NO_STEPS, LineRead


def scripted(reads: Callable[[np.ndarray], tuple[str, float]]) -> Callable[[np.ndarray], LineRead]:
    """`figures.ocr.read_line` as `reads` says, (text, confidence) per image: no per-step output, so
    no unit is decoded from it (`labeldecode`), as for a model that printed only this text."""
    def read_line(image: np.ndarray) -> LineRead:
        text, confidence = reads(image)
        return LineRead(text, confidence, NO_STEPS, ("blank",))
    return read_line
