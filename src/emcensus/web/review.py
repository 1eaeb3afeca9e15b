"""The review page of figure matches (issue 8): each proposed match, surest first, shown as the
published panel beside the archive image with the matched region outlined, to accept or reject.

The panel is cut again from its document (through `figures.documents.iter_figures`: read through
`emcensus.access`, bounded in pages, pixels and time) at the stored page and panel box; nothing is
written anywhere, a few recent panels are kept in memory. A document that is gone, changed or too
slow gives the same placeholder as a thumbnail, with the reason in `X-Emcensus-No-Preview`.
"""

from __future__ import annotations

import functools
import io
import math
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from fastapi import APIRouter, Body, Query, Request
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, HTMLResponse, Response
from PIL import Image

from emcensus.access import check_regular
from emcensus.catalog import Catalog, fs_path
from emcensus.errors import EmcensusError
from emcensus.figures.documents import FigureError, Limits, iter_figures
from emcensus.web.app import SQLITE_INT_MAX, CatalogDep, Offset, PageNumber, no_preview_response
from emcensus.web.thumbs import NoPreview, NotNow

#: Matches shown on one review page.
PER_PAGE = 10
#: Longest side of a panel as served (a panel is shown at about 400 px).
PANEL_SIDE = 640
#: Reading a document for one panel: seconds (checked between pages), panels cut at once.
PANEL_SECONDS = 20.0
PANEL_WORKERS = 2
#: Recent panels kept in memory (PNG bytes, a few hundred kB each at most).
PANEL_CACHE = 64
#: How far (document units: PDF points or pixels) a stored panel box may stick out of its figure.
_SLACK = 1.0

MatchId = Annotated[int, PathParam(ge=1, le=SQLITE_INT_MAX, description="id of the figure match (see /api/figures/matches)")]
Status = Literal["accepted", "rejected", "proposed"]
_panel_slots = threading.BoundedSemaphore(PANEL_WORKERS)

router = APIRouter()


def queue_page(catalog: Catalog, status: str, limit: int, offset: int) -> dict[str, Any]:
    """One page of the matches with `status`, surest first, and how many there are in all."""
    return {"status": status, "total": catalog.figure_match_count(status), "offset": offset, "limit": limit,
            "items": catalog.figure_review_page(status, limit=limit, offset=offset)}


def cut_panel(figure_pixels: np.ndarray, figure_bbox: Sequence[float],
              panel_bbox: Sequence[float]) -> np.ndarray | None:
    """The pixels of `panel_bbox` (document units) inside a figure placed at `figure_bbox`; None
    when the panel does not lie in this figure."""
    x0, y0, x1, y1 = figure_bbox
    px0, py0, px1, py1 = panel_bbox
    if px0 < x0 - _SLACK or py0 < y0 - _SLACK or px1 > x1 + _SLACK or py1 > y1 + _SLACK or x1 <= x0 or y1 <= y0:
        return None
    height, width = figure_pixels.shape[:2]
    sx, sy = width / (x1 - x0), height / (y1 - y0)
    left, top = max(0, round((px0 - x0) * sx)), max(0, round((py0 - y0) * sy))
    right, bottom = min(width, round((px1 - x0) * sx)), min(height, round((py1 - y0) * sy))
    if right - left < 1 or bottom - top < 1:
        return None
    return figure_pixels[top:bottom, left:right]


def find_panel(document: Path, page: int | None, panel_bbox: Sequence[float]) -> np.ndarray:
    """The published panel, cut again from its document; `NoPreview` saying why when it cannot be."""
    limits = Limits(max_seconds=PANEL_SECONDS)
    try:
        for figure in iter_figures(document, limits=limits):
            if page is not None and figure.page != page:
                if figure.page > page > 0:  # pages come in order: it is not there
                    break
                continue
            panel = cut_panel(figure.pixels, figure.bbox, panel_bbox)
            if panel is not None:
                return panel
    except FigureError as exc:
        raise NoPreview(str(exc)) from exc
    raise NoPreview(f"{document}: no figure at this panel's place on page {page} (changed since it was matched?)")


