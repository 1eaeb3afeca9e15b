"""The storage page's summary is kept while the catalog is unchanged, under the catalog's own cache
rule (`file_stamp`, and only once the files settled): a write is seen at the next visit."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from emcensus.analysis.publications import Article
from emcensus.catalog import Catalog
from emcensus.web import app as web_app


def _age(catalog_path: Path, seconds: float) -> None:
    """Date the catalog's files `seconds` back, as if the last write were that long ago."""
    for name in (str(catalog_path), f"{catalog_path}-wal"):
        if os.path.exists(name):
            info = os.stat(name)
            os.utime(name, ns=(info.st_atime_ns, info.st_mtime_ns - int(seconds * 1e9)))


@pytest.fixture
def computed(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, ...]]:
    """The groupings `catalog_storage` was really run for (it still runs)."""
    calls: list[tuple[str, ...]] = []
    real = web_app.catalog_storage

    def counting(catalog, by):  # type: ignore[no-untyped-def]
        calls.append(tuple(by))
        return real(catalog, by=by)

    monkeypatch.setattr(web_app, "catalog_storage", counting)
    return calls


def test_kept_while_unchanged_and_computed_again_after_a_write(client: TestClient, catalog_path: Path,
                                                               computed: list[tuple[str, ...]]) -> None:
    _age(catalog_path, 60)
    first = client.get("/api/storage").json()
    assert client.get("/api/storage").json() == first and len(computed) == 1  # unchanged: kept
    client.get("/api/storage", params={"by": "year"})
    assert len(computed) == 2  # another grouping is another summary

    with Catalog(catalog_path) as catalog:  # a ledger import: the catalog changes
        catalog.save_article(Article("10.1000/new", 2020))
        catalog.link_images("10.1000/new", [catalog.images(limit=1)[0]["path"]])
    fresh = client.get("/api/storage").json()
    assert len(computed) == 3 and fresh["lost"][-1]["published_bytes"] > first["lost"][-1]["published_bytes"]


def test_not_kept_while_the_catalog_was_just_written(client: TestClient, catalog_path: Path,
                                                     computed: list[tuple[str, ...]]) -> None:
    os.utime(catalog_path)  # written now: a second write in the same mtime tick could leave the same stamp
    client.get("/api/storage")
    client.get("/api/storage")
    assert len(computed) == 2


def test_computed_again_in_a_new_year(client: TestClient, catalog_path: Path, computed: list[tuple[str, ...]],
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """The growth fit leaves out the current year: a summary kept from last year would leave out a
    year that is now complete, although the catalog did not change."""
    _age(catalog_path, 60)
    client.get("/api/storage")
    client.get("/api/storage")
    assert len(computed) == 1

    class NextYear(date):
        @classmethod
        def today(cls) -> date:
            return date(date.today().year + 1, 1, 1)

    monkeypatch.setattr(web_app, "date", NextYear)
    client.get("/api/storage")
    assert len(computed) == 2
