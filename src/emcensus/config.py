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

import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from emcensus.access import read_bounded
from emcensus.analysis.layout import compile_layout
from emcensus.errors import ConfigError, UnreadableFileError
from emcensus.scan import RootSpec
from emcensus.vocab import TECHNIQUES, lookup_model

if TYPE_CHECKING:
    from emcensus.analysis.storage import CostModel  # numpy: loaded by the commands that cost storage


#: A facility file lists instruments and folders: anything near this size is not one.
MAX_FACILITY_BYTES = 1 << 20


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
    """Read and check a facility TOML file; relative roots are relative to the file.

    Read under the file-access policy (a FIFO or a huge file named facility.toml is refused, not
    waited on), and every value is checked for its type: a string where a list belongs would
    otherwise become one root per character."""
    path = Path(path)
    data = read_facility_toml(path)
    facility_table = _table(data.get("facility", {}), f"{path}: [facility]")
    entries = data.get("instrument", [])
    if not isinstance(entries, list):
        raise ConfigError(f"{path}: instruments are written [[instrument]], one table each")
    instruments = []
    for index, entry in enumerate(entries, start=1):
        where = f"{path}: [[instrument]] #{index}"
        entry = _table(entry, where)
        name, roots = entry.get("name"), entry.get("roots")
        if not isinstance(name, str) or not name.strip() or not isinstance(roots, list) or not roots:
            raise ConfigError(f"{where} needs a name and a list of roots, e.g. roots = [\"/mnt/archive/SU8230\"]")
        where = f"{path}: instrument {name}"
        if not all(isinstance(root, str) and root for root in roots):
            raise ConfigError(f"{where}: each root is a folder path in quotes")
        texts = {key: _text(entry.get(key), f"{where}: {key}") for key in ("model", "vendor", "technique")}
        vendor, technique = instrument_defaults(name, texts["model"], texts["vendor"], texts["technique"])
        reference = entry.get("magnification_reference_mm")
        if reference is not None and (isinstance(reference, bool) or not isinstance(reference, int | float)
                                      or not math.isfinite(reference) or reference <= 0):
            raise ConfigError(f"{where}: magnification_reference_mm must be a positive number of millimetres")
        resolved = [str((path.parent / root).resolve()) for root in roots]
        instruments.append(Instrument(name, resolved, texts["model"], vendor, technique, reference))
    if not instruments:
        raise ConfigError(f"{path}: no [[instrument]] with roots")
    layout = _text(facility_table.get("layout"), f"{path}: [facility] layout")
    if layout is not None:
        compile_layout(layout)  # a bad pattern fails here, not in the middle of a scan
    return Facility(_text(facility_table.get("name"), f"{path}: [facility] name") or "facility", layout, instruments)


def read_facility_toml(path: Path) -> dict[str, Any]:
    """The facility file's TOML as a dict: the one reader of that file for every table in it
    (`[facility]`, `[[instrument]]`, `[costs]`, `[watch]`, `[reuse]`), so each is read under the
    file-access policy and size bound, and a bad file gets the same ConfigError saying what is wrong."""
    try:
        return tomllib.loads(read_bounded(path, MAX_FACILITY_BYTES, "facility file").decode("utf-8"))
    except UnreadableFileError as exc:
        raise ConfigError(f"cannot read facility file {path}: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path} is not UTF-8 text (byte {exc.start}): save it as UTF-8") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from exc


#: Numbers of `[costs]`, each a price or a time that only makes sense above 0.
_COST_NUMBERS = ("instrument_hour", "tb_year", "minutes_per_image", "session_gap_minutes")


def load_costs(path: str | Path) -> CostModel:
    """The `[costs]` table of a facility file (storage and cost of lost data); every key optional:

        [costs]
        currency = "EUR"
        instrument_hour = 120          # price of one instrument hour
        tb_year = 30                   # price of keeping 1 TB (10^12 bytes) one year
        minutes_per_image = 3          # instrument time one image takes
        session_gap_minutes = 30       # acquisitions closer than this are one session
        session_overhead_minutes = 20  # set-up time of every session
        [costs.instrument_hours]       # per-instrument prices, over instrument_hour
        SU8230 = 150

    A value that is not a positive number is refused: a typo must not become a plausible cost."""
    from emcensus.analysis.storage import CostModel

    path = Path(path)
    where = f"{path}: [costs]"
    table = _table(read_facility_toml(path).get("costs", {}), where)
    unknown = sorted(set(table) - {*_COST_NUMBERS, "currency", "instrument_hours", "session_overhead_minutes"})
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}")
    numbers = {key: _positive(table.get(key), f"{where} {key}") for key in _COST_NUMBERS}
    overhead = table.get("session_overhead_minutes", 0)
    if overhead != 0:
        overhead = _positive(overhead, f"{where} session_overhead_minutes")
    per_instrument = _table(table.get("instrument_hours", {}), f"{where} instrument_hours")
    hours = {name: _positive(value, f"{where} instrument_hours.{name}") for name, value in per_instrument.items()}
    return CostModel(currency=_text(table.get("currency"), f"{where} currency") or "EUR", instrument_hours=hours,
                     session_overhead_minutes=float(overhead), **numbers)


def load_watch(path: str | Path) -> dict[str, Any]:
    """The `[watch]` table of a facility file (`emcensus watch`); every key optional:

        [watch]
        interval = 60            # seconds between polls
        sidecar_timeout = 120    # seconds an image waits for its sidecar (Hitachi, JEOL SEM)
        recent_days = 2          # date-named folders of the last days, listed every poll
        full_sweep_hour = 3      # local hour of the daily full sweep
        max_backoff = 900        # longest wait before retrying an unreachable share

    Returns the keys given, checked; a command-line option wins over them."""
    path = Path(path)
    where = f"{path}: [watch]"
    table = _table(read_facility_toml(path).get("watch", {}), where)
    unknown = sorted(set(table) - {"interval", "sidecar_timeout", "recent_days", "full_sweep_hour", "max_backoff"})
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}")
    found: dict[str, Any] = {key: _positive(table.get(key), f"{where} {key}")
                             for key in ("interval", "sidecar_timeout", "max_backoff") if key in table}
    for key, low, high in (("recent_days", 0, 366), ("full_sweep_hour", 0, 23)):
        if key in table:
            value = table[key]
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise ConfigError(f"{where} {key} must be a whole number from {low} to {high}, not {value!r}")
            found[key] = value
    return found


def _positive(value: Any, where: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
        raise ConfigError(f"{where} must be a positive number, not {value!r}")
    return float(value)


def _table(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError(f"{where} must be a table of keys and values")
    return value


def _text(value: Any, where: str) -> str | None:
    if value is not None and not isinstance(value, str):
        raise ConfigError(f"{where} must be text in quotes, not {value!r}")
    return value