@functools.lru_cache(maxsize=PANEL_CACHE)
def panel_png(document: str, page: int | None, panel_bbox: tuple[float, ...], size: int, mtime_ns: int) -> bytes:
    """The panel as a PNG at most `PANEL_SIDE` px long; cached by the document's size and mtime.
    Cut at most `PANEL_WORKERS` at once (a cached panel does not wait for them)."""
    if not _panel_slots.acquire(timeout=PANEL_SECONDS):
        raise NotNow("the server is busy cutting other panels; reload to try again")
    try:
        pixels = find_panel(Path(document), page, panel_bbox)
    finally:
        _panel_slots.release()
    image = Image.fromarray(pixels)
    image.thumbnail((PANEL_SIDE, PANEL_SIDE))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def _panel_bytes(row: dict[str, Any]) -> bytes:
    """The panel of a stored match, from the cache while its document is unchanged, else cut within `PANEL_SECONDS`."""
    document = fs_path(row["document"])
    try:
        stat = check_regular(document)
    except EmcensusError as exc:  # moved, deleted, or a path given relative to another folder
        raise NotNow(f"the document is not readable now: {exc}") from exc
    return panel_png(document, row["page"], tuple(row["panel_bbox"]), stat.st_size, stat.st_mtime_ns)


@router.get("/api/figures/matches", tags=["figures"])
def api_matches(catalog: CatalogDep, status: Status = "proposed",
                limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                offset: Offset = 0) -> dict[str, Any]:
    """The review queue: matches with `status` (default: proposed, still to decide), surest first,
    one page; `total` counts them all. `crop_box` is the published region in the archive image's
    pixels (`width_px` × `height_px`), `panel_bbox` the panel on its page (PDF points, or pixels)."""
    return queue_page(catalog, status, limit, offset)


@router.get("/api/figures/matches/{match_id}", tags=["figures"])
def api_match(catalog: CatalogDep, match_id: MatchId) -> dict[str, Any]:
    """One stored match, whatever its status."""
    return catalog.figure_match(match_id)


@router.get("/api/figures/matches/{match_id}/panel", tags=["figures"], response_class=FileResponse)
async def api_match_panel(request: Request, match_id: MatchId) -> Response:
    """The published panel as a PNG, cut again from its document. A document gone, changed, too
    large or too slow gives the placeholder SVG and an `X-Emcensus-No-Preview` header saying why."""
    def work() -> bytes:
        with Catalog(request.app.state.catalog_path, readonly=True) as catalog:
            row = catalog.figure_match(match_id)
        return _panel_bytes(row)

    try:
        png = await run_in_threadpool(work)
    except NoPreview as exc:
        return no_preview_response(exc)
    return Response(png, media_type="image/png", headers={"Cache-Control": "private, max-age=3600"})


@router.post("/api/figures/matches/{match_id}/decision", tags=["figures"])
def api_decide(request: Request, match_id: MatchId, status: Annotated[Status, Body(embed=True)]) -> dict[str, Any]:
    """Decide a match: `accepted` makes it a ledger link of source 'matched' (Table 1, `lost`, the
    report), `rejected` is remembered (never proposed again; an accepted one's link goes),
    `proposed` puts it back in the queue. Needs the `X-CSRF-Token` header. Returns the match and
    the articles its image is now linked to."""
    with Catalog(request.app.state.catalog_path) as writable:  # the dashboard's only other write
        writable.decide_figure_match(match_id, status)
        row = writable.figure_match(match_id)
        return {"match": row, "published_in": writable.articles_of_image(row["image_id"]),
                "remaining": writable.figure_match_count("proposed")}


@router.get("/review", response_class=HTMLResponse, include_in_schema=False)
def review(request: Request, catalog: CatalogDep,
           page_number: PageNumber = 1) -> HTMLResponse:
    total = catalog.figure_match_count("proposed")
    pages = max(1, math.ceil(total / PER_PAGE))
    data = queue_page(catalog, "proposed", PER_PAGE, min((page_number - 1) * PER_PAGE, total))
    return request.app.state.templates.TemplateResponse(
        request, "review.html", {**data, "page": page_number, "pages": pages, "per_page": PER_PAGE})
