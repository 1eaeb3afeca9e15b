"""Ctrl-C as a terminal sends it: SIGINT to every process of a real `emcensus` command run in a process
group of its own, once its workers are busy; what it printed, and whether any process of it is left."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

#: Run first in the command's process: Ctrl-C as a terminal's foreground command gets it, also when the suite
#: itself runs as a background job (a shell starts those with SIGINT ignored, which every process inherits).
_AS_FROM_A_TERMINAL = "import signal\nsignal.signal(signal.SIGINT, signal.default_int_handler)\n"
#: Run before the command in its process (after `slow`'s patch): the CLI as the `emcensus` script runs it.
_RUN_CLI = "\nfrom emcensus.cli.main import main\nmain(prog_name='emcensus')\n"


def interrupt_cli(args: list[str], slow: str, marker: Path, ready: Callable[[Counter[str]], bool]
                  ) -> subprocess.CompletedProcess:
    """`emcensus ARGS` with `slow` (Python run first in the command's process: patches the work to be slow
    and to append its process id to `marker` as each piece starts, in whichever process runs it),
    interrupted once `ready(pieces started per process id)`; asserts that no process of the command is
    left afterwards."""
    command = subprocess.Popen([sys.executable, "-c", _AS_FROM_A_TERMINAL + slow + _RUN_CLI, *args],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 240
        while not ready(Counter(marker.read_text().split() if marker.exists() else [])):
            assert command.poll() is None, command.communicate()
            assert time.monotonic() < deadline, "the command never got busy"
            time.sleep(0.05)
        os.killpg(command.pid, signal.SIGINT)
        stdout, stderr = command.communicate(timeout=120)
    finally:
        if command.poll() is None:
            os.killpg(command.pid, signal.SIGKILL)
    _assert_group_gone(command.pid)
    return subprocess.CompletedProcess(command.args, command.returncode, stdout, stderr)


#: `slow` for `interrupt_cli`: every image `quality` or `reuse export` reads is read in 0.2 s more, each read
#: noted (its process id) as it starts.
SLOW_PIXELS = """
import os, time
import emcensus.quality.pixels as pixels
import emcensus.quality.runner as runner
read = pixels.read_image
def slow(path, *args, **kwargs):
    with open({marker!r}, "a") as note:
        note.write(f"{{os.getpid()}}\\n")
    time.sleep(0.2)
    return read(path, *args, **kwargs)
pixels.read_image = runner.read_image = slow
"""


def busy_workers(reads_when_interrupted: list[int]) -> Callable[[Counter[str]], bool]:
    """`ready` for `interrupt_cli`: once both workers of a pool of two read their second file of a task,
    noting how many reads had begun (a task killed at once starts no more)."""
    def ready(reads: Counter[str]) -> bool:
        if len(reads) == 2 and min(reads.values()) >= 2:
            reads_when_interrupted.append(sum(reads.values()))
            return True
        return False
    return ready


def _assert_group_gone(group: int) -> None:
    """No process of the group is left (the workers of a pool, a reader process), a few seconds after."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    os.killpg(group, signal.SIGKILL)
    raise AssertionError("a process of the interrupted command was left running")
