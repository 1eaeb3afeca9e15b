"""One line of printed text read by RapidOCR's PP-OCR recogniser (ONNX), in this process.

The only OCR of scale-bar reading. The recognition model ships inside the `rapidocr` wheel and is
loaded from there by path, so nothing is downloaded and nothing is written (onnxruntime's telemetry
is turned off before it starts); onnxruntime runs it on
one thread (the images are tiny; the cores are better spent on other panels). It reads µ and p
apart and prints Å as "A", where Debian's tesseract (used before) dropped or confused them; and it
costs about 30 ms of CPU a line instead of a 150 ms subprocess. Where the package or its model is
missing, callers get `OcrUnavailableError` and go on without the text.
"""

from __future__ import annotations

import functools
import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from emcensus.errors import EmcensusError

#: The recognition model inside the rapidocr wheel (PP-OCRv6 small, many scripts, µ and Å included).
REC_MODEL = "PP-OCRv6_rec_small.onnx"
#: Widest image (px) handed to the recogniser: it resizes to 48 px high, so a long strip costs time only.
MAX_WIDTH_PX = 4000


class OcrUnavailableError(EmcensusError):
    """No OCR engine on this machine (rapidocr or onnxruntime missing), or it failed on an image."""


def model_path() -> Path | None:
    """The recognition model shipped in the installed rapidocr package, or None where there is none."""
    spec = importlib.util.find_spec("rapidocr")
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / "models" / REC_MODEL
    return path if path.is_file() else None


@functools.lru_cache(maxsize=1)
def _engine() -> Any:
    """The recogniser, built once per process (a model load takes about 0.1 s)."""
    path = model_path()
    if path is None:
        raise OcrUnavailableError(f"rapidocr with its {REC_MODEL} model is not installed (pip install rapidocr onnxruntime)")
    # onnxruntime >= 1.29 keeps a telemetry database under ~/.cache and may send events: read before
    # its environment is created, this variable turns that off (nothing leaves the machine)
    os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
    try:
        from rapidocr import RapidOCR  # noqa: PLC0415 - heavy import, only when a label is read
    except ImportError as exc:  # onnxruntime missing
        raise OcrUnavailableError(f"rapidocr cannot be loaded: {exc}") from exc
    return RapidOCR(params={
        "Global.use_det": False, "Global.use_cls": False, "Global.log_level": "error",
        "Rec.model_path": str(path),
        "EngineConfig.onnxruntime.intra_op_num_threads": 1, "EngineConfig.onnxruntime.inter_op_num_threads": 1,
    })


@dataclass(frozen=True)
class LineRead:
    """One line read: the text as the model prints it (greedy CTC: the likeliest character at each
    step, repeats merged, blanks dropped), its confidence 0..1, and the model's per-step output
    (`steps`: T x C probabilities, column 0 the CTC blank, the others `characters`; `NO_STEPS` where
    the engine's public call read it), which lets a caller ask how likely another spelling of the
    same line is (`figures.labeldecode`)."""

    text: str
    confidence: float
    steps: np.ndarray
    characters: tuple[str, ...]


#: A read's per-step output where the engine's own pieces were not used (`read_line`): none, so
#: no unit is decoded from it (`figures.labeldecode`).
NO_STEPS = np.zeros((0, 1), np.float32)
NO_STEPS.flags.writeable = False
#: Whether the engine's own pieces gave per-step output in this process: off for good once they
#: failed on an image the engine's public call read (another rapidocr's pieces).
_with_steps = True


