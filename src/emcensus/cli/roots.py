"""The ROOTS and instrument options of `scan` and `watch`, and the root specs they make."""

from __future__ import annotations

import os
from typing import Any

import click

from emcensus.errors import ConfigError


def root_options(command: Any) -> Any:
    """The ROOTS and instrument options shared by `scan` and `watch` (see `root_specs`)."""
    options = [
        click.argument("roots", nargs=-1, type=click.Path(exists=True, file_okay=False)),
        click.option("--instrument", help="Instrument name for these roots (e.g. SU8230)."),
        click.option("--vendor", help="Vendor, when the built-in model table does not know the instrument."),
        click.option("--technique", type=click.Choice(["SEM", "TEM", "STEM"], case_sensitive=False),
                     help="The instrument's technique."),
        click.option("--layout", help="Folder pattern below the roots, e.g. '{group}/{project}/**'."),
        click.option("--magnification-reference-mm", type=click.FloatRange(min=0, min_open=True),
                     help="Width (mm) the instrument's magnification refers to (Hitachi SEM: 127)."),
        click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False),
                     help="Facility TOML file listing instruments and roots."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def root_specs(roots: tuple[str, ...], instrument: str | None, vendor: str | None, technique: str | None,
               layout: str | None, magnification_reference_mm: float | None, config_path: str | None) -> list[Any]:
    """The roots to census: the facility file's, then ROOTS with the instrument options."""
    from emcensus.analysis.layout import compile_layout
    from emcensus.config import load_facility
    from emcensus.scan import RootSpec

    specs = []
    if config_path:
        specs.extend(load_facility(config_path).root_specs())
    if roots:
        if layout:
            compile_layout(layout)  # a bad pattern fails now, not in the middle of a scan
        reference_m = magnification_reference_mm / 1000 if magnification_reference_mm else None
        specs.extend(RootSpec(os.path.abspath(r), instrument, vendor, technique, reference_m, layout) for r in roots)
    if not specs:
        raise ConfigError("nothing to scan: give one or more ROOTS or --config facility.toml")
    return specs
