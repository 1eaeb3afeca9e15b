"""The JSON API and pages, through FastAPI's TestClient: answers, bad input, errors."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from emcensus.analysis.publications import Article
from emcensus.catalog import Catalog, display_path
from emcensus.errors import CatalogError
from emcensus.scan import RootSpec, scan
from emcensus.web import create_app
from support import fingerprint, hitachi_sidecar, write_tiff

HTML = {"accept": "text/html"}


def test_count_groups_and_filters(client: TestClient) -> None:
    rows = client.get("/api/count", params={"by": "year,technique"}).json()
    counts = {(r["year"], r["technique"]): r["count"] for r in rows}
    assert counts[2016, "SEM"] == 2 and counts[2019, "STEM"] == 2  # TE on an SEM is STEM
    assert sum(counts.values()) == 5  # nosidecar.tif: SEM, dated by its file time
    assert client.get("/api/count", params={"year": "2019", "detector": "TE"}).json() == [{"count": 1}]
    assert client.get("/api/count", params={"files": "true"}).json() == [{"count": 6}]
    assert client.get("/api/count", params={"magnification": "40000-250000", "by": "detector"}).json() == [
        {"detector": "DF-STEM", "count": 1}, {"detector": "LA-BSE", "count": 1}, {"detector": "TE", "count": 1}]


@pytest.mark.parametrize("params, words", [
    ({"by": "colour"}, "cannot group by colour"),
    ({"year": "twenty"}, "year"),
    ({"since": "abc"}, "since"),
    ({"magnification": "big"}, "magnification"),
    ({"root": "/elsewhere"}, "not a scan root"),
    ({"files": "maybe"}, "files"),
])
def test_count_bad_parameters_are_400_with_a_message(client: TestClient, params: dict, words: str) -> None:
    response = client.get("/api/count", params=params)
    assert response.status_code == 400
    assert words in response.json()["error"]
    assert "Traceback" not in response.text


def test_images_paged_sorted_and_filtered(client: TestClient) -> None:
    page = client.get("/api/images", params={"limit": 2, "offset": 0, "order": "-magnification"}).json()
    assert page["total"] == 6 and len(page["items"]) == 2
    assert page["items"][0]["magnification"] == 200000
    rest = client.get("/api/images", params={"limit": 100, "offset": 2, "order": "-magnification"}).json()["items"]
    assert len(rest) == 4 and page["items"][0]["id"] not in {r["id"] for r in rest}
    stem = client.get("/api/images", params={"technique": "STEM", "detector": "TE"}).json()
    assert stem["total"] == 1 and stem["items"][0]["rel_path"].endswith("img003.tif")
    assert "mtime_ns" not in stem["items"][0]  # bookkeeping columns stay inside


@pytest.mark.parametrize("params", [{"order": "colour"}, {"limit": 0}, {"limit": 100000}, {"offset": -1}])
def test_images_bad_parameters(client: TestClient, params: dict) -> None:
    response = client.get("/api/images", params=params)
    assert response.status_code == 400 and response.json()["error"]


def test_csv_download_follows_the_filter(client: TestClient) -> None:
    response = client.get("/api/images.csv", params={"year": "2016"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    lines = response.text.strip().splitlines()
    assert lines[0].startswith("id,path,")
    assert len(lines) == 1 + 3  # img001.tif, img001.jpg, img002.tif
    assert client.get("/api/images.csv", params={"order": "nope"}).status_code == 400


def test_image_detail_sidecar_and_neighbours(client: TestClient, image_id: Callable[[str], int]) -> None:
    ident = image_id("img002.tif")
    detail = client.get(f"/api/images/{ident}").json()
    assert detail["record"]["detector_family"] == "LA-BSE"
    assert detail["original_metadata"]  # the vendor's own keys, as read
    sidecar = client.get(f"/api/images/{ident}/sidecar").json()
    assert "SignalName=LA-BSE(U)" in sidecar["text"]  # a UTF-16 sidecar, decoded
    cp932 = client.get(f"/api/images/{image_id('img003.tif')}/sidecar").json()
    assert "SignalName=TE" in cp932["text"]
    assert client.get(f"/api/images/{image_id('nosidecar.tif')}/sidecar").json()["text"] is None
    names = [Path(r["path"]).name for r in client.get(f"/api/images/{ident}/neighbours").json()]
    assert names == ["img001.jpg", "img001.tif", "img002.tif"]


def test_unknown_and_malformed_ids(client: TestClient) -> None:
    assert client.get("/api/images/99999").status_code == 404
    assert "no image with id 99999" in client.get("/api/images/99999").json()["error"]
    assert client.get("/api/images/abc").status_code == 400
    page = client.get("/images/99999", headers=HTML)
    assert page.status_code == 404 and "text/html" in page.headers["content-type"]
    assert "no image with id 99999" in page.text and "Traceback" not in page.text
    assert client.get("/no/such/page", headers=HTML).status_code == 404


def test_thumbnails_cached_beside_the_catalog_never_in_the_archive(client: TestClient, catalog_path: Path,
                                                                  image_id: Callable[[str], int],
                                                                  tiny_archive: Path) -> None:
    before = fingerprint(tiny_archive)
    for name in ("img001.tif", "img001.jpg"):
        response = client.get(f"/api/thumbnail/{image_id(name)}")
        assert response.status_code == 200 and response.headers["content-type"] == "image/png"
        assert response.content.startswith(b"\x89PNG")
    assert len(list(Path(f"{catalog_path}.thumbs").glob("*.png"))) == 2
    assert fingerprint(tiny_archive) == before


def test_audit_lists(client: TestClient) -> None:
    summary = client.get("/api/audit").json()
    assert summary["totals"] == {"image_files": 6, "acquisitions": 5}
    assert summary["lists"]["orphan-sidecars"]["count"] == 1
    orphans = client.get("/api/audit/orphan-sidecars").json()
    assert orphans["items"][0]["path"].endswith("deleted.txt") and orphans["more"] is False
    first = client.get("/api/audit/duplicate-exports", params={"limit": 1}).json()
    assert len(first["items"]) == 1 and first["more"] is False
    assert client.get("/api/audit/nonsense").status_code == 404
    assert client.get("/audit/nonsense", headers=HTML).status_code == 404
    assert client.get("/api/audit/missing", params={"limit": 0}).status_code == 400


@pytest.mark.parametrize("url", ["/", "/explore", "/explore?year=2019&technique=STEM&order=-acquired_at", "/audit",
                                 "/audit/orphan-sidecars", "/audit/no-metadata?page=2"])
def test_pages_render(client: TestClient, url: str) -> None:
    response = client.get(url, headers=HTML)
    assert response.status_code == 200 and "<nav" in response.text


def test_explore_shows_the_filtered_images_and_keeps_the_filter_in_links(client: TestClient) -> None:
    page = client.get("/explore?technique=SEM&per_page=1", headers=HTML).text
    # The Overview's bars count acquisitions: Explore leads with the same number, then the files it lists.
    assert "<strong>3</strong> acquisitions match" in page and "(4 image files with exports)" in page
    assert 'href="/explore?technique=SEM&amp;per_page=1&amp;page=2"' in page
    assert 'href="/api/images.csv?technique=SEM&amp;order=path"' in page
    assert client.get("/explore?year=soon", headers=HTML).status_code == 400


def test_image_page(client: TestClient, image_id: Callable[[str], int]) -> None:
    ident = image_id("img003.tif")
    page = client.get(f"/images/{ident}", headers=HTML).text
    assert "SignalName=TE" in page and "&#34;SemImageFile&#34;" in page and f"/api/thumbnail/{ident}" in page


def test_static_assets_served_from_the_package(client: TestClient) -> None:
    plotly_js = client.get("/static/plotly.min.js")
    assert plotly_js.status_code == 200 and len(plotly_js.content) > 1_000_000
    assert client.get("/static/app.js").status_code == 200
    assert "cdn" not in client.get("/", headers=HTML).text.lower()


def test_openapi_documents_every_endpoint_and_the_filters(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    for path in ("/api/count", "/api/images", "/api/images.csv", "/api/images/{image_id}", "/api/thumbnail/{image_id}",
                 "/api/audit", "/api/audit/{kind}", "/api/roots"):
        assert path in spec["paths"], path
    parameters = {p["name"] for p in spec["paths"]["/api/count"]["get"]["parameters"]}
    assert {"by", "year", "instrument", "technique", "detector", "magnification", "root", "path"} <= parameters
    assert client.get("/docs").status_code == 200


def test_answers_while_a_scan_holds_a_write_transaction(client: TestClient, catalog_path: Path) -> None:
    writer = sqlite3.connect(catalog_path)
    try:
        writer.execute("BEGIN IMMEDIATE")
        writer.execute("UPDATE images SET instrument = 'renamed'")
        assert client.get("/api/count", params={"instrument": "SU8230"}).json() == [{"count": 5}]
    finally:
        writer.rollback()
        writer.close()


def test_missing_catalog_is_refused_at_start(tmp_path: Path) -> None:
    with pytest.raises(CatalogError):
        create_app(tmp_path / "none.sqlite")


def test_images_with_names_that_are_not_utf8_are_served_and_linked(tiny_archive: Path, tmp_path: Path) -> None:
    # A Latin-1 name from a Windows share: bytes that are no UTF-8; Python gives them as surrogates.
    folder = tiny_archive / "groupA/p1/2016-06-23"
    stem = os.fsdecode(b"Gr\xf6\xdfe")
    write_tiff(folder / f"{stem}.tif", seed=3)
    (folder / f"{stem}.txt").write_bytes(hitachi_sidecar(20000, "SE(U)").encode("cp1252"))
    catalog_path = tmp_path / "latin1.sqlite"
    with Catalog(catalog_path) as catalog:
        scan(catalog, [RootSpec(str(tiny_archive), "SU8230")], workers=0)
    client = TestClient(create_app(catalog_path), raise_server_exceptions=False)
    items = client.get("/api/images", params={"limit": 1000}).json()["items"]
    [row] = [r for r in items if display_path(r["path"]).endswith("Gr\ufffd\ufffde.tif")]
    ident = row["id"]
    thumb = client.get(f"/api/thumbnail/{ident}")
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/png"
    assert "SignalName=SE(U)" in client.get(f"/api/images/{ident}/sidecar").json()["text"]
    detail = client.get(f"/api/images/{ident}")
    assert detail.status_code == 200 and detail.json()["record"]["magnification"] == 20000
    page = client.get(f"/images/{ident}", headers=HTML)
    assert page.status_code == 200 and "Gr\ufffd\ufffde.tif" in page.text and "SignalName=SE(U)" in page.text
    grid = client.get("/explore", params={"year": "2016"}, headers=HTML).text
    assert f'href="/images/{ident}"' in grid and "Gr\ufffd\ufffde.tif" in grid
    assert client.get("/api/images.csv").status_code == 200
    with Catalog(catalog_path) as catalog:
        catalog.save_article(Article("10.1000/latin1", year=2017))
    client.get("/")
    csrf = client.cookies["emcensus_csrf"]
    linked = client.post(f"/api/images/{ident}/articles", json={"article": "10.1000/latin1"}, headers={"X-CSRF-Token": csrf})
    assert linked.status_code == 200 and linked.json()["changed"] == 1
    assert client.get(f"/api/images/{ident}").json()["published_in"][0]["id"] == "10.1000/latin1"


def test_a_sidecar_whose_image_is_gone_shows_its_text(client: TestClient) -> None:
    # An orphan sidecar: catalogued as an acquisition without an image file.
    [row] = client.get("/api/images", params={"path": "*/deleted.txt", "kind": "sidecar-only"}).json()["items"]
    ident = row["id"]
    assert client.get(f"/api/images/{ident}").json()["image"]["kind"] == "sidecar-only"
    sidecar = client.get(f"/api/images/{ident}/sidecar").json()
    assert sidecar["path"].endswith("deleted.txt") and "SignalName=SE(L)" in sidecar["text"]
    assert "SignalName=SE(L)" in client.get(f"/images/{ident}", headers=HTML).text
    thumb = client.get(f"/api/thumbnail/{ident}")
    assert thumb.status_code == 200 and "image file is gone" in thumb.headers["x-emcensus-no-preview"]


@pytest.mark.parametrize("order", ["instrument", "-detector", "year", "-technique"])
def test_images_in_the_order_of_a_value_a_cube_counts_come_page_by_page_as_sorted(
        client: TestClient, catalog_path: Path, order: str) -> None:
    """Pages read within the value holding them (`window_of_page`) are the pages of the whole order."""
    column = {"detector": "detector_family"}.get(order.lstrip("-"), order.lstrip("-"))
    direction = "DESC" if order.startswith("-") else "ASC"
    with sqlite3.connect(catalog_path) as db:
        expected = [row[0] for row in db.execute(f"""SELECT id FROM images WHERE readable = 1 AND status = 'present'
            AND kind = 'image' ORDER BY {column} {direction}, id {direction}""")]
    paged = [item["id"] for offset in range(0, len(expected) + 2, 2)
             for item in client.get("/api/images", params={"limit": 2, "offset": offset, "order": order}).json()["items"]]
    assert paged == expected and len(expected) > 2


def test_the_overview_and_explore_count_as_the_api(client: TestClient) -> None:
    """The Overview's totals and Explore's choices come from one cube read (`count_several`)."""
    acquisitions = client.get("/api/count").json()[0]["count"]
    files = client.get("/api/count", params={"files": "true"}).json()[0]["count"]
    page = client.get("/", headers=HTML).text
    assert f'<span class="num">{acquisitions:,}</span><span>images acquired' in page and acquisitions != files
    assert f'<span class="num">{files:,}</span><span>image files' in page
    explore = client.get("/explore", headers=HTML).text
    for row in client.get("/api/count", params={"by": "detector"}).json():
        assert row["detector"] is None or f'value="{row["detector"]}"' in explore
