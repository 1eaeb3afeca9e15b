"""The facility file: which instruments a facility has and where each one's images live.

    [facility]
    name = "Center for structural analysis"
    layout = "{group}/{project}/**"        # folders below each root

    [[instrument]]
    name = "SU8230"                          # as it will appear in every count
    model = "Regulus8230"                    # optional: looked up in the built-in model table
    vendor = "Hitachi"                       # optional: overrides the table
    technique = "SEM"                        # optional: overrides the table
    roots = ["/mnt/archive/SU8230"]

Values from the file win over the built-in table, which wins over nothing.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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


@dataclass(slots=True)
class Facility:
    name: str = "facility"
    layout: str | None = None
    instruments: list[Instrument] = field(default_factory=list)

    def root_specs(self) -> list[RootSpec]:
        return [
            RootSpec(root, instrument.name, instrument.vendor, instrument.technique)
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
        instruments.append(Instrument(entry["name"], roots, entry.get("model"), vendor, technique))
    if not instruments:
        raise ConfigError(f"{path}: no [[instrument]] with roots")
    return Facility(facility_table.get("name", "facility"), facility_table.get("layout"), instruments)
