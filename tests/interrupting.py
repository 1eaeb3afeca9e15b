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

#: Run before the command in its process (after `slow`'s patch): the CLI as the `emcensus` script runs it.
_RUN_CLI = "\nfrom emcensus.cli.main import main\nmain(prog_name='emcensus')\n"


def interrupt_cli(args: list[str], slow: str, marker: Path, ready: Callable[[Counter[str]], bool]
                  ) -> subprocess.CompletedProcess:
    """`emcensus ARGS` with `slow` (Python run first in the command's process: patches the work to be slow
    and to append its process id to `marker` as each piece starts, in whichever process runs it),
    interrupted once `ready(pieces started per process id)`; asserts that no process of the command is
    left afterwards."""
    command = subprocess.Popen([sys.executable, "-c", slow + _RUN_CLI, *args], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, start_new_session=True)
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
