"""What reading documents in a process of their own costs `figures match --workers` (issue 8): the
figures and panel boxes of a generated thesis (an image, a caption and body text on every page), read
in this process and through `scan.pool.Producer` (a forked reader, each figure pickled through a pipe),
alternated, best of `--rounds` each. Prints ms per page, wall and CPU (this process + its children),
and the reader's overhead per page and per figure's megabyte.

    .venv/bin/python bench/bench_document_reader.py [--pages 200] [--rounds 2]
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

from bench_documents import thesis
from emcensus.figures.match import DOCUMENT_WAIT_S, _document_steps
from emcensus.scan.pool import Producer


def cpu_s() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def read(path: Path, reader: Producer | None) -> tuple[float, float, int, int]:
    """Wall s, CPU s, figures and pixel bytes of reading `path` (the reader process ended and reaped)."""
    wall, cpu = time.perf_counter(), cpu_s()
    steps = list(_document_steps(path) if reader is None else reader.items(path))
    if reader is not None:
        reader.close()  # reaped: its CPU is counted among the children
    figures = [step[0] for step in steps if not isinstance(step, list)]
    return time.perf_counter() - wall, cpu_s() - cpu, len(figures), sum(f.pixels.nbytes for f in figures)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder, "thesis.pdf")
        thesis(path, args.pages)
        best: dict[str, tuple[float, float]] = {}
        for _ in range(args.rounds):
            for how in ("in process", "reader process"):
                wall, cpu, figures, size = read(path, None if how == "in process" else Producer(_document_steps,
                                                                                              DOCUMENT_WAIT_S))
                assert figures == args.pages, figures
                previous = best.get(how, (float("inf"), float("inf")))
                best[how] = (min(previous[0], wall), min(previous[1], cpu))
    for how, (wall, cpu) in best.items():
        print(f"{how:15s} {1000 * wall / args.pages:7.2f} ms/page wall  {1000 * cpu / args.pages:7.2f} ms/page CPU")
    extra_wall = best["reader process"][0] - best["in process"][0]
    extra_cpu = best["reader process"][1] - best["in process"][1]
    print(f"reader overhead: {1000 * extra_wall / args.pages:+.2f} ms/page wall, {1000 * extra_cpu / args.pages:+.2f} "
          f"ms/page CPU ({size / figures / 1e6:.2f} MB of pixels a figure; {args.pages} pages, best of {args.rounds})")


if __name__ == "__main__":
    main()
