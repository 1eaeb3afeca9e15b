"""The quality columns in the dashboard: Explore filters and sorts on them (API, page, CSV), the
Image page shows an image's duplicate group; one Chromium check of the Explore form."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from emcensus.quality.runner import update_quality
from quality.quality_support import DuplicateArchive, build_duplicate_archive


@pytest.fixture
def archive(tmp_path: Path) -> Iterator[DuplicateArchive]:
    built = build_duplicate_archive(tmp_path)
    update_quality(built.catalog, workers=0)
    yield built
    built.catalog.close()


@pytest.fixture
def catalog_path(archive: DuplicateArchive) -> Path:
    """The web fixtures (client, server, page) over the measured archive."""
    return archive.catalog.path


def test_explore_api_filters_and_sorts_on_quality(client: TestClient, archive: DuplicateArchive) -> None:
    items = client.get("/api/images", params={"blank": "no", "order": "-sharpness_pct", "limit": 100}).json()["items"]
    ranked = [item["sharpness_pct"] for item in items if item["sharpness_pct"] is not None]
    assert len(ranked) >= 10 and ranked == sorted(ranked, reverse=True)
    assert len(items) == 17 and all(item["blank"] == 0 for item in items)
    sharp = client.get("/api/images", params={"sharpness_pct": "50-100"}).json()
    assert sharp["total"] == len(sharp["items"]) > 0 and all(item["sharpness_pct"] >= 50 for item in sharp["items"])
    by_flag = client.get("/api/count", params={"by": "quality_flag", "files": "true"}).json()
    assert sum(row["count"] for row in by_flag) == 17
    refused = client.get("/api/images", params={"sharpness_pct": "120"})
    assert refused.status_code == 400 and "not a percentile" in refused.json()["error"]
    rows = list(csv.DictReader(io.StringIO(client.get("/api/images.csv", params={"order": "dup_group"}).text)))
    assert {"quality_flag", "sharpness_pct", "blank", "snr", "resolution_m", "dup_group"} <= set(rows[0])
    assert sum(1 for row in rows if row["dup_group"]) == 5


def test_image_page_shows_the_duplicate_group(client: TestClient, archive: DuplicateArchive) -> None:
    frame_id = archive.id_of(archive.frame_files[0])
    quality = client.get(f"/api/images/{frame_id}").json()["quality"]
    others = {archive.id_of(path) for path in [*archive.frame_files[1:], archive.repeat]}
    assert {row["id"] for row in quality["duplicates"]} == others
    page = client.get(f"/images/{frame_id}", headers={"accept": "text/html"}).text
    assert f"Near-duplicate group {quality['dup_group']}" in page
    assert all(f'href="/images/{other}"' in page for other in others)
    lone = client.get(f"/images/{archive.id_of(archive.others[0])}", headers={"accept": "text/html"}).text
    assert "No near-duplicate in the catalog" in lone and "sharpness percentile" in lone


@pytest.mark.browser
def test_explore_form_filters_on_a_quality_flag_and_sorts_by_sharpness(server: str, page) -> None:  # type: ignore[no-untyped-def]
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(server + "/explore")
    page.select_option("select[name=quality_flag]", "ok")
    page.select_option("select[name=blank]", "no")
    page.select_option("select[name=order]", "-sharpness_pct")
    page.click("button[type=submit]")
    page.wait_for_url("**/explore?**")
    assert "quality_flag=ok" in page.url and "order=-sharpness_pct" in page.url
    labels = page.locator(".grid .meta.quality").all_inner_texts()
    assert labels and all(label.startswith("ok") for label in labels)
    percentiles = [float(label.split("sharpness ")[1].split("th")[0]) for label in labels]
    assert percentiles == sorted(percentiles, reverse=True)
    assert errors == []
