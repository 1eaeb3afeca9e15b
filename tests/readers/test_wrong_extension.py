"""A common image extension names a container: a file whose magic says another gets a warning, one
whose magic agrees (each spelling of each extension) none."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from emcensus.readers import read_source
from emcensus.readers.base import Source
from emcensus.record import Problem

_SAVED_AS = {".tif": "TIFF", ".tiff": "TIFF", ".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".bmp": "BMP"}


def _warnings(path: Path) -> list[str]:
    problems: list[Problem] = []
    with Source(str(path), None) as source:
        read_source(source, problems=problems)
    return [problem.reason for problem in problems if "wrong extension" in problem.reason]


@pytest.mark.parametrize("suffix", [*_SAVED_AS, ".TIF", ".Jpeg", ".PNG"])
def test_a_file_named_as_its_container_is_not_warned_about(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"a{suffix}"
    Image.new("L", (8, 8)).save(path, format=_SAVED_AS[suffix.lower()])
    assert _warnings(path) == []


@pytest.mark.parametrize(("suffix", "saved_as"), [(".bmp", "PNG"), (".png", "JPEG"), (".jpg", "BMP"), (".tiff", "PNG")])
def test_a_file_named_as_another_container_is_warned_about(tmp_path: Path, suffix: str, saved_as: str) -> None:
    path = tmp_path / f"a{suffix}"
    Image.new("L", (8, 8)).save(path, format=saved_as)
    assert _warnings(path) == [f"wrong extension: a {saved_as} file named {suffix}"]
