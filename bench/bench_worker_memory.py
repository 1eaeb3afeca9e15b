"""How much memory emcensus's reading processes take in normal work, and whether the memory cap
(`$EMCENSUS_WORKER_MEMORY`, `scan.pool.worker_memory`) leaves that work alone. On a generated corpus
(archive + articles, `figures.synth`) plus `--big` large 16-bit frames, it runs `scan`, `figures index`,
`quality`, `reuse export` and `figures match` with `--workers 2` under the default cap, sampling every
child process (/proc, every 20 ms): its peak data size beyond what it inherited (what the cap counts:
VmData minus its VmData when first seen, within 20 ms of its fork) and its peak resident memory
(VmHWM, pages shared with the command included). Then it
runs the same commands again under a tight cap (`--tight` GiB) and checks each gives the same output.

    .venv/bin/python bench/bench_worker_memory.py [--images 60] [--big 4] [--tight 1] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import tifffile
from click.testing import CliRunner

from emcensus.cli.main import main as cli_main
from emcensus.figures.synth import make_figure_corpus
from emcensus.scan.pool import MEMORY_ENV, worker_memory

MiB = 1 << 20


def status(pid: int | str) -> dict[str, int]:
    """VmData and VmHWM of a process in bytes ({} once it is gone)."""
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return {}
    return {line.split(":")[0]: int(line.split()[1]) * 1024 for line in lines if line.startswith(("VmData", "VmHWM"))}


def children() -> list[int]:
    own = os.getpid()
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat[stat.rindex(")") + 2:].split()[1]) == own:
                found.append(int(entry))
    return found


class Sampler:
    """Peaks of every child of this process while the block runs."""

    def __init__(self) -> None:
        self.peak_growth = self.peak_hwm = 0
        self.first: dict[int, int] = {}  # pid -> VmData when first seen (within 20 ms of its fork): inherited
        self._stop = threading.Event()

    def __enter__(self) -> Sampler:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            for pid in children():
                values = status(pid)
                if values:
                    inherited = self.first.setdefault(pid, values["VmData"])
                    self.peak_growth = max(self.peak_growth, values["VmData"] - inherited)
                    self.peak_hwm = max(self.peak_hwm, values["VmHWM"])


def cpu_s() -> float:
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def run(catalog: Path, *args: str) -> tuple[str, Sampler, float, float]:
    runner = CliRunner()
    with Sampler() as sampler:
        wall, cpu = time.perf_counter(), cpu_s()
        result = runner.invoke(cli_main, ["--catalog", str(catalog), *args], catch_exceptions=False)
        wall, cpu = time.perf_counter() - wall, cpu_s() - cpu
    assert result.exit_code == 0, result.output
    return result.output, sampler, wall, cpu


def steady(output: str) -> str:
    """An output without its timings and temporary paths, to compare two runs."""
    import re
    return re.sub(r"\d+\.\d+ s|/tmp/\S+", "_", output)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=60)
    parser.add_argument("--big", type=int, default=4, help="6144 x 4608 16-bit frames added to the archive")
    parser.add_argument("--tight", type=float, default=1.0, help="GiB: the cap of the second round")
    parser.add_argument("--keep", type=Path)
    args = parser.parse_args()
    base = args.keep or Path(tempfile.mkdtemp(prefix="bench-memory-"))
    archive = base / "archive"
    if not archive.exists():
        make_figure_corpus(base / "out", archive=archive, articles=4, images=args.images, seed=3)
        rng = np.random.default_rng(0)
        for k in range(args.big):
            frame = (rng.random((4608 // 16, 6144 // 16)) * 60000).astype(np.uint16).repeat(16, 0).repeat(16, 1)
            tifffile.imwrite(archive / f"big{k}.tif", frame)
    papers = str(base / "out" / "papers")
    print(f"machine: {os.cpu_count()} cores; default cap per worker of 2: {worker_memory(2) / 2**30:.2f} GiB")
    outputs: dict[str, str] = {}
    for label, cap in (("default cap", None), (f"cap {args.tight:g} GiB", str(args.tight))):
        if cap:
            os.environ[MEMORY_ENV] = cap
        catalog = base / f"c-{len(outputs)}.sqlite"
        print(f"\n{label}")
        print(f"{'command':<16} {'wall s':>7} {'CPU s':>7} {'children':>8} {'peak data beyond inherited':>27} "
              f"{'peak RSS':>9}")
        for name, command in (("scan", ["scan", str(archive), "--instrument", "SU8230", "--workers", "2", "--quiet"]),
                              ("figures index", ["figures", "index", "--workers", "2"]),
                              ("quality", ["quality", "--workers", "2"]),
                              ("reuse export", ["reuse", "export", str(base / "export"), "--license", "CC0-1.0",
                                                "--embargo-years", "0", "--include-published", "--workers", "2"]),
                              ("figures match", ["figures", "match", papers, "--format", "json", "--workers", "2"])):
            if name == "reuse export":
                shutil.rmtree(base / "export", ignore_errors=True)
                os.environ["EMCENSUS_SECRET"] = "bench-secret-bench-secret-bench!"
            output, sampler, wall, cpu = run(catalog, *command)
            print(f"{name:<16} {wall:>7.2f} {cpu:>7.2f} {len(sampler.first):>8} "
                  f"{sampler.peak_growth / MiB:>23.0f} MiB {sampler.peak_hwm / MiB:>5.0f} MiB")
            if name in outputs:
                same = steady(output) == steady(outputs[name])
                print(f"{'':<16} output {'the same' if same else 'DIFFERENT'} as under the default cap")
            else:
                outputs[name] = output
        os.environ.pop(MEMORY_ENV, None)
    if not args.keep:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
