"""A catalog of the tiny archive, and a test client over it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from emcensus.analysis.publications import Article
from emcensus.catalog import Catalog
from emcensus.scan import RootSpec, scan
from emcensus.web import create_app


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
