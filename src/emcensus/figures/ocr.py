"""One line of printed text read by Debian's tesseract, in a subprocess bounded in time.

The only I/O of scale-bar reading: the image goes to `tesseract` on stdin as PNG and the text comes
back on stdout, so nothing is written anywhere. tesseract ships its model in the Debian package
(`tesseract-ocr`, `tesseract-ocr-eng`); nothing is downloaded. Where it is missing, callers get
`OcrUnavailableError` and go on without the text.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import cv2
import numpy as np

from emcensus.errors import EmcensusError

#: Seconds one line may take (a cold start of tesseract takes about 0.15 s).
OCR_TIMEOUT_S = 10.0


class OcrUnavailableError(EmcensusError):
    """No OCR engine on this machine (tesseract is not installed), or it failed to run."""


def tesseract_path() -> str | None:
    """The tesseract executable, or None where it is not installed."""
    return shutil.which("tesseract")


def ocr_line(image: np.ndarray, *, whitelist: str, timeout_s: float = OCR_TIMEOUT_S) -> str:
    """Text of one line of dark print on a light uint8 image, restricted to `whitelist` characters.

    Page segmentation mode 7 (a single line) is the one that reads short labels reliably; one
    OpenMP thread, because the image is tiny and the cores are better spent on other panels.
    """
    executable = tesseract_path()
    if executable is None:
        raise OcrUnavailableError("tesseract is not installed (Debian: apt-get install tesseract-ocr)")
    ok, png = cv2.imencode(".png", image)
    if not ok:
        raise OcrUnavailableError("could not encode the label image for tesseract")
    args = [executable, "stdin", "stdout", "--psm", "7", "-l", "eng", "-c", f"tessedit_char_whitelist={whitelist}"]
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
    try:
        done = subprocess.run(args, input=png.tobytes(), capture_output=True, timeout=timeout_s, env=env, check=False)
    except subprocess.TimeoutExpired as exc:
        raise OcrUnavailableError(f"tesseract took more than {timeout_s:g} s on one label") from exc
    except OSError as exc:
        raise OcrUnavailableError(f"tesseract could not be run: {exc}") from exc
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise OcrUnavailableError(f"tesseract failed: {message[-1] if message else f'exit status {done.returncode}'}")
    return done.stdout.decode("utf-8", "replace").strip()
