"""What the dashboard refuses: files outside the scan roots, requests without the token, forged POSTs."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from emcensus.cli.main import main
from emcensus.cli.serve import is_loopback
from emcensus.errors import ConfigError
from emcensus.web import create_app
from support import write_tiff


@pytest.mark.parametrize("url", [
    "/api/thumbnail/..%2F..%2F..%2Fetc%2Fpasswd",
    "/api/thumbnail/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "/api/images/..%2Fetc%2Fpasswd/sidecar",
    "/static/..%2F..%2Fapp.py",
    "/static/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "/static/../app.py",
    "/static/..%5C..%5Capp.py",
    "/images/%2e%2e%2f1",
])
def test_traversal_attempts_serve_nothing(client: TestClient, url: str) -> None:
    response = client.get(url)
    assert response.status_code in (400, 404), response.status_code
    assert "root:" not in response.text and "create_app" not in response.text


def test_symlink_inside_a_root_pointing_outside_is_not_read(client: TestClient, tiny_archive: Path, tmp_path: Path,
                                                          catalog_path: Path, image_id: Callable[[str], int]) -> None:
    outside = tmp_path / "private" / "secret.tif"
    write_tiff(outside, seed=7)
    (outside.parent / "secret.txt").write_text("password=hunter2")
    ident = image_id("img004.tif")
    image, sidecar = tiny_archive / "groupB/p2/2019-01-02/img004.tif", tiny_archive / "groupB/p2/2019-01-02/img004.txt"
    image.unlink()
    image.symlink_to(outside)
    sidecar.unlink()
    sidecar.symlink_to(outside.parent / "secret.txt")
    thumb = client.get(f"/api/thumbnail/{ident}")
    assert thumb.status_code == 403 and "outside the catalog's scan roots" in thumb.json()["error"]
    assert not list(Path(f"{catalog_path}.thumbs").glob(f"{ident}-*"))
    for url in (f"/api/images/{ident}/sidecar", f"/images/{ident}"):
        response = client.get(url)
        assert response.status_code == 403 and "hunter2" not in response.text


@pytest.fixture
def guarded(catalog_path: Path) -> TestClient:
    return TestClient(create_app(catalog_path, token="s3cret-token"), raise_server_exceptions=False)


@pytest.mark.parametrize("url", ["/", "/api/count", "/api/thumbnail/1", "/static/style.css", "/openapi.json", "/docs"])
def test_token_required_everywhere_when_configured(guarded: TestClient, url: str) -> None:
    assert guarded.get(url).status_code == 401
    assert guarded.get(url, headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert guarded.get(url, headers={"Authorization": "Bearer s3cret-token"}).status_code == 200


def test_token_in_the_url_once_then_a_cookie(guarded: TestClient) -> None:
    first = guarded.get("/explore?year=2016&token=s3cret-token", follow_redirects=False)
    assert first.status_code == 303 and first.headers["location"].endswith("/explore?year=2016")
    assert "httponly" in first.headers["set-cookie"].lower()
    assert guarded.get("/explore?year=2016").status_code == 200  # the cookie now
    assert guarded.get("/api/count").status_code == 200
    guarded.cookies.clear()
    assert guarded.get("/api/count").status_code == 401
    assert guarded.get("/api/count?token=nope").status_code == 401


def test_posts_need_the_csrf_token(client: TestClient) -> None:
    client.get("/")  # sets the CSRF cookie
    csrf = client.cookies["emcensus_csrf"]
    assert client.post("/api/images").status_code == 403
    assert client.post("/api/images", headers={"X-CSRF-Token": "forged"}).status_code == 403
    client.cookies.clear()
    assert client.post("/api/images", headers={"X-CSRF-Token": csrf}).status_code == 403  # no cookie to match
    client.cookies.set("emcensus_csrf", csrf)
    assert client.post("/api/images", headers={"X-CSRF-Token": csrf}).status_code == 405  # passed the guard


def test_loopback_server_refuses_foreign_host_headers(catalog_path: Path) -> None:
    app = create_app(catalog_path, allowed_hosts=["127.0.0.1", "localhost"])
    assert TestClient(app, base_url="http://127.0.0.1:8000").get("/api/count").status_code == 200
    assert TestClient(app, base_url="http://attacker.example").get("/api/count").status_code == 400


@pytest.mark.parametrize("host, loopback", [("127.0.0.1", True), ("localhost", True), ("::1", True),
                                            ("127.5.0.1", True), ("0.0.0.0", False), ("192.168.1.5", False),
                                            ("example.org", False)])
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_serve_refuses_a_public_host_without_token(catalog_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EMCENSUS_TOKEN", raising=False)
    result = CliRunner().invoke(main, ["--catalog", str(catalog_path), "serve", "--host", "0.0.0.0"])
    assert result.exit_code == 1 and "--token" in result.output
    missing = CliRunner().invoke(main, ["--catalog", os.fspath(catalog_path) + ".nope", "serve"])
    assert missing.exit_code == 1 and "no catalog" in missing.output


def test_api_refuses_an_image_whose_sidecar_now_leaves_the_roots(client: TestClient, tiny_archive: Path,
                                                                 tmp_path: Path, image_id: Callable[[str], int]) -> None:
    # The page refused it; the JSON API gave the record and the vendor metadata all the same.
    (tmp_path / "private").mkdir()
    (tmp_path / "private" / "secret.txt").write_text("password=hunter2")
    ident = image_id("img003.tif")
    sidecar = tiny_archive / "groupB/p2/2019-01-02/img003.txt"
    sidecar.unlink()
    sidecar.symlink_to(tmp_path / "private" / "secret.txt")
    for url in (f"/api/images/{ident}", f"/api/images/{ident}/sidecar", f"/images/{ident}"):
        response = client.get(url)
        assert response.status_code == 403, url
        assert "outside the catalog's scan roots" in response.text and "hunter2" not in response.text


def test_error_texts_shown_never_quote_file_bytes(client: TestClient, catalog_path: Path,
                                                  image_id: Callable[[str], int]) -> None:
    # A reader's message that quotes the first bytes of a file (here an outside one, through a link).
    ident = image_id("img004.tif")
    with sqlite3.connect(catalog_path) as db:
        db.execute("UPDATE images SET error = ? WHERE id = ?", ("not a TIFF file: b'root:x:0:0:root'", ident))
        db.execute("INSERT INTO problems(group_key, path, severity, reason, scan_id) SELECT acquisition_key, path, "
                   "'error', 'unreadable: b\"root:x:0:0\" is not a header', 1 FROM images WHERE id = ?", (ident,))
    for url in (f"/images/{ident}", f"/api/images/{ident}", "/audit/unreadable", "/api/audit/unreadable"):
        response = client.get(url, headers={"accept": "text/html"} if not url.startswith("/api") else {})
        assert response.status_code == 200 and "root:x" not in response.text, url
        assert "not a TIFF file" in response.text or "unreadable" in response.text


@pytest.mark.parametrize("url", [
    "/api/images/99999999999999999999", "/api/images/99999999999999999999/sidecar",
    "/api/images/-99999999999999999999/neighbours", "/api/thumbnail/99999999999999999999",
    "/images/99999999999999999999", "/api/images?offset=99999999999999999999",
    "/api/audit/missing?offset=99999999999999999999", "/explore?page=99999999999999999999",
    "/audit/missing?page=99999999999999999999", "/api/count?year=99999999999999999999",
    "/api/count?since=99999999999999999999", "/api/images?magnification=1e999",
    "/explore?page=1e3",
])
def test_absurd_numbers_are_refused_not_a_500(client: TestClient, url: str) -> None:
    response = client.get(url)
    assert response.status_code in (400, 404), (url, response.status_code, response.text[:200])
    assert response.json()["error"] and "Traceback" not in response.text


@pytest.mark.parametrize("token", [" ", "", "\t\n"])
def test_a_blank_token_is_refused(catalog_path: Path, token: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match="blank"):
        create_app(catalog_path, token=token)
    monkeypatch.delenv("EMCENSUS_TOKEN", raising=False)
    if token:  # `--token ' '` on a public address: once a server anyone could use
        result = CliRunner().invoke(main, ["--catalog", str(catalog_path), "serve", "--host", "0.0.0.0", "--token", token])
        assert result.exit_code == 1 and "blank" in result.output
