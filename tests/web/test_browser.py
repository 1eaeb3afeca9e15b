"""The dashboard in a real browser (Debian chromium, headless) against a real uvicorn server."""

from __future__ import annotations

import pytest

from support import CHROMIUM

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium (apt-get install -y chromium; scripts/test.sh does)"),
]


def test_overview_bar_click_explore_and_image_page(server: str, page) -> None:  # type: ignore[no-untyped-def]
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(server + "/")
    bars = page.locator('[data-chart="year"] g.point path')
    bars.first.wait_for()
    assert bars.count() >= 2
    bar = page.evaluate("document.querySelector('[data-chart=year]').data[0].y[0]")
    box = bars.first.bounding_box()  # the first bar: 2016, SEM; plotly's drag layer takes the pointer events
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.wait_for_url("**/explore?**")
    assert "year=2016" in page.url and "technique=SEM" in page.url
    # The bar counts acquisitions and Explore leads with the same number: img001 (.tif + .jpg), img002.
    assert page.locator("p.summary strong").inner_text() == str(bar) == "2"
    assert page.locator(".grid a.card").count() == 3  # the grid shows every file
    assert page.locator("select[name=technique]").input_value() == "SEM"
    # every thumbnail decodes (waits while they load: a broken one never gets a width, and times out)
    page.wait_for_function("[...document.querySelectorAll('.grid img')].length === 3 && "
                           "[...document.querySelectorAll('.grid img')].every(i => i.complete && i.naturalWidth > 0)")

    page.locator(".grid a.card").first.click()
    page.wait_for_url("**/images/*")
    assert "SignalName=SE(U)" in page.locator("pre.text").first.inner_text()
    assert page.locator(".strip a.card").count() == 3

    page.goto(server + "/explore")
    page.fill("input[name=year]", "2019")
    page.click("button[type=submit]")
    page.wait_for_url("**/explore?year=2019")  # empty fields left out of the shareable URL
    assert page.locator("p.summary strong").inner_text() == "2"
    assert errors == []


def _link_img002(page, server: str, article: str) -> None:  # type: ignore[no-untyped-def]
    """Link img002.tif to `article` the way a person does: Explore, its Image page, the link form."""
    page.goto(server + "/explore?path=*/img002.tif")
    page.locator(".grid a.card").first.click()
    page.wait_for_url("**/images/*")
    page.select_option("form.link select", article)
    page.click("form.link button[value=true]")
    page.locator("#link-status").filter(has_text="linked to").wait_for()


def test_linking_an_image_changes_table1(server: str, page, article: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(server + "/")
    lost = page.locator(".stat.lost .num")
    assert lost.inner_text() == "100.00 %"
    _link_img002(page, server, article)
    # The page shows the link at once, not "Not linked" until a reload.
    page.locator("#published li").filter(has_text=article).wait_for(timeout=5000)
    assert "Not linked" not in page.locator("#published").inner_text()
    page.click("form.link button[value=false]")
    page.locator("#published").filter(has_text="Not linked").wait_for(timeout=5000)
    page.click("form.link button[value=true]")
    page.locator("#published li").filter(has_text=article).wait_for(timeout=5000)
    page.goto(server + "/")
    assert lost.inner_text() == "80.00 %"


@pytest.mark.parametrize("docs, operation", [("/docs", ".opblock-summary-path"), ("/redoc", "li[data-item-id]")])
def test_api_docs_render_with_the_network_cut_off(server: str, page, docs: str,  # type: ignore[no-untyped-def]
                                                  operation: str) -> None:
    leaving: list[str] = []

    def loopback_only(route) -> None:  # type: ignore[no-untyped-def]
        if route.request.url.startswith(server):
            route.continue_()
        else:
            leaving.append(route.request.url)
            route.abort()

    page.route("**/*", loopback_only)
    page.goto(server + docs)
    operations = page.locator(operation)
    operations.first.wait_for(timeout=20000)
    assert operations.count() >= 10  # every API operation is listed
    assert "/api/count" in page.content()
    assert leaving == [], leaving


def test_storage_page_from_the_menu(server: str, page, article: str) -> None:  # type: ignore[no-untyped-def]
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(server + "/")
    page.click("nav.top a[href='/storage']")
    page.wait_for_url("**/storage")
    assert page.locator("nav.top a.on").inner_text() == "Storage"
    assert "Growth of yearly intake" in page.locator("main, body").first.inner_text()
    lost_before = page.locator(".stat.lost .num").inner_text()
    assert lost_before.endswith(" GB") and "100.0 % of image bytes" in page.locator(".stat.lost").inner_text()
    # link an image in the browser: the Storage page shows the new split on the next visit
    _link_img002(page, server, article)
    page.goto(server + "/storage")
    assert "100.0 % of image bytes" not in page.locator(".stat.lost").inner_text()
    assert errors == []
