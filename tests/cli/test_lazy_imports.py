"""A command pays for the modules it uses: `emcensus count` and a no-change rescan do not load numpy,
pyarrow, tifffile or the exporters, and the public names are still there when asked for."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HEAVY = ("numpy", "pyarrow", "tifffile", "emcensus.reuse.export", "emcensus.analysis.topics", "bibtexparser", "rispy")
#: A rescan prints one line: it needs no table or progress bar either.
HEAVY_FOR_A_RESCAN = (*HEAVY, "rich")

#: Runs the CLI in a fresh interpreter, then prints which heavy modules it loaded.
_RUN = ("import sys; from emcensus.cli.main import main\n"
        "try:\n    main(sys.argv[1:], standalone_mode=False)\n"
        "finally:\n    print('LOADED', [m for m in {heavy!r} if m in sys.modules])\n")


def _loaded(*args: str, heavy: tuple[str, ...] = HEAVY) -> tuple[str, str]:
    done = subprocess.run([sys.executable, "-c", _RUN.format(heavy=heavy), *args],
                          capture_output=True, text=True, timeout=120, check=True)
    return done.stdout, done.stdout.rsplit("LOADED", 1)[1].strip()


def test_count_and_a_rescan_load_no_heavy_module(census, tmp_path: Path, tiny_archive: Path) -> None:
    catalog = str(tmp_path / "census.sqlite")
    output, loaded = _loaded("--catalog", catalog, "count", "--by", "year")
    assert "2016" in output and loaded == "[]"
    output, loaded = _loaded("--catalog", catalog, "scan", "--workers", "0", str(tiny_archive),
                             heavy=HEAVY_FOR_A_RESCAN)
    assert "unchanged" in output and loaded == "[]", output


def test_commands_of_other_modules_are_listed_and_run(census) -> None:
    """Named in the help without being imported, imported when run."""
    reply = census("--help")
    for name in ("pubs", "table1", "lost", "report", "figures", "storage", "watch", "reuse", "quality", "serve"):
        assert f"  {name} " in reply.output
    assert "Usage: emcensus pubs" in census("pubs", "--help").output.replace("main pubs", "emcensus pubs")
    assert census("storage").output.strip()


def test_the_public_api_is_whole_when_imported_lazily() -> None:
    code = ("import emcensus, emcensus.analysis as a; from emcensus import read_metadata, ImageRecord; "
            "from emcensus.analysis import format_length, compute_table1; "
            "assert emcensus.read_metadata is read_metadata and callable(a.fit_growth); "
            "assert sorted(emcensus.__all__) == sorted(n for n in emcensus.__all__ if getattr(emcensus, n, None) is not None); "
            "assert all(getattr(a, n) is not None for n in a.__all__); print(format_length(1.5e-6))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "µm" in done.stdout
