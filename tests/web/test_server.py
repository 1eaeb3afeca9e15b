"""A real uvicorn server under requests for files that have become FIFOs: it keeps answering, and stops on SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

SERVE = ("import sys, uvicorn; from emcensus.web import create_app; "
         "uvicorn.run(create_app(sys.argv[1]), host='127.0.0.1', port=int(sys.argv[2]), log_level='warning')")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_fifos_do_not_stall_the_server_and_sigterm_stops_it(catalog_path: Path, tiny_archive: Path,
                                                           image_id: Callable[[str], int]) -> None:
    # Once: every request for such a file hung, at 40 the thread pool was full and SIGTERM was ignored.
    folder = tiny_archive / "groupA/p1/2016-06-23"
    ident = image_id("img002.tif")
    for name in ("img002.tif", "img002.txt"):
        (folder / name).unlink()
        os.mkfifo(folder / name)
    port = free_port()
    server = subprocess.Popen([sys.executable, "-c", SERVE, str(catalog_path), str(port)])
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(base + "/api/roots", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and server.poll() is None, "the server did not start"
                time.sleep(0.1)
        urls = [f"{base}{path}" for path in (f"/api/thumbnail/{ident}", f"/api/images/{ident}/sidecar",
                                             f"/images/{ident}") for _ in range(20)]
        started = time.monotonic()
        with ThreadPoolExecutor(len(urls)) as pool:
            statuses = list(pool.map(lambda url: _status(url), urls))
        assert statuses == [200] * len(urls), statuses
        assert time.monotonic() - started < 20
        assert httpx.get(base + "/api/count", timeout=5).json() == [{"count": 5}]
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=15) is not None
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()


def _status(url: str) -> int | str:
    try:
        return httpx.get(url, timeout=20).status_code
    except httpx.TimeoutException:
        return "hung"
