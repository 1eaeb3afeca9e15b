"""Issue 7 item 13 and the CLI leftovers: bad options are one-line errors with a non-zero status,
never a traceback, a wait of 30 s or a silently reused demo; `serve` starts and answers."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner

from emcensus.cli.main import main
from emcensus.errors import ConfigError
from support import fingerprint


def run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def one_line_error(result, status: int = 1) -> str:
    assert result.exit_code == status, result.output
    assert "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error")]
    assert len(errors) == 1, result.output
    return errors[0]


def test_scan_refuses_a_negative_worker_count(tiny_archive: Path, tmp_path: Path) -> None:
    line = one_line_error(run("--catalog", str(tmp_path / "c.sqlite"), "scan", str(tiny_archive), "--workers", "-3"), 2)
    assert "--workers" in line and "-3" in line
    assert not (tmp_path / "c.sqlite").exists()


def test_an_unreachable_dask_scheduler_fails_in_seconds_naming_it(tiny_archive: Path, tmp_path: Path) -> None:
    started = time.monotonic()
    result = run("--catalog", str(tmp_path / "c.sqlite"), "scan", str(tiny_archive),
                 "--dask", "tcp://127.0.0.1:1", "--dask-timeout", "1")
    assert time.monotonic() - started < 8
    assert "tcp://127.0.0.1:1" in one_line_error(result)
    assert "Invalid value" in one_line_error(run("scan", str(tiny_archive), "--dask-timeout", "0"), 2)


@pytest.mark.parametrize("images", ["-5", "0"])
def test_demo_needs_at_least_one_image(images: str, tmp_path: Path) -> None:
    line = one_line_error(run("demo", "--dir", str(tmp_path / "demo"), "--images", images), 2)
    assert "--images" in line and "not a folder" not in line
    assert not (tmp_path / "demo").exists()


def test_a_tiny_demo_runs_and_an_existing_demo_is_never_generated_over(tmp_path: Path) -> None:
    directory = tmp_path / "demo"
    first = run("demo", "--dir", str(directory), "--images", "2")  # fewer images than instruments
    assert first.exit_code == 0, first.output
    assert "Table 1" in first.output and (directory / "report" / "index.html").exists()
    archive = directory / "archive"
    before = fingerprint(archive)
    line = one_line_error(run("demo", "--dir", str(directory), "--images", "50"))
    assert "holds a demo archive of 2 images" in line
    assert "holds a demo archive" in one_line_error(run("demo", "--dir", str(directory), "--seed", "7"))
    again = run("demo", "--dir", str(directory))  # no size asked: the existing demo, as it is
    assert again.exit_code == 0 and "Reusing the sample facility archive of 2 images" in again.output
    assert fingerprint(archive) == before


def test_a_folder_emcensus_did_not_generate_is_not_a_demo(tmp_path: Path) -> None:
    from emcensus.demo.run import demo_archive

    archive = tmp_path / "demo" / "archive"
    (archive / "SU8000").mkdir(parents=True)
    (archive / "SU8000" / "mine.tif").write_bytes(b"user data")
    with pytest.raises(ConfigError, match="not a demo archive emcensus generated"):
        demo_archive(archive, None, None, print)
    assert (archive / "SU8000" / "mine.tif").read_bytes() == b"user data"
    assert sorted(p.name for p in archive.iterdir()) == ["SU8000"]


def test_serve_help_says_what_it_writes() -> None:
    text = run("serve", "--help").output
    assert "Read-only" not in text and "linking images to articles" in text


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_serve_starts_and_answers(cli, tiny_archive: Path, tmp_path: Path) -> None:
    cli("scan", str(tiny_archive), "--instrument", "SU8230", "--workers", "0", "--quiet")
    port = _free_port()
    env = {name: value for name, value in os.environ.items() if name != "EMCENSUS_TOKEN"}
    server = subprocess.Popen(
        [sys.executable, "-m", "emcensus.cli.main", "--catalog", str(tmp_path / "census.sqlite"), "serve",
         "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/count?by=technique", timeout=5) as reply:
                    rows = json.load(reply)
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, server.stdout.read().decode()
                time.sleep(0.2)
        assert sum(row["count"] for row in rows) == 5
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert f"http://127.0.0.1:{port}/" in server.stdout.read().decode()


def test_an_os_error_on_an_output_is_one_line(cli, tiny_archive: Path) -> None:
    """The guard passes (the folder above exists), then the OS refuses to make the folder."""
    cli("scan", str(tiny_archive), "--workers", "0", "--quiet")
    line = one_line_error(cli("report", "/proc/emcensus-report", ok=False))
    assert "/proc/emcensus-report" in line


@pytest.mark.parametrize("limit", ["0", "-3"])
def test_audit_limit_is_a_positive_count(cli, tiny_archive: Path, limit: str) -> None:
    """`LIMIT -3` is no limit at all in SQLite: refused instead of listing everything."""
    cli("scan", str(tiny_archive), "--workers", "0", "--quiet")
    assert "--limit" in one_line_error(cli("audit", "--list", "no-metadata", "--limit", limit, ok=False), 2)


def test_scan_on_a_reachable_dask_scheduler(cli, tiny_archive: Path) -> None:
    """The other side of the timeout: a scheduler that answers gets the census, and is let go after."""
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False, protocol="tcp", host="127.0.0.1",
                                  dashboard_address=":0") as cluster:
        result = cli("scan", str(tiny_archive), "--instrument", "SU8230", "--dask", cluster.scheduler_address,
                     "--dask-timeout", "5")
        assert "6 image files on disk" in result.output
        assert json.loads(cli("count", "--format", "json").output) == [{"count": 5}]
