"""The review page of figure matches, on a real catalog: a scanned Hitachi archive, its visual
index, and matches proposed by `figures match` from a real matplotlib PDF and a PNG figure."""

from __future__ import annotations

import io
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from emcensus.catalog import Catalog
from emcensus.figures.documents import FigureImage
from emcensus.figures.panels import split_panels
from emcensus.web import review
from emcensus.web.review import cut_panel
from emcensus.web import create_app
from figures.match_support import area_of, build_archive, figure_pdf, publish
from support import catalog_cli, fingerprint
from support import CHROMIUM

DOI = "10.1234/review.1"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Scanned, indexed, matched once for the module; each test gets its own copy of the catalog."""
    base = tmp_path_factory.mktemp("review")
    root = base / "archive" / "SU8230"
    paths = build_archive(root)
    papers = base / "papers"
    papers.mkdir()
    panels = {"a": publish(area_of(paths["a"])), "b": publish(area_of(paths["b"]), crop=(0.2, 0.1, 0.9, 0.8)),
              "c": publish(area_of(paths["c"]), gamma=0.7, width=400)}
    figure_pdf(papers / "art1.pdf", [panels["a"], panels["b"]], doi=DOI)
    Image.fromarray(panels["c"]).save(papers / "art2.png")
    catalog = base / "census.sqlite"
    cli = catalog_cli(catalog)
    cli("scan", str(root), "--instrument", "SU8230", "--workers", "0", "--quiet")
    cli("figures", "index", "--workers", "0")
    cli("figures", "match", str(papers))
    return {"catalog": catalog, "root": root, "papers": papers, "panels": panels}


@pytest.fixture
def catalog_path(world: dict, tmp_path: Path) -> Path:
    """This module's catalog (for the browser tests' server too): a copy of the matched one."""
    copy = tmp_path / "census.sqlite"
    copy.write_bytes(Path(world["catalog"]).read_bytes())
    return copy


@pytest.fixture
def review_client(catalog_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(catalog_path), raise_server_exceptions=False) as client:
        client.get("/review")  # sets the CSRF cookie, as opening the page does
        yield client


def _post(client: TestClient, match_id: int, status: str):  # type: ignore[no-untyped-def]
    return client.post(f"/api/figures/matches/{match_id}/decision", json={"status": status},
                       headers={"X-CSRF-Token": client.cookies["emcensus_csrf"]})


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.astype(float).ravel(), b.astype(float).ravel())[0, 1])


def test_queue_is_surest_first_and_paged(review_client: TestClient) -> None:
    queue = review_client.get("/api/figures/matches").json()
    items = queue["items"]
    assert queue["total"] == len(items) == 3 and queue["status"] == "proposed"
    assert {(m["article"], Path(m["image"]).stem) for m in items} == {(DOI, "a"), (DOI, "b"), ("art2", "c")}
    assert [m["score"] for m in items] == sorted((m["score"] for m in items), reverse=True)
    for m in items:
        assert (m["width_px"], m["height_px"]) == (640, 480)  # the image area, not the data bar
        x0, y0, x1, y1 = m["crop_box"]
        assert -1 <= x0 < x1 <= 641 and -1 <= y0 < y1 <= 481
    b = next(m for m in items if Path(m["image"]).stem == "b")
    assert b["crop_box"] == pytest.approx([128, 48, 576, 384], abs=8)  # publish() cropped 0.2..0.9 x 0.1..0.8
    second = review_client.get("/api/figures/matches", params={"limit": 1, "offset": 1}).json()
    assert second["total"] == 3 and [m["id"] for m in second["items"]] == [items[1]["id"]]
    assert review_client.get(f"/api/figures/matches/{items[0]['id']}").json()["id"] == items[0]["id"]
    assert review_client.get("/api/figures/matches/999").status_code == 404
    bad = review_client.get("/api/figures/matches", params={"status": "maybe"})
    assert bad.status_code == 400 and "status" in bad.json()["error"]

    html = review_client.get("/review", headers={"Accept": "text/html"}).text
    assert html.count('<article class="match"') == 3 and 'href="/review" class="on"' in html
    assert html.index(f'data-id="{items[0]["id"]}"') < html.index(f'data-id="{items[2]["id"]}"')
    past = review_client.get("/review", params={"page": 9}, headers={"Accept": "text/html"}).text
    assert "past the end" in past


def test_a_page_of_the_queue_is_one_query_whatever_its_length(catalog_path: Path) -> None:
    """The page's rows come with their images' paths and sizes from one query, and the paths of
    every row's related images from at most one more (not one per row)."""
    with Catalog(catalog_path, readonly=True) as catalog:
        statements: list[str] = []
        catalog.db.set_trace_callback(statements.append)
        items = review.queue_page(catalog, "proposed", 100, 0)["items"]
        catalog.db.set_trace_callback(None)
        images = {row["id"]: row for row in catalog.images()}
    touching_images = [s for s in statements if "images" in s]
    assert len(items) == 3 and len(touching_images) <= 2, statements
    assert touching_images[0].lstrip().startswith("SELECT m.*"), statements  # rows with their image columns
    assert all(" IN (" in s for s in touching_images[1:]), statements  # related paths of the whole page
    for item in items:
        image = images[item["image_id"]]
        assert (item["image_rel_path"], item["width_px"], item["height_px"]) == \
            (image["rel_path"], image["width_px"], image["height_px"])


