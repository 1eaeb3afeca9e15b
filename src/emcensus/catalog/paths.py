"""Paths in the catalog: lossless for every name a file system holds, readable for people.

A POSIX file name is bytes. Names that are not valid UTF-8 (Latin-1 or cp1251 names from Windows
shares: `b"Gr\\xf6\\xdfe.tif"`) reach Python as `str` holding each undecodable byte as a lone
surrogate U+DC80–U+DCFF (PEP 383, `surrogateescape`). SQLite text must be valid UTF-8, so the
catalog stores such a byte as one character of a reserved block at the very end of Unicode (plane 16
private use): byte 0xXX is stored as U+10FFXX (U+10FF80–U+10FFFF). A name that really holds a
character of the block U+10FF7F–U+10FFFF gets it prefixed by U+10FF7F, so the mapping is
reversible for every name.

Why text and not BLOBs: path columns stay TEXT, so the path index, range queries, GLOB filters,
JSON and CSV keep working, and valid UTF-8 names (nearly all) are stored as themselves. Only strings
that hold a surrogate or a reserved character pay anything beyond one `isascii()` or one search.

Every path a `Catalog` method returns is catalog text (always valid UTF-8, safe to print and
serve); `fs_path` gives the file-system path back before anything opens the file; `display_path`
shows undecodable bytes as U+FFFD for people. Texts for people that may quote a name (errors,
problem reasons) are stored already readable (`readable`).
"""

from __future__ import annotations

import re

_ESCAPE = "\U0010ff7f"  # precedes a reserved character that is really in a name
_SHIFT = 0x10FF00 - 0xDC00  # surrogate U+DCXX <-> U+10FFXX
_TO_ENCODE = re.compile("[\udc80-\udcff\U0010ff7f-\U0010ffff]")
_TO_DECODE = re.compile("\U0010ff7f[\U0010ff7f-\U0010ffff]|[\U0010ff80-\U0010ffff]")
_RESERVED = re.compile("[\U0010ff7f-\U0010ffff]")
_SURROGATE = re.compile("[\ud800-\udfff]")

#: SQL true for catalog text that holds an encoded character (all start with the UTF-8 bytes F4 8F);
#: a partial index of schema 5 covers it, so finding such paths costs nothing for ordinary ones.
ENCODED_SQL = "instr(CAST(path AS BLOB), x'F48F') > 0"


def _encode(match: re.Match[str]) -> str:
    char = match.group()
    return chr(ord(char) + _SHIFT) if char < "\ue000" else _ESCAPE + char


def _decode(match: re.Match[str]) -> str:
    text = match.group()
    return text[1] if len(text) == 2 else chr(ord(text) - _SHIFT)


def db_text(path: str) -> str:
    """The catalog's text for a file-system path (a `str` from `os.scandir`, surrogates and all)."""
    if path.isascii() or not _TO_ENCODE.search(path):
        return path
    return _TO_ENCODE.sub(_encode, path)


def fs_path(text: str) -> str:
    """The file-system path (`str`, surrogateescape) that catalog text stands for: open files by this."""
    if text.isascii() or not _RESERVED.search(text):
        return text
    return _TO_DECODE.sub(_decode, text)


def display_path(text: str) -> str:
    """A path (catalog text or file-system `str`) for people: undecodable bytes shown as U+FFFD."""
    return readable(fs_path(text))


def readable(text: str) -> str:
    """Text for people with any lone surrogate (an undecodable byte) replaced by U+FFFD."""
    if text.isascii() or not _SURROGATE.search(text):
        return text
    return _SURROGATE.sub("\ufffd", text)


__all__ = ["ENCODED_SQL", "db_text", "display_path", "fs_path", "readable"]