def read_line(image: np.ndarray) -> LineRead:
    """One line of print on a uint8 image (grey or BGR), through the engine's own steps (its image
    loading and size bounds, the recogniser's resize and normalisation) so that the text is the
    engine's; the per-step output is kept. Those steps are rapidocr's own pieces, not its public
    API: where this rapidocr lacks them or they fail on an image its public call reads, the line is
    read by that call (the same text, `NO_STEPS`). The text is as the model prints it: callers check it."""
    global _with_steps  # noqa: PLW0603 - once per process
    if image.ndim not in (2, 3) or image.dtype != np.uint8 or image.shape[0] == 0 or image.shape[1] == 0:
        raise ValueError(f"a line image must be non-empty uint8 (H, W) or (H, W, 3): got {image.dtype} {image.shape}")
    if image.shape[1] > MAX_WIDTH_PX:
        raise ValueError(f"a line image must be at most {MAX_WIDTH_PX} px wide: got {image.shape[1]}")
    engine = _engine()
    characters = _characters(engine) if _with_steps else None
    if characters is not None:
        try:
            return _read_with_steps(engine, image, characters)
        except Exception:  # noqa: BLE001 - the public call below tells a model failing from pieces that do not fit
            read = _read_public(engine, image)
            _with_steps = False
            return read
    return _read_public(engine, image)


def _read_with_steps(engine: Any, image: np.ndarray, characters: tuple[str, ...]) -> LineRead:
    """`read_line` through the engine's own pieces, its per-step output checked to be what the
    decoding takes (a probability over `characters` at each step)."""
    recogniser = engine._load_rec_model()  # noqa: SLF001 - the engine's recogniser, loaded once
    loaded, _ = engine.preprocess_img(engine.load_img(image))
    _, height, width = recogniser.rec_image_shape
    batch = recogniser.resize_norm_img(loaded, max(width / height, loaded.shape[1] / loaded.shape[0]))
    steps = np.asarray(recogniser.session(batch[np.newaxis].astype(np.float32))[0], dtype=np.float32)
    # the first and last steps checked: the model's last layer makes every step alike (a softmax, or
    # not); summing all of them was 2 % of a read's CPU
    if steps.ndim != 2 or steps.shape[1] != len(characters) or not np.allclose(steps[[0, -1]].sum(axis=1), 1.0, atol=1e-2):
        raise ValueError(f"the recogniser's output is not a probability over its {len(characters)} characters per step")
    (text, confidence), = recogniser.postprocess_op(steps[np.newaxis])[0]  # the engine's own decode
    text = str(text).strip()
    return LineRead(text, float(confidence) if text else 0.0, steps, characters)


def _read_public(engine: Any, image: np.ndarray) -> LineRead:
    """`read_line` through the engine's public call: its text and confidence, `NO_STEPS`."""
    try:
        result = engine(image, use_det=False, use_cls=False)
    except Exception as exc:  # onnxruntime raises its own types; the panel goes on unread
        raise OcrUnavailableError(f"the OCR model failed on a label: {exc}") from exc
    texts, scores = result.txts or (), result.scores or ()
    text = str(texts[0]).strip() if texts else ""
    return LineRead(text, float(scores[0]) if text else 0.0, NO_STEPS, ("blank",))


@functools.lru_cache(maxsize=1)
def _characters(engine: Any) -> tuple[str, ...] | None:
    """The recogniser's output columns (the CTC blank first), or None where this rapidocr's engine
    lacks a piece `_read_with_steps` uses (it is read by its public call)."""
    try:
        recogniser = engine._load_rec_model()  # noqa: SLF001
        characters = tuple(recogniser.postprocess_op.character)
        pieces = (engine.preprocess_img, engine.load_img, recogniser.resize_norm_img, recogniser.session)
        shape_ok = len(recogniser.rec_image_shape) == 3
    except Exception:  # noqa: BLE001 - another rapidocr's pieces, or its model failing: the public call tells
        return None
    return characters if shape_ok and all(map(callable, pieces)) and characters[:1] == ("blank",) else None


def ocr_line(image: np.ndarray) -> tuple[str, float]:
    """(text, confidence 0..1) of one line of print on a uint8 image (grey or BGR); ("", 0.0) when
    nothing is read. The text is as the model prints it: callers check it against what they expect."""
    read = read_line(image)
    return read.text, read.confidence
