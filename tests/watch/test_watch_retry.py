"""`watch` tells of the files it could not read for a limit of the reading (memory cap, time budget, a worker
that died), as `scan`'s summary does, and `watch --retry-unread` reads them again once, at its first sweep,
after the limit is raised: never at every cycle (a file meeting the limit again would be read forever).
Real DM3 files read by a real capped worker, through the CLI."""

from __future__ import annotations

from pathlib import Path

from emcensus.catalog import Catalog
from emcensus.scan.pool import MEMORY_ENV
from scan.test_retry_unread import RAISED_CAP, SMALL_CAP, _errors, archive  # noqa: F401 - `archive`: the fixture
from support import catalog_cli


def _cycles(output: str) -> list[str]:
    return [line for line in output.splitlines() if " cycle " in line]


def test_the_cycle_line_tells_of_the_retry_and_a_watch_given_it_reads_them_again_once(
        archive: Path, tmp_path: Path) -> None:  # noqa: F811 - the fixture
    cli = catalog_cli(tmp_path / "c.sqlite")
    watch = ("watch", str(archive), "--workers", "1", "--interval", "0.05", "--quiet")
    first = _cycles(cli(*watch, "--cycles", "2", env={MEMORY_ENV: SMALL_CAP}).output)
    assert "4 file(s) read" in first[1] and "4 unreadable (1 not read for a limit of this run" in first[1]
    assert "--retry-unread reads them again" in first[1] and "--retry-unread" not in first[0]
    with Catalog(tmp_path / "c.sqlite") as catalog:
        refused = _errors(catalog)
    assert refused["whole.dm3"].startswith("needs more memory")

    plain = _cycles(cli(*watch, "--once", env={MEMORY_ENV: RAISED_CAP}).output)  # unchanged: nothing read
    assert all(" 0 file(s) read" in line for line in plain)

    retried = _cycles(cli(*watch, "--cycles", "3", "--retry-unread", env={MEMORY_ENV: RAISED_CAP}).output)
    assert [line.split(", ")[1] for line in retried] == ["1 file(s) read", "0 file(s) read", "0 file(s) read"]
    assert "--retry-unread" not in "".join(retried)
    with Catalog(tmp_path / "c.sqlite") as catalog:
        after = _errors(catalog)
    assert after == {**refused, "whole.dm3": "DM file holds no image (only a thumbnail or nothing)"}

    again = _cycles(cli(*watch, "--once", "--retry-unread", env={MEMORY_ENV: RAISED_CAP}).output)
    assert all(" 0 file(s) read" in line for line in again)  # nothing left for a limit


def test_a_file_refused_again_at_the_retry_is_not_read_at_every_cycle(
        archive: Path, tmp_path: Path) -> None:  # noqa: F811 - the fixture
    """The limit not raised: the retry meets it again at the first sweep, says so, and stops there."""
    cli = catalog_cli(tmp_path / "c.sqlite")
    watch = ("watch", str(archive), "--workers", "1", "--interval", "0.05", "--quiet")
    cli(*watch, "--cycles", "2", env={MEMORY_ENV: SMALL_CAP})
    retried = _cycles(cli(*watch, "--cycles", "3", "--retry-unread", env={MEMORY_ENV: SMALL_CAP}).output)
    assert "1 file(s) read" in retried[0] and "1 not read for a limit of this run" in retried[0]
    assert [line.split(", ")[1] for line in retried[1:]] == ["0 file(s) read", "0 file(s) read"]


def test_a_cap_too_small_to_start_a_reader_is_the_watch_s_one_line(tiny_archive: Path, tmp_path: Path) -> None:
    """Refused before it says it watches (was: "watching 1 root(s)..." and then the error)."""
    result = catalog_cli(tmp_path / "c.sqlite")("watch", str(tiny_archive), "--once", ok=False, env={MEMORY_ENV: "0.1"})
    assert result.exit_code == 1 and result.output.strip().splitlines() == [
        f"Error: ${MEMORY_ENV}='0.1' is less than a reading process needs to start (0.125 GiB): give at least that, "
        "or off"]
