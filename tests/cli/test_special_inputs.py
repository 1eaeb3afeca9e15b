"""Files given on the command line that are not regular files: a FIFO or /dev/zero as a lexicon, a
secret file or a facility file is refused in one line at once (read under emcensus.access), never
opened and waited on, never read until memory runs out."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

ZERO = "/dev/zero"


def _within(census, seconds: float, *args: str):
    """Run the CLI in a thread; fail (after releasing a FIFO it may block on) when it takes longer."""
    results = []
    start = time.monotonic()
    worker = threading.Thread(target=lambda: results.append(census(*args, ok=False)), daemon=True)
    worker.start()
    worker.join(timeout=seconds)
    if worker.is_alive():
        for arg in args:
            if Path(arg).is_fifo():
                os.close(os.open(arg, os.O_WRONLY | os.O_NONBLOCK))
        pytest.fail(f"{' '.join(args)} ran for more than {seconds} s")
    return results[0], time.monotonic() - start


@pytest.fixture
def fifo(tmp_path: Path) -> str:
    path = tmp_path / "pipe.toml"
    os.mkfifo(path)
    return str(path)


@pytest.mark.skipif(not os.path.exists(ZERO), reason="no /dev/zero on this system")
@pytest.mark.parametrize("command", [
    ("pubs", "classify", "--lexicon", "{special}"),
    ("reuse", "export", "{out}", "--license", "CC0-1.0", "--secret-file", "{special}"),
    ("reuse", "export", "{out}", "--license", "CC0-1.0", "--config", "{facility}"),
    ("storage", "--config", "{special}"),
    ("report", "{out}", "--config", "{special}"),
], ids=["lexicon", "secret-file", "facility-secret-file", "storage-config", "report-config"])
@pytest.mark.parametrize("special", ["fifo", "zero"])
def test_a_special_file_is_one_line_at_once(census, fifo: str, tmp_path: Path, command: tuple[str, ...],
                                            special: str) -> None:
    path = fifo if special == "fifo" else ZERO
    facility = tmp_path / "facility-secret.toml"
    facility.write_text(f'[reuse]\nsecret_file = "{path}"\n', encoding="utf-8")
    args = [arg.format(special=path, out=tmp_path / "out", facility=facility) for arg in command]
    result, seconds = _within(census, 10, *args)
    assert result.exit_code != 0
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "not a regular file" in lines[0], result.output
    assert seconds < 3, f"{seconds:.2f} s"
    assert not (tmp_path / "out").exists()
