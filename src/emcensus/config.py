"""The facility file: which instruments a facility has and where each one's images live.

    [facility]
    name = "Center for structural analysis"
    layout = "{group}/{project}/**"        # folders below each root

    [[instrument]]
    name = "SU8230"                          # as it will appear in every count
    model = "Regulus8230"                    # optional: looked up in the built-in model table
    vendor = "Hitachi"                       # optional: overrides the table
    technique = "SEM"                        # optional: overrides the table
    magnification_reference_mm = 127         # optional: width magnification refers to
    roots = ["/mnt/archive/SU8230"]

Values from the file win over the built-in table, which wins over nothing.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from emcensus.analysis.layout import compile_layout
from emcensus.errors import ConfigError
from emcensus.scan import RootSpec
from emcensus.vocab import TECHNIQUES, lookup_model


@dataclass(slots=True)
class Instrument:
    name: str
    roots: list[str]
    model: str | None = None
    vendor: str | None = None
    technique: str | None = None
    magnification_reference_mm: float | None = None


@dataclass(slots=True)
class Facility:
    name: str = "facility"
    layout: str | None = None
    instruments: list[Instrument] = field(default_factory=list)

    def root_specs(self) -> list[RootSpec]:
        return [
            RootSpec(
                root, instrument.name, instrument.vendor, instrument.technique,
                None if instrument.magnification_reference_mm is None else instrument.magnification_reference_mm / 1000,
                self.layout,
            )
            for instrument in self.instruments
            for root in instrument.roots
        ]


def instrument_defaults(name: str, model: str | None = None, vendor: str | None = None,
                        technique: str | None = None) -> tuple[str | None, str | None]:
    """Vendor and technique of an instrument: given values first, then the built-in model table."""
    known = lookup_model(model or name)
    technique = (technique or (known.technique if known else None) or "").upper() or None
    if technique is not None and technique not in TECHNIQUES:
        raise ConfigError(f"instrument {name}: technique must be one of {', '.join(TECHNIQUES)}, not {technique!r}")
    return vendor or (known.vendor if known else None), technique


def load_facility(path: str | Path) -> Facility:
    """Read and check a facility TOML file; relative roots are relative to the file."""
    path = Path(path)
    try:
        data: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read facility file {path}: {exc.strerror or exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from exc
    facility_table = data.get("facility", {})
    instruments = []
    for index, entry in enumerate(data.get("instrument", []), start=1):
        if "name" not in entry or not entry.get("roots"):
            raise ConfigError(f"{path}: [[instrument]] #{index} needs a name and a list of roots")
        roots = [str((path.parent / root).resolve()) for root in entry["roots"]]
        vendor, technique = instrument_defaults(entry["name"], entry.get("model"), entry.get("vendor"), entry.get("technique"))
        reference = entry.get("magnification_reference_mm")
        if reference is not None and (isinstance(reference, bool) or not isinstance(reference, int | float) or reference <= 0):
            raise ConfigError(f"{path}: instrument {entry['name']}: magnification_reference_mm must be a positive number of millimetres")
        instruments.append(Instrument(entry["name"], roots, entry.get("model"), vendor, technique, reference))
    if not instruments:
        raise ConfigError(f"{path}: no [[instrument]] with roots")
    layout = facility_table.get("layout")
    if layout is not None:
        compile_layout(str(layout))  # a bad pattern fails here, not in the middle of a scan
    return Facility(facility_table.get("name", "facility"), layout, instruments)
