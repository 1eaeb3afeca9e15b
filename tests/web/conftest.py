"""A catalog of the tiny archive, a test client over it, and a real server with a Chromium page for browser tests."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import uvicorn
from fastapi.testclient import TestClient

from emcensus.analysis.publications import Article
from emcensus.catalog import Catalog
from emcensus.scan import RootSpec, scan
from emcensus.web import create_app
from support import CHROMIUM


@pytest.fixture
def catalog_path(tiny_archive: Path, tmp_path: Path) -> Path:
    path = tmp_path / "catalogs" / "emcensus.sqlite"
    path.parent.mkdir()
    with Catalog(path) as catalog:
        scan(catalog, [RootSpec(str(tiny_archive), "SU8230")], workers=0)
    return path


@pytest.fixture
def client(catalog_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(catalog_path), raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def image_id(client: TestClient) -> Callable[[str], int]:
    """Catalog id of the file whose path ends with a name."""
    def find(name: str) -> int:
        items = client.get("/api/images", params={"path": f"*/{name}"}).json()["items"]
        assert len(items) == 1, items
        return items[0]["id"]
    return find


@pytest.fixture
def article(catalog_path: Path) -> str:
    """A facility article in the catalog, with no image linked yet."""
    with Catalog(catalog_path) as catalog:
        catalog.save_article(Article("10.1000/demo", year=2017, title="Particles on graphite"))
    return "10.1000/demo"


@pytest.fixture
def server(catalog_path: Path) -> Iterator[str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(create_app(catalog_path), host="127.0.0.1", port=port, log_level="warning")
    instance = uvicorn.Server(config)
    thread = threading.Thread(target=instance.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not instance.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    instance.should_exit = True
    thread.join(10)


@pytest.fixture
def page(server: str) -> Iterator[object]:
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run"])
        try:
            yield browser.new_page(viewport={"width": 1280, "height": 900})
        finally:
            browser.close()
