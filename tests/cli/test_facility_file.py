"""The facility file is input like any other: a FIFO, a non-UTF-8 file or a value of the wrong type
is a one-line error, never a hang, a traceback, NaN numbers or one root per character."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from emcensus.config import load_facility
from emcensus.errors import ConfigError

GOOD = '[[instrument]]\nname = "SU8230"\nroots = ["archive"]\n'


@pytest.mark.parametrize(("text", "words"), [
    ('[[instrument]]\nname = "SU8230"\nroots = "/mnt/archive"\n', "list of roots"),
    ('[instrument]\nname = "SU8230"\nroots = ["a"]\n', "[[instrument]]"),
    ('[[instrument]]\nname = 5\nroots = ["a"]\n', "needs a name"),
    ('[[instrument]]\nname = "X"\nroots = [5]\n', "folder path in quotes"),
    ('[[instrument]]\nname = "X"\nroots = ["a"]\nmagnification_reference_mm = nan\n', "positive number"),
    ('[[instrument]]\nname = "X"\nroots = ["a"]\nmagnification_reference_mm = inf\n', "positive number"),
    ('[[instrument]]\nname = "X"\nroots = ["a"]\nvendor = 3\n', "vendor must be text"),
    ('facility = 3\n' + GOOD, "[facility] must be a table"),
    ('[facility]\nlayout = 7\n' + GOOD, "layout must be text"),
])
def test_values_of_the_wrong_kind_are_refused(cli, tmp_path: Path, text: str, words: str) -> None:
    config = tmp_path / "facility.toml"
    config.write_text(text, encoding="utf-8")
    result = cli("scan", "--config", str(config), ok=False)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert words in result.output and len(result.output.strip().splitlines()) == 1


def test_a_facility_file_in_latin1_is_explained(cli, tmp_path: Path) -> None:
    config = tmp_path / "facility.toml"
    config.write_bytes('[facility]\nname = "Zentrum für Größe"\n'.encode("latin-1") + GOOD.encode())
    result = cli("scan", "--config", str(config), ok=False)
    assert result.exit_code == 1 and "not UTF-8" in result.output and "Traceback" not in result.output


def test_a_fifo_named_like_a_facility_file_is_refused_not_waited_on(tmp_path: Path) -> None:
    fifo = tmp_path / "facility.toml"
    os.mkfifo(fifo)
    outcome: list[BaseException] = []

    def load() -> None:
        try:
            load_facility(fifo)
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            outcome.append(exc)

    reader = threading.Thread(target=load, daemon=True)
    reader.start()
    reader.join(10)
    if reader.is_alive():  # unblock the reader before failing
        with open(fifo, "w"):
            pass
        pytest.fail("load_facility blocked on a FIFO")
    assert isinstance(outcome[0], ConfigError) and "FIFO" in str(outcome[0])
