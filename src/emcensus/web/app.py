"""The dashboard: HTML pages and the public JSON API they are built on (documented at /docs).

Every request opens its own read-only catalog connection, so the dashboard keeps answering while a
scan writes (SQLite WAL) and no connection is shared between threads.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, fields
from datetime import date
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

import fastapi_offline
import plotly
from fastapi import Body, Depends, FastAPI, Query, Request
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.datastructures import QueryParams
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.trustedhost import TrustedHostMiddleware

from emcensus import __version__
from emcensus.access import OutsideRootsError, inside_roots, read_bounded
from emcensus.analysis.storage import StorageSummary
from emcensus.analysis.table1 import Table1
from emcensus.catalog import AUDIT_KINDS, Catalog, ImageFilter, display_path, fs_path
from emcensus.catalog.connection import file_stamp, stamp_settled
from emcensus.catalog.query import QUALITY_FLAGS, ResultCache
from emcensus.errors import (
    CatalogError, ConfigError, EmcensusError, LedgerError, NotFoundError, QueryError, UnreadableFileError,
)
from emcensus.palette import ARCHIVE_GREY, TECHNIQUE_COLOURS
from emcensus.readers.base import MAX_SIDECAR_BYTES, decode_text
from emcensus.record import KINDS
from emcensus.report.build import catalog_table1
from emcensus.report.storage import STORAGE_BY, catalog_storage
from emcensus.web.files import glob_escape
from emcensus.web.format import no_file_content, quantity
from emcensus.web.security import GuardMiddleware, check_token
from emcensus.web.thumbs import NoPreview, PreviewPool, cache_dir

HERE = Path(__file__).parent
PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
#: Swagger UI and ReDoc, served from the installed `fastapi-offline` wheel: /docs works without a network.
DOCS_ASSETS = Path(fastapi_offline.__file__).parent / "static"
FAVICON = HERE / "static" / "favicon.svg"
#: The API docs pages load nothing from elsewhere (their scripts are inline or from this server).
DOCS_POLICY = ("default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
               "img-src 'self' data:; font-src 'self' data:; worker-src 'self' blob:; connect-src 'self'")
#: Largest integer SQLite stores: ids and offsets beyond it are refused (400), not an OverflowError.
SQLITE_INT_MAX = 2**63 - 1
#: Highest page number a paged page accepts (a page past the last one says so).
MAX_PAGE = 10**9
ImageId = Annotated[int, PathParam(ge=1, le=SQLITE_INT_MAX, description="catalog id of the image file")]
Offset = Annotated[int, Query(ge=0, le=SQLITE_INT_MAX)]
PageNumber = Annotated[int, Query(alias="page", ge=1, le=MAX_PAGE)]

#: The one place where emcensus errors become HTTP statuses (most specific class first).
ERROR_STATUS: dict[type[Exception], int] = {
    NotFoundError: 404,
    OutsideRootsError: 403,
    QueryError: 400,
    ConfigError: 400,
    LedgerError: 400,
    UnreadableFileError: 422,
    CatalogError: 503,
    EmcensusError: 400,
}

FILTER_FIELDS = {f.name: f for f in fields(ImageFilter)}
#: Sort keys offered by the grid; `-` sorts descending. The catalog checks any other.
SORTS = {"path": "path", "-acquired_at": "newest", "acquired_at": "oldest", "magnification": "magnification ↑",
         "-magnification": "magnification ↓", "instrument": "instrument", "detector": "detector",
         "-size_bytes": "largest file", "-sharpness_pct": "sharpest (quality)", "sharpness_pct": "least sharp (quality)",
         "quality_flag": "quality flag", "dup_group": "duplicate group"}
#: Magnifications given a decade bar on the Overview; anything else is "unknown" there.
MAGNIFICATION_RANGE = (1e-3, 1e12)
#: Quality of each file's current state (`emcensus quality`) shown with a grid row: null when not measured.
QUALITY_COLUMNS = ("quality_flag", "sharpness_pct", "blank", "snr", "resolution_m", "dup_group")
#: Columns of a grid row that the API and CSV return (internal bookkeeping columns left out).
IMAGE_COLUMNS = ("id", "path", "rel_path", "instrument", "technique", "detector", "detector_family", "vendor",
                 "magnification", "accelerating_voltage_v", "working_distance_m", "pixel_size_m", "fov_width_m",
                 "width_px", "height_px", "acquired_at", "acquired_at_source", "year", "metadata_source",
                 "sidecar_path", "size_bytes", "is_primary", "status", "kind", *QUALITY_COLUMNS)
_FILTER_DOCS = [
    {"name": name, "in": "query", "required": False, "schema": {"type": "string"},
     "description": f"filter, as `emcensus count --{name.replace('_', '-')}` takes it"}
    for name in FILTER_FIELDS
]
FILTERED = {"openapi_extra": {"parameters": _FILTER_DOCS}}


# ------------------------------------------------------------------------------ request helpers
def parse_filters(params: QueryParams) -> dict[str, Any]:
    """ImageFilter keyword arguments from a query string: unknown keys ignored, empty values dropped."""
    result: dict[str, Any] = {}
    for name, field in FILTER_FIELDS.items():
        values = [v.strip() for v in params.getlist(name) if v.strip()]
        if not values:
            continue
        kind = str(field.type)
        if kind.startswith("bool"):
            if values[-1].lower() not in ("1", "true", "yes", "on", "0", "false", "no", "off"):
                raise QueryError(f"{name}: {values[-1]!r} is not true or false")
            result[name] = values[-1].lower() in ("1", "true", "yes", "on")
        elif kind.startswith("int"):
            try:
                result[name] = int(values[-1])
            except ValueError:
                raise QueryError(f"{name}: {values[-1]!r} is not a whole number") from None
        elif kind.startswith("str"):
            result[name] = values[-1]
        else:
            result[name] = ",".join(values)
    return result


def known_parameters(request: Request) -> None:
    """App-wide dependency: refuse a query parameter the address does not take (`sort=` for `order=`,
    a filter on a page without one) with a 400 that lists what it takes, rather than ignore it."""
    route = request.scope.get("route")
    taken = _query_names(route.dependant) if hasattr(route, "dependant") else set()
    unknown = sorted(set(request.query_params) - taken - {"token"})
    if unknown:
        takes = f"it takes {', '.join(sorted(taken))}" if taken else "it takes none"
        raise QueryError(f"unknown parameter {unknown[0]!r} for {request.url.path}; {takes}")


def _query_names(dependant: Dependant) -> set[str]:
    """Query parameters a route declares, its dependencies' included (the filter's fields for `image_filters`)."""
    names = {p.alias for p in dependant.query_params} | (set(FILTER_FIELDS) if dependant.call is image_filters else set())
    return names.union(*(_query_names(d) for d in dependant.dependencies))


def image_filters(request: Request) -> dict[str, Any]:
    """Dependency: the active filter, validated (a bad value is a 400 before any query runs)."""
    filters = parse_filters(request.query_params)
    ImageFilter.from_kwargs(**filters)
    return filters


def open_catalog(request: Request) -> Iterator[Catalog]:
    """Dependency: one read-only connection per request, closed after it."""
    catalog = Catalog(request.app.state.catalog_path, readonly=True)
    try:
        yield catalog
    finally:
        catalog.close()


CatalogDep = Annotated[Catalog, Depends(open_catalog)]
FiltersDep = Annotated[dict[str, Any], Depends(image_filters)]


def public(row: Mapping[str, Any]) -> dict[str, Any]:
    return {name: row.get(name) for name in IMAGE_COLUMNS}


def with_quality(catalog: Catalog, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Grid rows with the quality columns of their current files (None when not measured)."""
    measured = catalog.quality_of_images((row["id"] for row in rows), QUALITY_COLUMNS)
    return [{**row, **measured.get(row["id"], dict.fromkeys(QUALITY_COLUMNS))} for row in rows]