def test_panel_is_cut_from_its_document(review_client: TestClient, world: dict) -> None:
    """The panel served is the published panel itself (the figure's pixels at the stored box), for
    a panel of a two-panel PDF page and for a whole PNG figure; the documents are not changed."""
    before = fingerprint(world["papers"])
    for m in review_client.get("/api/figures/matches").json()["items"]:
        response = review_client.get(f"/api/figures/matches/{m['id']}/panel")
        assert response.headers["content-type"] == "image/png", response.headers
        served = np.asarray(Image.open(io.BytesIO(response.content)).convert("L"))
        published = world["panels"][Path(m["image"]).stem]
        resized = np.asarray(Image.fromarray(served).resize(published.shape[::-1]))
        assert abs(served.shape[1] / served.shape[0] - published.shape[1] / published.shape[0]) < 0.05
        assert _correlation(resized, published) > 0.95
    assert fingerprint(world["papers"]) == before


def test_panel_of_a_document_gone_is_a_placeholder_with_the_reason(review_client: TestClient, catalog_path: Path,
                                                                  tmp_path: Path) -> None:
    match = next(m for m in review_client.get("/api/figures/matches").json()["items"] if m["article"] == "art2")
    with sqlite3.connect(catalog_path) as db:  # as if the document had been matched from a folder since deleted
        db.execute("UPDATE figure_matches SET document = ? WHERE id = ?", (str(tmp_path / "gone.png"), match["id"]))
    response = review_client.get(f"/api/figures/matches/{match['id']}/panel")
    assert response.headers["content-type"] == "image/svg+xml"
    assert "not readable now" in response.headers["x-emcensus-no-preview"]


