"""`emcensus reuse report OUT.html --group G`: for one group, what it took, what it published and
its best unpublished images, in one self-contained HTML file (thumbnails inline, no network).

The report is for the group itself, so it names its projects and files; it is never part of an
export. Thumbnails are read under the scan's per-file budget: a file that blocks or fails is shown
as a line saying so.
"""

from __future__ import annotations

import base64
import io
import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from emcensus import __version__
from emcensus.catalog import Catalog
from emcensus.catalog.connection import archive_roots
from emcensus.catalog.paths import display_path
from emcensus.errors import EmcensusError
from emcensus.outputs import guard_output, whole_file
from emcensus.scan.pool import FILE_TIMEOUT_S, Budget, ReadTimeout, timeout_reason

#: Best unpublished images shown, and the thumbnail's longest side.
BEST_IMAGES = 12
THUMB_PX = 256


@dataclass(slots=True)
class GroupReport:
    """Everything the page shows."""

    group: str
    by_year: list[dict[str, Any]]
    by_project: list[dict[str, Any]]
    articles: list[dict[str, Any]]
    best: list[dict[str, Any]]
    unmeasured: int
    created: datetime = field(default_factory=lambda: datetime.now().replace(microsecond=0))

    @property
    def acquired(self) -> int:
        return sum(row["acquired"] for row in self.by_year)

    @property
    def published(self) -> int:
        return sum(row["published"] for row in self.by_year)

    @property
    def unpublished_percent(self) -> float | None:
        """Share never published; None without images (no percentage of nothing)."""
        return 100 * (self.acquired - self.published) / self.acquired if self.acquired else None


def build_group_report(catalog: Catalog, group: str, best: int = BEST_IMAGES) -> GroupReport:
    """The report's numbers and best images (thumbnails read now) for `group`."""
    images = catalog.best_unpublished(group, best)
    for image in images:
        image["thumbnail"], image["thumbnail_error"] = thumbnail_data(image["path"])
        image["path"] = display_path(image["path"])
    return GroupReport(group, catalog.group_summary(group, ("year", "technique")),
                       catalog.group_summary(group, ("project",)), catalog.group_articles(group), images,
                       catalog.unmeasured_count(group))


def thumbnail_data(path: str) -> tuple[str | None, str | None]:
    """(a PNG data URL of the image, None) or (None, why there is none)."""
    from PIL import Image

    from emcensus.figures.features import to_grey8
    from emcensus.quality.pixels import read_image
    from emcensus.quality.runner import MAX_PIXELS

    try:
        with Budget(FILE_TIMEOUT_S) as budget, budget.file(0):  # the images quality ranked, read as it read them
            grey = to_grey8(read_image(path, MAX_PIXELS))
        image = Image.fromarray(grey)
        image.thumbnail((THUMB_PX, THUMB_PX))
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
    except ReadTimeout:
        return None, timeout_reason(FILE_TIMEOUT_S)
    except (EmcensusError, OSError, ValueError) as exc:
        return None, str(exc) or type(exc).__name__
    except Exception as exc:  # a decoder's own error on a damaged file: a line instead of a preview
        return None, f"cannot decode: {type(exc).__name__}"
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode(), None


def write_group_report(catalog: Catalog, out: str | os.PathLike[str], group: str) -> Path:
    """Check `out` (never in an archive, an .html file in an existing folder), then write the page."""
    target = guard_output(out, archive_roots(catalog.db), what="group report", suffixes={".html", ".htm"})
    report = build_group_report(catalog, group)
    environment = Environment(loader=PackageLoader("emcensus", "reuse/templates"), autoescape=select_autoescape())
    html = environment.get_template("group_report.html").render(report=report, version=__version__)
    with whole_file(target) as partial:
        partial.write_text(html, encoding="utf-8")
    return target
