"""Publications in the dashboard: Table 1 and linking an image to an article (a CSRF-guarded POST)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient


def _facility_total(client: TestClient) -> dict:
    return next(c for c in client.get("/api/table1").json()["columns"] if c["block"] == "facility" and c["column"] == "TOTAL")


def test_table1_absent_without_articles(client: TestClient) -> None:
    assert client.get("/api/table1").json() is None
    assert "Table 1" not in client.get("/", headers={"accept": "text/html"}).text


def test_link_and_unlink_change_table1(client: TestClient, article: str, image_id: Callable[[str], int]) -> None:
    assert _facility_total(client)["published_images"] == 0
    client.get("/")
    csrf = {"X-CSRF-Token": client.cookies["emcensus_csrf"]}
    url = f"/api/images/{image_id('img001.tif')}/articles"
    assert client.post(url, json={"article": article}).status_code == 403  # no CSRF token
    assert client.post(url, json={"article": article}, headers=csrf).json()["changed"] == 1
    total = _facility_total(client)
    assert total["published_images"] == 1 and total["lost_pct"] == pytest.approx(80.0)
    assert "80.0" in client.get("/", headers={"accept": "text/html"}).text
    image = client.get(f"/api/images/{image_id('img001.tif')}").json()
    assert [a["id"] for a in image["published_in"]] == [article]
    assert article in client.get(f"/images/{image_id('img001.tif')}", headers={"accept": "text/html"}).text
    assert client.post(url, json={"article": article, "linked": False}, headers=csrf).json()["changed"] == 1
    assert _facility_total(client)["published_images"] == 0
    assert client.get(f"/api/images/{image_id('img001.tif')}").json()["published_in"] == []
    assert client.post(url, json={"article": "10.9/none"}, headers=csrf).status_code == 404
    assert client.post("/api/images/9999/articles", json={"article": article}, headers=csrf).status_code == 404
    assert client.post(url, json={}, headers=csrf).status_code == 400
