"""What the pages say: units, counts that agree, paging past the end, links, colours, parameters."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from emcensus.analysis.publications import Article
from emcensus.catalog import Catalog
from emcensus.palette import TECHNIQUE_COLOURS
from emcensus.web.app import magnification_decades
from emcensus.web.format import no_file_content, quantity

HTML = {"accept": "text/html"}


@pytest.mark.parametrize("value, name, shown", [
    (1.97331e-09, "pixel_size_m", "1.97 nm"), (0.008, "working_distance_m", "8 mm"),
    (2.54e-06, "fov_width_m", "2.54 µm"), (80000.0, "accelerating_voltage_v", "80 kV"),
    (300.0, "accelerating_voltage_v", "300 V"), (50000.0, "magnification", "×50,000"),
    (1.5, "magnification", "×1.5"), (1280, "width_px", "1,280 px"), (None, "pixel_size_m", "—"),
    (float("inf"), "magnification", "—"), (float("nan"), "pixel_size_m", "—"), ("SE", "detector", "SE"),
])
def test_quantities_read_as_people_write_them(value: object, name: str, shown: str) -> None:
    assert quantity(value, name) == shown


def test_quoted_file_bytes_are_left_out() -> None:
    assert no_file_content("not a TIFF file b'root:x:0:0' (b\"\\x00\\\"x\")") == "not a TIFF file b'…' (b'…')"


def test_image_page_shows_units_not_raw_si_numbers(client: TestClient, image_id: Callable[[str], int]) -> None:
    page = client.get(f"/images/{image_id('img002.tif')}", headers=HTML).text
    cells = dict(re.findall(r"<tr><th>(\w+)</th><td>([^<]*)</td></tr>", page))
    assert cells["accelerating_voltage_v"] == "15 kV" and cells["working_distance_m"] == "8 mm"
    assert cells["pixel_size_m"] == "39.7 nm" and cells["magnification"] == "×50,000"
    assert not re.search(r"\de[-+]\d", page.split("<h2>Sidecar")[0])  # no 3.96875e-08 before the raw texts


def test_overview_charts_use_the_report_palette(client: TestClient) -> None:
    page = client.get("/", headers=HTML).text
    charts = json.loads(re.search(r'<script type="application/json" id="chart-data">(.*?)</script>', page, re.S)[1])
    colours = {trace["name"]: trace["marker"]["color"] for trace in charts["year"]}
    assert colours == {"SEM": TECHNIQUE_COLOURS["SEM"], "STEM": TECHNIQUE_COLOURS["STEM"]}
    assert "acquisitions" in charts["year"][0]["hovertemplate"]


def test_magnification_decades_survive_absurd_values() -> None:
    bars = magnification_decades([{"magnification": 5000.0, "count": 2}, {"magnification": 1e308, "count": 1},
                                  {"magnification": -5.0, "count": 1}, {"magnification": None, "count": 4}])
    assert bars[0]["label"] == "×1k–10k" and bars[0]["count"] == 2
    assert bars[-1] == {"label": None, "count": 6}  # counted as unknown, not dropped and not a 500


def test_a_page_past_the_end_says_so(client: TestClient) -> None:
    page = client.get("/explore?per_page=2&page=99999", headers=HTML)
    assert page.status_code == 200
    assert "Page 99,999 is past the end: there are 3 pages" in page.text
    assert 'href="/explore?per_page=2&amp;page=3"' in page.text and "showing" not in page.text
    last = client.get("/explore?per_page=2&page=3", headers=HTML).text
    assert "showing files 5–6" in last


@pytest.mark.parametrize("url, takes", [
    ("/explore?sort=-magnification", "order"), ("/api/images?sort=size", "order"), ("/api/count?grouped=year", "by"),
    ("/api/images.csv?sort=path", "order"), ("/api/thumbnail/1?size=big", "none"), ("/audit/missing?year=2019", "page"),
    ("/?technique=SEM", "none"),
])
def test_unknown_parameters_are_refused_not_ignored(client: TestClient, url: str, takes: str) -> None:
    response = client.get(url)
    assert response.status_code == 400
    message = response.json()["error"]
    assert "unknown parameter" in message and takes in message.split("it takes")[1]


def test_a_bad_sort_is_a_400_with_a_message(client: TestClient) -> None:
    response = client.get("/explore?order=colour", headers=HTML)
    assert response.status_code == 400 and "cannot sort by colour" in response.text


def test_audit_paths_link_to_image_pages(client: TestClient, image_id: Callable[[str], int]) -> None:
    page = client.get("/audit/no-metadata", headers=HTML).text
    ident = image_id("nosidecar.tif")
    assert re.search(rf'<a href="/images/{ident}">[^<]*nosidecar\.tif</a>', page)
    listed = client.get("/api/audit/no-metadata").json()["items"]
    assert [item["image_id"] for item in listed if item["path"].endswith("nosidecar.tif")] == [ident]


def test_a_favicon_is_served(client: TestClient) -> None:
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.headers["content-type"].startswith("image/svg+xml")
    assert icon.text.lstrip().startswith("<svg")
    assert '<link rel="icon" href="/favicon.ico"' in client.get("/", headers=HTML).text


def test_api_docs_load_nothing_from_a_cdn(client: TestClient) -> None:
    for docs in ("/docs", "/redoc"):
        page = client.get(docs)
        assert page.status_code == 200 and "cdn" not in page.text.lower() and "googleapis" not in page.text
        assert "default-src 'self'" in page.headers["content-security-policy"]
        for asset in re.findall(r'(?:src|href)="(/static/docs/[^"]+)"', page.text):
            assert client.get(asset).status_code == 200, asset


def test_audit_lists_of_several_paths_show_each_path(client: TestClient) -> None:
    page = client.get("/audit/duplicate-exports", headers=HTML).text
    [cell] = re.findall(r"<td>([^<]*img001\.[^<]*)</td>", page)
    assert sorted(Path(p).name for p in cell.split(" · ")) == ["img001.jpg", "img001.tif"] and "[" not in cell


def test_explore_offers_the_kinds_of_file(client: TestClient) -> None:
    page = client.get("/explore", headers=HTML).text
    kinds = re.search(r'<select name="kind">(.*?)</select>', page, re.S)[1]
    assert '<option value="">image (default)</option>' in kinds and '<option value="sidecar-only" ' in kinds
    orphans = client.get("/explore?kind=sidecar-only", headers=HTML).text
    assert "<strong>1</strong> acquisition match" in orphans and "(1 image file with exports)" in orphans
    assert "deleted.txt" in orphans


def test_storage_page_and_api_agree(client: TestClient, catalog_path: Path) -> None:
    data = client.get("/api/storage").json()
    assert set(data) == {"breakdown", "growth", "lost", "costs", "notes"} and data["costs"] == []
    total = data["lost"][-1]
    assert total["technique"] == "TOTAL" and total["published_bytes"] + total["lost_bytes"] > 0
    page = client.get("/storage", headers=HTML).text
    assert "<h1>Storage</h1>" in page and f"{total['lost_gb']:.1f} GB" in page
    assert data["growth"]["model_text"] in page.replace("&#39;", "'")
    assert data["growth"]["assumptions"][0] in page
    assert page.count("<tr><td>") == len(data["lost"]) + len(data["breakdown"]) + len(
        [r for r in data["growth"]["rows"] if r["kind"] != "measured"])
    by_year = client.get("/api/storage", params={"by": "year"}).json()["breakdown"]
    assert sum(row["bytes"] for row in by_year) == sum(row["bytes"] for row in data["breakdown"])
    assert client.get("/api/storage", params={"by": "colour"}).status_code == 400
    # computed again once the catalog changes (a ledger import), not before
    with Catalog(catalog_path) as catalog:
        image = catalog.images(limit=1)[0]
        catalog.save_article(Article("10.1000/new", 2020))
        catalog.link_images("10.1000/new", [image["path"]])
    after = client.get("/api/storage").json()["lost"][-1]
    assert after["published_bytes"] > total["published_bytes"]