def test_a_cached_panel_is_served_while_other_cuts_hold_every_slot(review_client: TestClient,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    review.panel_png.cache_clear()
    first, second = review_client.get("/api/figures/matches").json()["items"][:2]
    cut = review_client.get(f"/api/figures/matches/{first['id']}/panel")
    assert cut.headers["content-type"] == "image/png"
    monkeypatch.setattr(review, "PANEL_SECONDS", 0.01)
    for _ in range(review.PANEL_WORKERS):  # as if other requests were cutting panels now
        assert review._panel_slots.acquire(blocking=False)
    try:
        again = review_client.get(f"/api/figures/matches/{first['id']}/panel")
        busy = review_client.get(f"/api/figures/matches/{second['id']}/panel")
    finally:
        for _ in range(review.PANEL_WORKERS):
            review._panel_slots.release()
    assert again.headers["content-type"] == "image/png" and again.content == cut.content
    assert busy.headers["content-type"] == "image/svg+xml"
    assert "busy cutting other panels" in busy.headers["x-emcensus-no-preview"]


def test_a_split_panel_is_cut_where_the_matcher_found_it(world: dict) -> None:
    """Two panels in one figure image with a white gutter, placed at half a point per pixel: each
    panel box `figures match` stores (`FigureImage.region` of a `split_panels` box) cuts back the
    same pixels; a box outside the figure is not in it."""
    left, right = world["panels"]["a"], world["panels"]["b"]
    gutter = np.full((left.shape[0], 12), 255, np.uint8)
    pixels = np.hstack([left, gutter, right[:left.shape[0]]])
    height, width = pixels.shape
    figure = FigureImage("doc.pdf", 1, (72.0, 100.0, 72.0 + width / 2, 100.0 + height / 2), pixels, DOI, "")
    boxes = split_panels(pixels)
    assert len(boxes) == 2
    for x0, y0, x1, y1 in boxes:
        cut = cut_panel(figure.pixels, figure.bbox, [round(v, 2) for v in figure.region((x0, y0, x1, y1))])
        assert cut is not None and np.array_equal(cut, pixels[y0:y1, x0:x1])
    assert cut_panel(figure.pixels, figure.bbox, (10.0, 10.0, 60.0, 60.0)) is None


def test_accept_links_the_image_and_reject_is_remembered(review_client: TestClient) -> None:
    items = review_client.get("/api/figures/matches").json()["items"]
    first, last = items[0], items[-1]
    assert review_client.get("/api/table1").json() is None  # no article known yet
    refused = review_client.post(f"/api/figures/matches/{first['id']}/decision", json={"status": "accepted"})
    assert refused.status_code == 403  # no CSRF token

    accepted = _post(review_client, first["id"], "accepted").json()
    assert accepted["match"]["status"] == "accepted" and accepted["remaining"] == 2
    assert [a["id"] for a in accepted["published_in"]] == [first["article"]]
    image = review_client.get(f"/api/images/{first['image_id']}").json()
    assert [a["id"] for a in image["published_in"]] == [first["article"]]
    table = review_client.get("/api/table1").json()
    total = next(c for c in table["columns"] if c["column"] == "TOTAL")
    assert (total["articles"], total["published_images"]) == (1, 1)

    rejected = _post(review_client, last["id"], "rejected").json()
    assert rejected["match"]["status"] == "rejected" and rejected["published_in"] == []
    queue = review_client.get("/api/figures/matches").json()
    assert [m["id"] for m in queue["items"]] == [items[1]["id"]] and queue["total"] == 1
    decided = review_client.get("/api/figures/matches", params={"status": "rejected"}).json()["items"]
    assert [m["id"] for m in decided] == [last["id"]]

    assert _post(review_client, first["id"], "proposed").json()["published_in"] == []  # undone: the link goes
    assert _post(review_client, 999, "accepted").status_code == 404
    assert _post(review_client, first["id"], "maybe").status_code == 400


def test_review_api_is_documented(review_client: TestClient) -> None:
    paths = review_client.get("/openapi.json").json()["paths"]
    assert {"/api/figures/matches", "/api/figures/matches/{match_id}", "/api/figures/matches/{match_id}/panel",
            "/api/figures/matches/{match_id}/decision"} <= set(paths)
    assert "/review" not in paths


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium (apt-get install -y chromium)")
def test_pressing_a_accepts_the_first_match(server: str, page) -> None:  # type: ignore[no-untyped-def]
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(server + "/review")
    cards = page.locator("article.match")
    assert cards.count() == 3
    first = cards.first
    assert "current" in first.get_attribute("class")
    match_id, image_id = first.get_attribute("data-id"), first.get_attribute("data-image")
    match = page.request.get(f"{server}/api/figures/matches/{match_id}").json()
    page.wait_for_function("[...document.querySelectorAll('article.match img')]"
                           ".every(i => i.complete && i.naturalWidth > 0)")
    # The matched region is outlined where crop_box lies on the thumbnail (a 640 px wide image area).
    thumb, rect = first.locator("img.archive").bounding_box(), first.locator(".outlined rect").bounding_box()
    shown = thumb["width"] / match["width_px"]
    x0, y0, x1, y1 = match["crop_box"]
    assert rect["x"] - thumb["x"] == pytest.approx(x0 * shown, abs=3)
    assert rect["y"] - thumb["y"] == pytest.approx(y0 * shown, abs=3)
    assert rect["width"] == pytest.approx((x1 - x0) * shown, abs=3)
    assert rect["height"] == pytest.approx((y1 - y0) * shown, abs=3)

    page.keyboard.press("a")
    page.locator(f'article.match[data-id="{match_id}"]').wait_for(state="detached")
    assert page.locator("#queue-total").inner_text() == "2" and cards.count() == 2
    assert "accepted" in page.locator("#review-status").inner_text()
    assert "current" in cards.first.get_attribute("class")
    page.keyboard.press("s")  # skip: the next one is current, nothing decided
    assert "skipped" in cards.first.get_attribute("class") and "current" in cards.nth(1).get_attribute("class")
    assert page.request.get(f"{server}/api/figures/matches").json()["total"] == 2
    rejected = cards.nth(1).get_attribute("data-id")
    cards.nth(1).get_by_role("button", name="Reject (r)").click()
    page.locator(f'article.match[data-id="{rejected}"]').wait_for(state="detached")
    assert page.locator("#queue-total").inner_text() == "1"
    assert page.request.get(f"{server}/api/figures/matches/{rejected}").json()["status"] == "rejected"
    page.keyboard.press("ArrowRight")  # the one left was skipped: nothing current, the page says so
    assert page.locator("#queue-done").is_visible()

    page.goto(f"{server}/images/{image_id}")
    page.locator("#published li").filter(has_text=match["article"]).wait_for(timeout=5000)
    page.goto(server + "/")
    assert page.locator(".stat.lost .num").inner_text() == "87.50 %"  # 1 of the 8 acquisitions published
    page.goto(server + "/review")
    assert page.locator("article.match").count() == 1  # the skipped one is still to decide
    assert errors == []
