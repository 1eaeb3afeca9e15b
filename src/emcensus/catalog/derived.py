"""Per-image columns derived from a record and its root's settings: FOV, scale bar, group, project.

Computed when a file is written and again for a whole root when its settings change, so `count`
groups and filters on them like on any stored field. No SQL here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from emcensus.analysis.fov import estimate_fov, reference_width, scale_bar_decade
from emcensus.analysis.layout import Layout, compile_layout

#: The derived columns of `images`, in the order `derive` returns them.
DERIVED_COLUMNS = (
    "fov_m", "fov_source", "fov_mag_m", "fov_disagreement", "scale_bar_m", "scalebar_decade", "group_name", "project",
)


@dataclass(frozen=True, slots=True)
class RootSettings:
    """What a root's row says about its instrument, as the derived columns need it."""

    vendor: str | None = None
    technique: str | None = None
    magnification_reference_m: float | None = None
    layout: Layout | None = None

    @classmethod
    def from_row(cls, vendor: str | None, technique: str | None, reference_m: float | None,
                 layout: str | None) -> RootSettings:
        return cls(vendor, technique, reference_m, compile_layout(layout) if layout else None)


def derive(settings: RootSettings, rel_path: str, vendor: str | None, technique: str | None,
           pixel_size_m: float | None, width_px: int | None, magnification: float | None) -> dict[str, Any]:
    """The derived columns of one image; `technique` is the image's (the root's wins: a STEM
    detector on a SEM uses the SEM's magnification reference)."""
    instrument_technique = settings.technique or (technique if technique != "STEM" else None)
    reference = reference_width(settings.vendor or vendor, instrument_technique, settings.magnification_reference_m)
    fov = estimate_fov(pixel_size_m, width_px, magnification, reference.width_m if reference else None)
    fields = settings.layout(rel_path) if settings.layout else {}
    return {
        "fov_m": fov.fov_width_m,
        "fov_source": fov.source,
        "fov_mag_m": fov.from_magnification_m,
        "fov_disagreement": fov.disagreement,
        "scale_bar_m": fov.scale_bar_m,
        "scalebar_decade": scale_bar_decade(fov.fov_width_m),
        "group_name": fields.get("group"),
        "project": fields.get("project"),
    }
