"""Hitachi SEM/TEM metadata: the `[SemImageFile]` Key=Value sidecar, and the copy in TIFF XPComment.

PC-SEM (SU8000, SU8230/Regulus, S-4800), TM-series tabletops and, we expect, HT7700 TEM software
write a `.txt` next to each image: `[SemImageFile]` then `Key=Value` lines, CRLF, in UTF-16 or an
ANSI code page (decoding is `Source.sidecar_text`'s job). Units: `AcceleratingVoltage=15000 Volt`,
`WorkingDistance=7706.35 um`, `PixelSize` in nm with no unit; magnification refers to a 127 mm wide
print. Missing keys, unknown sections and other date orders are tolerated; a file with no Hitachi
field at all is refused so that the image is read without it.

TM-series software also stores part of the sidecar in the TIFF's XPComment tag (40092) and the
model in XPAuthor (40093): `HitachiTiffReader` uses that when the sidecar was lost.
"""

from __future__ import annotations

import re
from typing import Any

from emcensus.errors import UnreadableFileError
from emcensus.readers.base import Reading, Source, check_text
from emcensus.readers.common import (SidecarTextReader, TiffTagReader, parse_datetime, parse_ini, per_text, text_or_none,
                                     tiff_tag)
from emcensus.readers.units import to_magnification, to_metres, to_volts

#: Keys only Hitachi software writes; two of them make a section-less Key=Value file Hitachi's.
_HITACHI_KEYS = frozenset({
    "instructname", "signalname", "acceleratingvoltage", "datasize", "semversion", "sdmversion",
    "displaysignalname", "micronmarker", "condencer1", "photosize", "datanumber", "datadisplaycombine",
    "magnificationdisplay",
})
_SIZE = re.compile(r"^\s*(\d{1,7})\s*[xX×*]\s*(\d{1,7})\s*$")
_XP_COMMENT, _XP_AUTHOR = 40092, 40093

#: A session's frames repeat their magnification, voltage and pixel size (50, 14 and 105 distinct
#: values in 15,823 generated sidecars): each text is parsed once per process (13 -> 9 us a frame).
_magnification, _volts, _metres = (per_text(parse) for parse in (to_magnification, to_volts, to_metres))


def looks_hitachi(text: str) -> bool:
    """Cheap sniff: `[SemImageFile]` first, or at least two Hitachi-only keys near the top."""
    head = text[:4096].lstrip("\ufeff \r\n\t")
    if head[:14].lower() == "[semimagefile]":
        return True
    found: set[str] = set()
    for line in head.splitlines():  # a TEM sidecar (`[TemImageFile]`) has two of them in its first lines
        key, sep, _ = line.partition("=")
        if sep and (key := key.strip().lower()) in _HITACHI_KEYS:
            found.add(key)
            if len(found) == 2:
                return True
    return False


def _fields(sections: dict[str, dict[str, str]]) -> dict[str, str]:
    """All keys, lower case, `[SemImageFile]` winning over other sections."""
    merged: dict[str, str] = {}
    setdefault = merged.setdefault  # bound once: a census merges one sidecar of ~100 keys per image
    for _, section in sorted(sections.items(), key=lambda item: item[0].lower() != "semimagefile"):
        for key, value in section.items():
            setdefault(key.lower(), value)
    return merged


def _condition(text: str | None) -> dict[str, str]:
    """`Vacc=15.0kV Mag=x200 WD=7.7mm LensMode=3` into {vacc: 15.0kV, ...}: a fallback source."""
    result: dict[str, str] = {}
    for token in (text or "").split():
        key, sep, value = token.partition("=")
        if sep:
            result[key.lower()] = value
    return result


def reading_from_fields(fields: dict[str, str], original: dict[str, Any], source: str) -> Reading:
    """Normalise Hitachi keys (lower-cased) into a `Reading`; refuse when none is there."""
    size = _SIZE.match(fields.get("datasize", ""))
    magnification = _magnification(fields.get("magnification"))
    volts = _volts(fields.get("acceleratingvoltage"))
    distance = _metres(fields.get("workingdistance"), "um")
    if not (magnification and volts and distance):  # the Condition line is the fallback: parsed only then
        condition = _condition(fields.get("condition"))
        magnification = magnification or _magnification(condition.get("mag"))
        volts = volts or _volts(condition.get("vacc"))
        distance = distance or _metres(condition.get("wd"), "mm")
    reading = Reading(
        vendor="Hitachi",
        model=text_or_none(fields.get("instructname")),
        detector=text_or_none(fields.get("signalname")) or text_or_none(fields.get("displaysignalname")),
        magnification=magnification,
        accelerating_voltage_v=volts,
        working_distance_m=distance,
        pixel_size_m=_metres(fields.get("pixelsize"), "nm"),
        width_px=(int(size[1]) or None) if size else None,
        height_px=(int(size[2]) or None) if size else None,
        acquired_at=parse_datetime(fields.get("date"), fields.get("time")),
        original_metadata=original,
        metadata_source=source,
    )
    if not any((reading.model, reading.detector, reading.magnification, reading.accelerating_voltage_v,
                reading.pixel_size_m)):
        raise UnreadableFileError("Hitachi metadata has none of InstructName, SignalName, Magnification, "
                                  "AcceleratingVoltage, PixelSize")
    return reading


def parse_hitachi(text: str) -> Reading:
    """A Hitachi `[SemImageFile]` sidecar's text as a `Reading`."""
    if not looks_hitachi(text):
        raise UnreadableFileError("not a Hitachi sidecar (no [SemImageFile] section or Hitachi keys)")
    return _parse_sniffed(text)


def _parse_sniffed(text: str) -> Reading:
    """`parse_hitachi` of a text that `looks_hitachi` took: the reader's `parse`, asked only after
    its `looks` (sniffing twice cost ~2 us of a census's ~100 per frame)."""
    sections = parse_ini(text)
    return reading_from_fields(_fields(sections), sections, "sidecar:hitachi-sem")


class HitachiSidecarReader(SidecarTextReader):
    name = "hitachi-sem"
    vendor = "Hitachi"
    looks = staticmethod(looks_hitachi)
    parse = staticmethod(_parse_sniffed)


def _xp_text(value: Any) -> str | None:
    """XP* tags are UTF-16LE bytes (tifffile leaves them undecoded)."""
    if isinstance(value, str):
        return value
    if isinstance(value, (bytes, bytearray)):
        try:
            return check_text(bytes(value).decode("utf-16-le", errors="replace").rstrip("\x00"), "XP tag")
        except UnreadableFileError:
            return None
    return None


class HitachiTiffReader(TiffTagReader):
    """Images whose sidecar is gone: TM-series TIFFs keep PixelSize, SignalName and a
    `Condition=Vacc=15.0kV Mag=x200 WD=7.7mm` line in XPComment, and the model in XPAuthor."""

    name = "hitachi-tiff"
    vendor = "Hitachi"

    def accepts(self, source: Source) -> bool:
        comment = _xp_text(tiff_tag(source, _XP_COMMENT))
        return comment is not None and looks_hitachi(comment)

    def read_tags(self, source: Source, stored_width: int) -> Reading:
        comment = _xp_text(source.tiff_tags.get(_XP_COMMENT)) or ""
        sections = parse_ini(comment)
        fields = _fields(sections)
        author = text_or_none(_xp_text(source.tiff_tags.get(_XP_AUTHOR)))
        if author and "instructname" not in fields:
            fields["instructname"] = author
        original = {"XPComment": sections, "XPAuthor": author}
        return reading_from_fields(fields, original, f"tiff-tag:{_XP_COMMENT}")
