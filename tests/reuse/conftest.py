"""Reuse-export fixtures: a generated facility archive, censused with a layout, some of it published
and measured, exported through the CLI with the network blocked."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

# `datasets` reads these when imported: never ask the Hub (the tests also block the network)
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest

from emcensus.analysis.publications import Article
from emcensus.catalog import Catalog
from emcensus.demo import generate_archive
from emcensus.scan import RootSpec, scan
from reuse.support_reuse import ARTICLE, SECRET, Census
from support import fingerprint



class NetworkBlocked(OSError):
    pass


@pytest.fixture(scope="session")
def no_network() -> Iterator[None]:
    """Every connection to a non-loopback address fails, as on an isolated facility network."""
    real_connect = socket.socket.connect

    def connect(self: socket.socket, address) -> None:
        host = address[0] if isinstance(address, tuple) else address
        if self.family in (socket.AF_INET, socket.AF_INET6) and host not in ("127.0.0.1", "::1", "localhost"):
            raise NetworkBlocked(f"network blocked in tests: {address}")
        return real_connect(self, address)

    socket.socket.connect = connect  # type: ignore[method-assign]
    try:
        yield
    finally:
        socket.socket.connect = real_connect  # type: ignore[method-assign]


@pytest.fixture(scope="session")
def census(tmp_path_factory: pytest.TempPathFactory, no_network: None) -> Census:
    """150 acquisitions over 2011–2023 in three roots with `{group}/{project}/**`; 3 of them published,
    2 measured blank, a few measured with a duplicate group; the rest not measured."""
    base = tmp_path_factory.mktemp("reuse")
    manifest = generate_archive(base / "archive", 150, seed=7)
    catalog_path = base / "census.sqlite"
    with Catalog(catalog_path) as catalog:
        scan(catalog, [RootSpec(str(root), root.name, None, None, None, "{group}/{project}/**")
                       for root in manifest.roots()], workers=0)
        rows = catalog.images(order="path")
        primaries = [row for row in rows if row["is_primary"] and row["group_name"]]
        published = [row["path"] for row in primaries[:3]]
        catalog.save_article(Article(ARTICLE, 2020, "A test article"))
        catalog.link_images(ARTICLE, published)
        measured = primaries[3:9]
        # measured by hand through the quality engineer's catalog methods (`emcensus quality` on this
        # generated archive finds near-duplicates everywhere: its frames share a few pixel buffers)
        catalog.save_quality([{"image_id": row["id"], "size_bytes": row["size_bytes"], "mtime_ns": row["mtime_ns"],
                               "blank": int(index < 2), "sharpness": 10.0 + index, "snr": 5.0}
                              for index, row in enumerate(measured)], version=1)
        catalog.set_quality_relative({row["id"]: {
            "sharpness_pct": 100.0 - 10 * index, "quality_flag": "blank" if index < 2 else "ok",
            "dup_group": measured[4]["id"] if index >= 4 else None} for index, row in enumerate(measured)})
    secret_file = base / "secret.txt"
    secret_file.write_text(SECRET + "\n")
    return Census(base / "archive", manifest, catalog_path, secret_file, published,
                  [row["id"] for row in measured[:2]], fingerprint(base / "archive"))


@pytest.fixture(scope="session")
def exported(census: Census, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default export (folder format) of the census, through the CLI."""
    out = tmp_path_factory.mktemp("exports") / "dataset"
    result = census.invoke("reuse", "export", str(out), "--license", "CC-BY-4.0", "--secret-file",
                           str(census.secret_file), "--workers", "0")
    assert "exported" in result.output
    return out
