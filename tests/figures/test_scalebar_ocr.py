"""The OCR of scale-bar labels (`figures.ocr`): the model shipped in the rapidocr wheel, read in this
process with no network, on real rendered print."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image, ImageDraw

from emcensus.figures import ocr
from emcensus.figures.barpanels import dejavu_font, draw_scale_bar, jpeg
from emcensus.figures.labeldecode import decoded_units
from emcensus.figures.scalebar import parse_label, read_scale_bar


def _printed(text: str, size: int = 20) -> np.ndarray:
    """Dark DejaVu Sans print on white, as a label is handed to the OCR."""
    font = dejavu_font(size)
    x0, y0, x1, y1 = font.getbbox(text)
    image = Image.new("L", (x1 - x0 + 24, y1 - y0 + 24), 255)
    ImageDraw.Draw(image).text((12 - x0, 12 - y0), text, font=font, fill=0)
    return np.asarray(image)


def test_model_is_the_one_inside_the_installed_package() -> None:
    path = ocr.model_path()
    assert path is not None and path.is_file() and path.parent.parent.name == "rapidocr"


@pytest.mark.parametrize(("label", "value_m"), [("250 µm", 250e-6), ("500 pm", 500e-12), ("2.5 µm", 2.5e-6),
                                                ("20 Å", 20e-10), ("750 nm", 750e-9), ("1.5 mm", 1.5e-3)])
def test_printed_label_read_with_the_network_blocked(label: str, value_m: float, monkeypatch: pytest.MonkeyPatch) -> None:
    """µ, p and Å apart, decimal points kept; a fresh engine loads its model without any connection."""
    def refuse(*_: object, **__: object) -> None:
        raise OSError("network blocked in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    ocr._engine.cache_clear()
    text, confidence = ocr.ocr_line(_printed(label))
    parsed = parse_label(text)
    assert parsed is not None and parsed[0] == pytest.approx(value_m, rel=1e-9), text
    assert 0.5 < confidence <= 1.0


@pytest.mark.parametrize("label", ["250 µm", "2.5 µm", "20 Å", "50 nm", "1.5 mm", "fig 3", "50hr"])
@pytest.mark.parametrize("size", [12, 20, 34])
def test_read_line_is_the_engines_own_read_with_its_steps(label: str, size: int) -> None:
    """`read_line` runs the engine's own steps to keep the model's per-step output: its text is the
    engine's text, and each step's output is a probability over the engine's characters."""
    image = _printed(label, size)
    read = ocr.read_line(image)
    engine = ocr._engine()(image, use_det=False, use_cls=False)
    assert read.text == str((engine.txts or ("",))[0]).strip()
    assert read.confidence == (pytest.approx(engine.scores[0]) if read.text else 0.0)
    assert read.steps.shape == (read.steps.shape[0], len(read.characters)) and read.steps.shape[0] > len(read.text)
    assert np.allclose(read.steps.sum(axis=1), 1.0, atol=1e-3)
    assert read.characters[0] == "blank" and "µ" in read.characters and "Å" in read.characters


def test_blank_image_reads_nothing() -> None:
    text, confidence = ocr.ocr_line(np.full((40, 120), 255, np.uint8))
    assert parse_label(text) is None and 0.0 <= confidence <= 1.0


@pytest.mark.parametrize("image", [np.zeros((0, 10), np.uint8), np.zeros((20, 20), np.float32),
                                   np.zeros((20, ocr.MAX_WIDTH_PX + 1), np.uint8)])
def test_images_it_cannot_take_are_refused_before_the_model(image: np.ndarray) -> None:
    with pytest.raises(ValueError):
        ocr.ocr_line(image)


def test_reading_writes_nothing_under_home(tmp_path) -> None:
    """onnxruntime's telemetry (a database under ~/.cache, events sent out) is off: a fresh process
    that reads a label leaves its home and cache folders empty."""
    home = tmp_path / "home"
    home.mkdir()
    env = {key: value for key, value in os.environ.items() if key != "ORT_DISABLE_TELEMETRY"}
    env.update(HOME=str(home), XDG_CACHE_HOME=str(home / ".cache"))
    code = ("import numpy as np; from emcensus.figures.ocr import ocr_line; "
            "print(ocr_line(np.full((40, 120), 255, np.uint8)))")
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert list(home.rglob("*")) == []


