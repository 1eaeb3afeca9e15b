"""The filter options every image query shares (`count`, `reuse export`, ...), apart from `main`
so that a command module can use them without importing the command group that imports it."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

import click

from emcensus.catalog.query import ImageFilter

#: `ImageFilter` fields whose option's parameter has another name.
_OPTION_NAMES = {"path": "path_glob"}


def filter_options(command: Any) -> Any:
    """The filters shared by `count` and `export` (and every future query command)."""
    options = [
        click.option("--year", help="Year or range: 2019, 2015-2019."),
        click.option("--since", type=int, help="First year (inclusive)."),
        click.option("--until", type=int, help="Last year (inclusive); the paper stops at 2023."),
        click.option("--instrument", help="Instrument name(s), comma-separated."),
        click.option("--technique", help="SEM, TEM, STEM (comma-separated)."),
        click.option("--detector", help="Detector family: SE, LA-BSE, HA-BSE, PDBSE, BSE, TE, BF-STEM, DF-STEM, ..."),
        click.option("--vendor", help="Vendor(s), comma-separated."),
        click.option("--magnification", "--mag", "magnification", help="Magnification or range: 50000, 1000-50000."),
        click.option("--fov", help="FOV width in metres, or a range with units: 1um-10um, 500nm-2um."),
        click.option("--scalebar-decade", help="Scale-bar decade(s): '10-100nm', '100nm-1um' (see README)."),
        click.option("--group", help="Group(s) from the facility layout, comma-separated."),
        click.option("--project", help="Project(s) from the facility layout, comma-separated."),
        click.option("--root", help="Only files under this scan root."),
        click.option("--path", "path_glob", help="Glob on the full path, e.g. '*/GroupA/*'."),
        click.option("--include-missing", is_flag=True, help="Also count files gone from disk."),
        click.option("--kind", help="What files hold: image (default), spectrum, diffraction, spectrum-image, stack, "
                                    "sidecar-only (comma-separated), or all."),
        click.option("--blank", help="yes | no: measured as an empty frame or not (emcensus quality)."),
        click.option("--sharpness-pct", help="Sharpness percentile among comparable images: 50-100 (emcensus quality)."),
        click.option("--quality-flag", help="Quality flag(s): ok, blank, clipped, charging, drift, blurred, noisy."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def filter_values(kwargs: dict[str, Any]) -> dict[str, Any]:
    """The filters given (popped from a command's keyword arguments), as `ImageFilter` takes them:
    one per field of `ImageFilter`, so a filter added there and here is never left unapplied."""
    filters = {name: kwargs.pop(_OPTION_NAMES.get(name, name), None) for name in (f.name for f in fields(ImageFilter))}
    return {k: v for k, v in filters.items() if v not in (None, False)}
