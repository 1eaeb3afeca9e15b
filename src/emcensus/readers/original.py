"""Original metadata kept as the vendor's text: one parser per stored form, so whoever reads it
(the catalog's record, export and reuse rows) gets the dict the reader would have built.

A census stores a sidecar's text (`RawOriginal`) where its dict costs a reading process more than
the text: the parse of the whole file and its JSON. Stored forms are never renamed (catalogs keep them),
and a new one comes with a schema migration, so that an older emcensus refuses the catalog instead of
failing on a form it cannot read.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import orjson

from emcensus.readers.base import RawOriginal
from emcensus.readers.common import parse_ini


#: Stored form -> the parser its reader makes the original metadata with.
PARSERS: dict[str, Callable[[str], dict[str, Any]]] = {
    "hitachi-sem": parse_ini,  # readers.hitachi: the `[SemImageFile]` sidecar's sections, as `parse_ini` gives them
}


def as_dict(original: dict[str, Any] | RawOriginal) -> dict[str, Any]:
    """A reading's original metadata as the dict its reader would have built."""
    return PARSERS[original.form](original.text) if isinstance(original, RawOriginal) else original


def original_metadata(stored: str | None, form: str | None) -> dict[str, Any]:
    """The original metadata a catalog row holds: JSON (`form` None), or text the parser of `form` reads."""
    if not stored:
        return {}
    if form is None:
        return json.loads(stored)  # as written: `metadata_text` may have fallen back to json's NaN
    return PARSERS[form](stored)


def original_json(stored: str | None, form: str | None) -> str | None:
    """`original_metadata` as JSON text, for the exports (stored JSON is returned as it is)."""
    if form is None or stored is None:
        return stored
    return metadata_text(PARSERS[form](stored))


#: orjson hands these to `_plain` (as `json.dumps(default=str)` sees them) instead of its own forms.
_PASSTHROUGH = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_SUBCLASS


def _plain(value: object) -> object:
    """What `json.dumps(default=str)` writes for a value orjson does not take as it is."""
    for kind in (float, int, str, dict, list):  # subclasses (numpy.float64, IntEnum): as their base
        if isinstance(value, kind):
            return kind(value)
    return str(value)


def metadata_text(metadata: dict) -> str:
    """A vendor tree as JSON text, with the values `json.dumps(ensure_ascii=False, default=str)`
    gives, in a fifth of its time (orjson); what orjson refuses (integers beyond 64 bits, lone
    surrogates, keys that are not text) goes through json. NaN and infinities become null."""
    try:
        return orjson.dumps(metadata, default=_plain, option=_PASSTHROUGH).decode()
    except orjson.JSONEncodeError:
        return json.dumps(metadata, ensure_ascii=False, default=str)