def test_a_damaged_model_file_is_one_clear_error(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A model file that does not load is `OcrUnavailableError` (the panel goes on unread), not a
    traceback out of onnxruntime."""
    bad = tmp_path / ocr.REC_MODEL
    bad.write_bytes(b"not a model")
    monkeypatch.setattr(ocr, "model_path", lambda: bad)
    ocr._engine.cache_clear()
    try:
        with pytest.raises(ocr.OcrUnavailableError, match="the OCR model failed"):
            ocr.ocr_line(np.full((40, 120), 255, np.uint8))
    finally:
        ocr._engine.cache_clear()


def test_without_onnxruntime_reading_is_one_clear_error() -> None:
    """rapidocr installed without onnxruntime (it leaves the engine to the user): a fresh process
    gets `OcrUnavailableError` naming onnxruntime."""
    code = ("import sys; sys.modules['onnxruntime'] = None\n"
            "import numpy as np\n"
            "from emcensus.figures.ocr import OcrUnavailableError, ocr_line\n"
            "try:\n    ocr_line(np.full((40, 120), 255, np.uint8))\n"
            "except OcrUnavailableError as exc:\n    print('unavailable:', exc)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("unavailable:") and "onnxruntime" in done.stdout, done.stdout


class _PublicOnly:
    """A rapidocr engine of another version: its public call only, none of the pieces `read_line` takes."""

    def __init__(self, engine: object) -> None:
        self._engine = engine

    def __call__(self, image: np.ndarray, **kwargs: object) -> object:
        return self._engine(image, **kwargs)


class _OtherPieces(_PublicOnly):
    """A rapidocr engine of another version whose pieces have the names `read_line` takes, one of them
    returning something else (its preprocessing the image alone, no record of what it did)."""

    def _load_rec_model(self) -> object:
        return self._engine._load_rec_model()

    def load_img(self, image: np.ndarray) -> np.ndarray:
        return self._engine.load_img(image)

    def preprocess_img(self, image: np.ndarray) -> np.ndarray:
        return self._engine.preprocess_img(image)[0]


@pytest.mark.parametrize("breaks", ["no pieces", "pieces that fail", "a column more than the model gives", "no blank column"])
def test_another_rapidocr_is_read_by_its_public_call_with_the_same_text(breaks: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """`read_line` uses rapidocr's own pieces (not its API): where they are missing, fail, or give
    other output, each line is read by the engine's public call, the same text as with them (the
    read before the per-step output was kept), and without per-step output no unit is decoded."""
    labels = ["250 µm", "2.5 µm", "20 Å", "fig 3", "50hr"]
    with_steps = [ocr.read_line(_printed(label)) for label in labels]
    engine = ocr._engine()
    recogniser = engine._load_rec_model()
    if breaks == "no pieces":
        monkeypatch.setattr(ocr, "_engine", lambda: _PublicOnly(engine))
    elif breaks == "pieces that fail":
        monkeypatch.setattr(ocr, "_engine", lambda: _OtherPieces(engine))
    elif breaks == "a column more than the model gives":
        monkeypatch.setattr(recogniser.postprocess_op, "character", [*recogniser.postprocess_op.character, "new"])
    else:
        monkeypatch.setattr(recogniser.postprocess_op, "character", ["?", *recogniser.postprocess_op.character[1:]])
    monkeypatch.setattr(ocr, "_with_steps", True)
    ocr._characters.cache_clear()
    try:
        public = [ocr.read_line(_printed(label)) for label in labels]
    finally:
        ocr._characters.cache_clear()
    assert [read.text for read in public] == [read.text for read in with_steps]
    assert all(read.steps.shape[0] == 0 and 0.5 < read.confidence <= 1.0 for read in public)
    assert all(decoded_units(read, "50") == () for read in public)
    assert [parse_label(read.text) for read in public] == [parse_label(read.text) for read in with_steps]


def _lattice(seed: int, height: int = 300, width: int = 400) -> np.ndarray:
    """An HRTEM-like field: two crossed lattice fringes (7 and 9 px) and noise."""
    y, x = np.mgrid[0:height, 0:width]
    field = (128 + 20 * np.sin(2 * np.pi * (x * np.cos(0.5) + y * np.sin(0.5)) / 7)
             + 12 * np.sin(2 * np.pi * (x * np.cos(1.6) + y * np.sin(1.6)) / 9))
    return np.clip(field + np.random.default_rng(seed).normal(0, 10, (height, width)), 0, 255).astype(np.uint8)


@pytest.mark.parametrize(("label", "white", "side"), [("5 Å", True, "above"), ("5 Å", False, "below"),
                                                      ("2 Å", True, "below"), ("20 Å", False, "above")])
def test_a_label_in_angstrom_on_a_lattice_image_is_read(label: str, white: bool, side: str) -> None:
    """A real "5 Å" on lattice fringes reads as printed: a stray letter is never decoded as Å
    (`labeldecode._ONE_GLYPH`), but a label whose print reads as Å on both crops still is."""
    pixels, _, _ = draw_scale_bar(_lattice(0), label, 80, white=white, corner="bottom-right", label_side=side,
                                  font_px=18)
    found = read_scale_bar(jpeg(pixels, 90))
    assert found is not None and found.label == label, found
    assert found.value_m == pytest.approx(parse_label(label)[0], rel=1e-9)  # type: ignore[index]