def neighbours(catalog: Catalog, row: Mapping[str, Any], around: int = 12) -> list[dict[str, Any]]:
    """Files of the same folder (one session, usually), the nearest by name on either side."""
    folder = str(Path(row["path"]).parent)
    same = [r for r in catalog.images(path=glob_escape(folder) + "/*", limit=2000, include_missing=True)
            if str(Path(r["path"]).parent) == folder]
    index = next((i for i, r in enumerate(same) if r["id"] == row["id"]), 0)
    return same[max(0, index - around): index + around + 1]


def root_paths(catalog: Catalog) -> list[str]:
    """The scan roots as file-system paths (catalog text decoded: a root's name need not be UTF-8)."""
    return [fs_path(r["path"]) for r in catalog.roots()]


def on_disk(text: str, roots: list[str]) -> Path:
    """The file a catalog path stands for, resolved; refused (403) when it now leaves the scan roots."""
    return inside_roots(fs_path(text), roots)


def sidecar_of(row: Mapping[str, Any]) -> str | None:
    """The metadata file of a catalogued row: its sidecar, or the row itself when it is a sidecar
    whose image file is gone (kind `sidecar-only`)."""
    return row.get("sidecar_path") or (row["path"] if row.get("kind") == "sidecar-only" else None)


def check_inside(row: Mapping[str, Any], roots: list[str]) -> None:
    """Refuse (403) an image whose file or sidecar now resolves outside the scan roots: the dashboard
    shows nothing that came from, or reads through, a link that leaves the archive."""
    on_disk(row["path"], roots)
    if row.get("sidecar_path"):
        on_disk(row["sidecar_path"], roots)


def sidecar_text(row: Mapping[str, Any], roots: list[str]) -> str | None:
    """The sidecar as the microscope PC wrote it, decoded; a sentence instead when it cannot be read."""
    path = sidecar_of(row)
    if path is None:
        return None
    try:
        return decode_text(read_bounded(on_disk(path, roots), MAX_SIDECAR_BYTES, "sidecar"))
    except UnreadableFileError as exc:
        return f"(sidecar not readable now: {no_file_content(str(exc))})"


def magnification_decades(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Counts per magnification decade (×1k–10k, ...), from the per-value counts."""
    decades: dict[int, int] = {}
    unknown = 0
    for row in rows:
        value = row["magnification"]
        if value is not None and MAGNIFICATION_RANGE[0] <= value < MAGNIFICATION_RANGE[1]:
            decade = int(math.floor(math.log10(value) + 1e-9))
            decades[decade] = decades.get(decade, 0) + row["count"]
        else:  # none, or no physical magnification: counted, but not as a decade
            unknown += row["count"]
    bars = [{"label": f"×{_short(10 ** d)}–{_short(10 ** (d + 1))}",
             "filter": {"magnification": f"{10 ** d}-{10 ** (d + 1) - 0.001}"},  # upper bound exclusive
             "count": n} for d, n in sorted(decades.items())]
    return bars + ([{"label": None, "count": unknown}] if unknown else [])


def _short(value: float) -> str:
    for size, suffix in ((1e6, "M"), (1e3, "k")):
        if value >= size:
            return f"{value / size:g}{suffix}"
    return f"{value:g}"


def bar_traces(rows: list[dict[str, Any]], x: str, series: str | None = None) -> list[dict[str, Any]]:
    """Plotly bar traces from count rows; each bar carries the Explore query string it stands for."""
    groups: dict[Any, list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(row[series] if series else None, []).append(row)
    traces = []
    for name, items in groups.items():
        # A technique has one colour everywhere (report and dashboard); other charts stay neutral.
        colour = TECHNIQUE_COLOURS.get(name, ARCHIVE_GREY) if series == "technique" else ARCHIVE_GREY
        traces.append({
            "type": "bar", "name": name if name is not None else "unknown", "marker": {"color": colour},
            "x": [str(r[x]) if r[x] is not None else "unknown" for r in items],
            "y": [r["count"] for r in items],
            "customdata": [_bar_query(r, x, series) for r in items],
            "hovertemplate": "%{x}" + (" · %{fullData.name}" if series else "") + ": %{y:,} acquisitions<extra></extra>",
        })
    return traces


def _bar_query(row: Mapping[str, Any], x: str, series: str | None) -> str:
    if row.get("filter"):
        return urlencode(row["filter"])
    keys = [x] + ([series] if series else [])
    # An 'unknown' bar cannot be expressed as a filter: clicking it would show too much.
    return "" if any(row[k] is None for k in keys) else urlencode({k: row[k] for k in keys})


def query_string(params: Mapping[str, Any], **changes: Any) -> str:
    """`params` with `changes` applied (None removes a key), as `?a=1&b=2` for links in pages."""
    merged = {k: v for k, v in {**params, **changes}.items() if v not in (None, "", False)}
    return "?" + urlencode(merged) if merged else ""


# ------------------------------------------------------------------------------ errors
def _status(exc: Exception) -> int:
    return next((status for cls, status in ERROR_STATUS.items() if isinstance(exc, cls)), 500)


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/") or "text/html" not in request.headers.get("accept", "")


def no_preview_response(exc: NoPreview) -> FileResponse:
    """The placeholder picture, with the reason (never a file's bytes) in a header."""
    reason = no_file_content(str(exc)).encode("ascii", "replace").decode()
    return FileResponse(HERE / "static" / "no-preview.svg", media_type="image/svg+xml",
                        headers={"X-Emcensus-No-Preview": reason, "Cache-Control": "no-store"})


def error_response(request: Request, status: int, message: str) -> Response:
    message = no_file_content(message)
    if _wants_json(request):
        return JSONResponse({"error": message, "status": status}, status)
    return request.app.state.templates.TemplateResponse(
        request, "error.html", {"status": status, "message": message}, status_code=status)


def _register_errors(app: FastAPI) -> None:
    @app.exception_handler(EmcensusError)
    async def emcensus_error(request: Request, exc: EmcensusError) -> Response:
        return error_response(request, _status(exc), str(exc))

    @app.exception_handler(RequestValidationError)
    async def bad_parameter(request: Request, exc: RequestValidationError) -> Response:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'][1:]) or e['loc'][0]}: {e['msg']}" for e in exc.errors())
        return error_response(request, 400, f"bad parameter: {problems}")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        message = "no such page" if exc.status_code == 404 else str(exc.detail)
        return error_response(request, exc.status_code, message)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        return error_response(request, 500, f"internal error ({type(exc).__name__}); details are in the server log")


# ------------------------------------------------------------------------------ the app
def create_app(catalog_path: str | Path, *, token: str | None = None, allowed_hosts: list[str] | None = None) -> FastAPI:
    """The dashboard over `catalog_path`. `token`: required on every request when set.
    `allowed_hosts`: Host header values accepted (a loopback server refuses DNS-rebinding pages)."""
    token = check_token(token)
    Catalog(catalog_path, readonly=True).close()  # a missing or foreign catalog fails now, not per request
    app = FastAPI(title="emcensus dashboard API", version=__version__, docs_url=None, redoc_url=None,
                  dependencies=[Depends(known_parameters)],
                  description="The JSON API behind every dashboard page. Filters take the same values as "
                              "`emcensus count` options (`year=2015-2019`, `magnification=1000-50000`, lists with commas).")
    app.state.catalog_path = str(catalog_path)
    app.state.thumbs = cache_dir(catalog_path)
    app.state.previews = PreviewPool()
    app.state.storage_cache = {}
    templates = Jinja2Templates(directory=HERE / "templates")
    templates.env.globals.update(query_string=query_string, sorts=SORTS, audit_kinds=AUDIT_KINDS)
    templates.env.filters.update(quantity=quantity, shown=display_path)
    app.state.templates = templates
    app.add_middleware(GuardMiddleware, token=token)
    if allowed_hosts:
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts)
    _register_errors(app)
    _add_api(app)
    _add_pages(app, templates)
    from emcensus.web.review import router as review  # it uses this module's dependencies

    app.include_router(review)
    _add_assets(app)
    return app


def _add_assets(app: FastAPI) -> None:
    """Everything a page loads comes from this server (an isolated facility network has no CDN)."""
    cached = {"Cache-Control": "max-age=86400"}

    @app.get("/static/plotly.min.js", include_in_schema=False)
    def plotly_js() -> FileResponse:
        return FileResponse(PLOTLY_JS, media_type="text/javascript", headers=cached)

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> FileResponse:
        return FileResponse(FAVICON, media_type="image/svg+xml", headers=cached)

    @app.get("/docs", include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        page = get_swagger_ui_html(openapi_url="/openapi.json", title=f"{app.title} · Swagger UI",
                                   swagger_js_url="/static/docs/swagger-ui-bundle.js",
                                   swagger_css_url="/static/docs/swagger-ui.css", swagger_favicon_url="/favicon.ico",
                                   swagger_ui_parameters={"validatorUrl": None})
        page.headers["Content-Security-Policy"] = DOCS_POLICY
        return page

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> HTMLResponse:
        page = get_redoc_html(openapi_url="/openapi.json", title=f"{app.title} · ReDoc",
                              redoc_js_url="/static/docs/redoc.standalone.js", redoc_favicon_url="/favicon.ico",
                              with_google_fonts=False)
        page.headers["Content-Security-Policy"] = DOCS_POLICY  # ReDoc's footer logo would come from its CDN
        return page

    app.mount("/static/docs", StaticFiles(directory=DOCS_ASSETS), name="docs-assets")
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")


def _add_api(app: FastAPI) -> None:
    @app.get("/api/count", tags=["census"], **FILTERED)
    def api_count(catalog: CatalogDep, filters: FiltersDep, by: str = "", files: bool = False) -> list[dict[str, Any]]:
        """Images matching the filters, grouped by `by` (comma-separated `emcensus count --by` fields:
        year, instrument, technique, detector, magnification, ...). Acquisitions unless `files=true`."""
        return catalog.count(by, files=files, **filters)

    @app.get("/api/images", tags=["images"], **FILTERED)
    def api_images(catalog: CatalogDep, filters: FiltersDep, order: str = "path",
                   limit: Annotated[int, Query(ge=1, le=1000)] = 100, offset: Offset = 0) -> dict[str, Any]:
        """Image files matching the filters (every file, exports included), one page, sorted by `order`."""
        items = with_quality(catalog, catalog.images(limit=limit, offset=offset, order=order, **filters))
        return {"total": catalog.total(files=True, **filters), "offset": offset, "limit": limit,
                "items": [public(r) for r in items]}

    @app.get("/api/images.csv", tags=["images"], response_class=StreamingResponse, **FILTERED)
    def api_images_csv(catalog: CatalogDep, filters: FiltersDep, order: str = "path") -> StreamingResponse:
        """Every image file matching the filters, as CSV (the Explore page's download)."""
        catalog.images(limit=1, order=order, **filters)  # fail with a 400 now, not inside the stream
        # The stream outlives the request's connection: it uses one of its own.
        stream_catalog = Catalog(app.state.catalog_path, readonly=True)

        def rows() -> Iterator[str]:
            buffer = io.StringIO()
            writer = csv.writer(buffer)
            writer.writerow(IMAGE_COLUMNS)
            try:
                for offset in range(0, 1 << 62, 5000):
                    batch = with_quality(stream_catalog, stream_catalog.images(limit=5000, offset=offset, order=order,
                                                                               **filters))
                    writer.writerows([r[c] for c in IMAGE_COLUMNS] for r in batch)
                    yield buffer.getvalue()
                    buffer.seek(0)
                    buffer.truncate()
                    if len(batch) < 5000:
                        break
            finally:
                stream_catalog.close()

        return StreamingResponse(rows(), media_type="text/csv",
                                 headers={"Content-Disposition": 'attachment; filename="emcensus-images.csv"'})

    @app.get("/api/images/{image_id}", tags=["images"])
    def api_image(catalog: CatalogDep, image_id: ImageId) -> dict[str, Any]:
        """One image file: its catalog row, normalised record and original vendor metadata."""
        return image_detail(catalog, catalog.image(image_id))

    @app.get("/api/images/{image_id}/sidecar", tags=["images"])
    def api_sidecar(catalog: CatalogDep, image_id: ImageId) -> dict[str, Any]:
        """The metadata sidecar's text, decoded (read-only; null when the image has none)."""
        row = catalog.image(image_id)
        return {"path": sidecar_of(row), "text": sidecar_text(row, root_paths(catalog))}

    @app.get("/api/images/{image_id}/neighbours", tags=["images"])
    def api_neighbours(catalog: CatalogDep, image_id: ImageId) -> list[dict[str, Any]]:
        """Files of the same folder (the same session, usually), nearest by name."""
        return [public(r) for r in neighbours(catalog, catalog.image(image_id))]

    @app.get("/api/thumbnail/{image_id}", tags=["images"], response_class=FileResponse)
    async def api_thumbnail(image_id: ImageId) -> Response:
        """A contrast-stretched PNG preview (cached beside the catalog). Files without a cheap preview
        (vendor formats, unreadable or huge pixels, not made within the time limit) get a placeholder
        SVG and an `X-Emcensus-No-Preview` header saying why."""
        def locate() -> tuple[Path, str, list[str]]:
            with Catalog(app.state.catalog_path, readonly=True) as catalog:
                row, roots = catalog.image(image_id), root_paths(catalog)
            source = on_disk(row["path"], roots)
            if row.get("kind") == "sidecar-only":
                raise NoPreview("a sidecar whose image file is gone: no pixels to show")
            return source, f"{image_id}-{row['size_bytes']}-{row['mtime_ns']}", roots

        try:
            source, key, roots = await run_in_threadpool(locate)
            png = await app.state.previews.thumbnail(source, app.state.thumbs, key, roots)
        except NoPreview as exc:
            return no_preview_response(exc)
        return FileResponse(png, media_type="image/png", headers={"Cache-Control": "private, max-age=86400"})

    @app.get("/api/table1", tags=["publications"])
    def api_table1(catalog: CatalogDep) -> dict[str, Any] | None:
        """Table 1: images acquired, published and lost per technique (null while no article is known)."""
        table = table1(catalog)
        return table.to_dict() if table else None

    @app.get("/api/storage", tags=["storage"])
    def api_storage(request: Request, catalog: CatalogDep, by: str = ",".join(STORAGE_BY)) -> dict[str, Any]:
        """Bytes per group, yearly intake with its growth fit and 3-year forecast, bytes of lost and
        published images (costs need a facility file: `emcensus storage --config`)."""
        return storage_summary(request, catalog, [name for name in by.split(",") if name]).to_dict()

    @app.get("/api/articles", tags=["publications"])
    def api_articles(catalog: CatalogDep) -> list[dict[str, Any]]:
        """Every article, with how many images it holds (linked files and count-level rows)."""
        return catalog.article_summaries()

    @app.post("/api/images/{image_id}/articles", tags=["publications"])
    def api_link(request: Request, image_id: ImageId, article: Annotated[str, Body(embed=True)],
                 linked: Annotated[bool, Body(embed=True)] = True) -> dict[str, Any]:
        """Link this image to an article (`linked: false` unlinks). Needs the `X-CSRF-Token` header."""
        with Catalog(request.app.state.catalog_path) as writable:  # the only write the dashboard makes
            path = writable.image(image_id)["path"]
            change = writable.link_images if linked else writable.unlink_images
            return {"image": image_id, "article": article, "linked": linked, "changed": change(article, [path])}

    @app.get("/api/roots", tags=["census"])
    def api_roots(catalog: CatalogDep) -> list[dict[str, Any]]:
        """The scan roots: the only folders the dashboard reads from."""
        return catalog.roots()

    @app.get("/api/audit", tags=["audit"])
    def api_audit(catalog: CatalogDep) -> dict[str, Any]:
        """Census totals and how many entries each audit list holds, with what each list means."""
        counts = catalog.audit()
        return {"totals": {k: counts[k] for k in ("image_files", "acquisitions")},
                "lists": {kind: {"count": counts[kind], "description": text} for kind, text in AUDIT_KINDS.items()}}

    @app.get("/api/audit/{kind}", tags=["audit"])
    def api_audit_list(catalog: CatalogDep, kind: str, limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                       offset: Offset = 0) -> dict[str, Any]:
        """One audit list, a page at a time; `more` says whether another page follows."""
        return audit_page(catalog, kind, limit, offset)


def storage_summary(request: Request, catalog: Catalog, by: Sequence[str]) -> StorageSummary:
    """`report.storage.catalog_storage`, computed again only when the catalog file (or its WAL)
    changed: it reads every file's row, too slow to repeat on every visit of a large catalog. Kept
    under the same rule as the catalog's own result cache (`catalog.query.ResultCache`), and only
    within the calendar year it was computed in (the growth fit leaves out the current year)."""
    stamp = file_stamp(Path(request.app.state.catalog_path))  # taken before: a write meanwhile is seen next time
    state = (stamp, date.today().year)
    cache = request.app.state.storage_cache
    cached = cache.get(tuple(by))
    if stamp is not None and cached is not None and cached[0] == state:
        return cached[1]
    summary = catalog_storage(catalog, by=by)
    if stamp is not None and stamp_settled(stamp, ResultCache.SETTLED_S):
        if len(cache) >= 16:
            cache.clear()  # a few groupings at a time: the cache never grows without bound
        cache[tuple(by)] = (state, summary)
    return summary


def image_detail(catalog: Catalog, row: dict[str, Any]) -> dict[str, Any]:
    """What the API and the image page show of one file (refused when it now resolves outside the roots)."""
    check_inside(row, root_paths(catalog))
    record = catalog.record(fs_path(row["path"]))
    normalised = asdict(record) if record else {}
    normalised["path"] = row["path"]  # catalog text, as everywhere in the API (the record's is the disk's)
    original = normalised.pop("original_metadata", {})
    return {"image": public(row), "record": normalised, "original_metadata": original,
            "error": no_file_content(row["error"]) if row.get("error") else None,
            "published_in": catalog.articles_of_image(row["id"]), "quality": catalog.image_quality(row["id"])}


def table1(catalog: Catalog, acquired: Mapping[str | None, int] | None = None) -> Table1 | None:
    """Table 1 of the paper; None before any article is known (nothing to compare yet). `acquired`:
    the images per technique, when the caller counted them."""
    return catalog_table1(catalog, acquired=acquired) if catalog.has_articles() else None


def audit_page(catalog: Catalog, kind: str, limit: int, offset: int) -> dict[str, Any]:
    if kind not in AUDIT_KINDS:
        raise NotFoundError(f"no audit list {kind!r}; lists: {', '.join(AUDIT_KINDS)}")
    rows = catalog.audit_list(kind, limit=limit + 1, offset=offset)
    items = rows[:limit]
    for row in items:
        if isinstance(row.get("reason"), str):
            row["reason"] = no_file_content(row["reason"])
        if "path" in row:  # link each listed file that is catalogued to its image page
            found = catalog.find_images(row["path"])
            row["image_id"] = found[0][0] if found else None
    return {"kind": kind, "description": AUDIT_KINDS[kind], "offset": offset, "limit": limit,
            "more": len(rows) > limit, "items": items}


def _add_pages(app: FastAPI, templates: Jinja2Templates) -> None:
    def page(request: Request, name: str, **context: Any) -> HTMLResponse:
        return templates.TemplateResponse(request, name, context)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def overview(request: Request, catalog: CatalogDep) -> HTMLResponse:
        # magnification counted apart: joined, the one read is of the magnification time cube grouped
        # on six columns, which SQLite sorts slower than the census cube's five and magnification
        # alone (1 M images, after a write: 150-177 against 101-122 ms CPU, alternated)
        by_year, by_instrument, by_detector, by_technique, [acquisitions], [files] = catalog.count_several(
            [("year,technique", False), ("instrument", False), ("detector", False), ("technique", False), ("", False),
             ("", True)])
        charts = {
            "year": bar_traces(by_year, "year", "technique"),
            "instrument": bar_traces(by_instrument, "instrument"),
            "detector": bar_traces(by_detector, "detector"),
            "magnification": bar_traces(magnification_decades(catalog.count("magnification")), "label"),
        }
        return page(request, "overview.html", acquisitions=acquisitions["count"], files=files["count"],
                    table1=table1(catalog, {row["technique"]: row["count"] for row in by_technique}),
                    roots=catalog.roots(), scans=catalog.scans(3),
                    charts=json.dumps(charts).replace("<", "\\u003c"))  # safe inside <script>

    @app.get("/explore", response_class=HTMLResponse, include_in_schema=False)
    def explore(request: Request, catalog: CatalogDep, filters: FiltersDep, order: str = "path",
                page_number: PageNumber = 1, per_page: Annotated[int, Query(ge=1, le=500)] = 48) -> HTMLResponse:
        total = catalog.total(files=True, **filters)
        # Past the last page: an empty page that says so (the sort is still checked).
        offset = min((page_number - 1) * per_page, total)
        items = with_quality(catalog, catalog.images(limit=per_page, offset=offset, order=order, **filters))
        names = ("instrument", "technique", "detector")
        choices = {name: [r[name] for r in counts if r[name] is not None]
                   for name, counts in zip(names, catalog.count_several([(name, False) for name in names]), strict=True)}
        choices["root"] = [r["path"] for r in catalog.roots()]
        choices["kind"] = [kind for kind in KINDS if kind != "image"] + ["all"]  # blank: micrographs only
        choices["blank"], choices["quality_flag"] = ["yes", "no"], list(QUALITY_FLAGS)
        state = {k: v for k, v in request.query_params.items() if k not in ("page", "token")}
        return page(request, "explore.html", items=items, total=total, acquisitions=catalog.total(**filters),
                    filters=filters, state=state,
                    order=order, page=page_number, per_page=per_page, pages=max(1, math.ceil(total / per_page)),
                    fields=list(FILTER_FIELDS), choices=choices, csv_query=query_string(filters, order=order))

    @app.get("/images/{image_id}", response_class=HTMLResponse, include_in_schema=False)
    def image_page(request: Request, catalog: CatalogDep, image_id: ImageId) -> HTMLResponse:
        row = catalog.image(image_id)
        detail = image_detail(catalog, row)
        return page(request, "image.html", **detail, neighbours=neighbours(catalog, row), articles=catalog.articles(),
                    sidecar=sidecar_text(row, root_paths(catalog)),
                    original_json=json.dumps(detail["original_metadata"], indent=2, ensure_ascii=False, default=str))

    @app.get("/storage", response_class=HTMLResponse, include_in_schema=False)
    def storage(request: Request, catalog: CatalogDep) -> HTMLResponse:
        return page(request, "storage.html", storage=storage_summary(request, catalog, STORAGE_BY))

    @app.get("/audit", response_class=HTMLResponse, include_in_schema=False)
    def audit(request: Request, catalog: CatalogDep) -> HTMLResponse:
        return page(request, "audit.html", counts=catalog.audit())

    @app.get("/audit/{kind}", response_class=HTMLResponse, include_in_schema=False)
    def audit_list(request: Request, catalog: CatalogDep, kind: str, page_number: PageNumber = 1) -> HTMLResponse:
        per_page = 100
        data = audit_page(catalog, kind, per_page, (page_number - 1) * per_page)
        return page(request, "audit_list.html", **data, page=page_number)
