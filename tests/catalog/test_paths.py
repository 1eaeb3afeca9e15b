"""The catalog's path codec: every name a file system holds round-trips; ordinary names are unchanged."""

from __future__ import annotations

import os
import random

from emcensus.catalog import db_text, display_path, fs_path

RESERVED = "\U0010ff7f\U0010ff80\U0010ffff"


def test_every_name_round_trips_and_is_storable() -> None:
    rng = random.Random(7)
    alphabet = ["a", "/", ".", "é", "日", "\udc80", "\udcf6", "\udcff", *RESERVED, "\U0010ff7e"]
    names = ["".join(rng.choice(alphabet) for _ in range(rng.randrange(12))) for _ in range(5000)]
    names += [os.fsdecode(bytes(range(128, 256))), "\U0010ff7f\U0010ff7f\udc80", RESERVED * 3]
    for name in names:
        text = db_text(name)
        text.encode("utf-8")  # valid UTF-8: SQLite, JSON and HTML take it
        assert fs_path(text) == name
    assert len({db_text(name) for name in names}) == len(set(names))  # no two names share a text


def test_ordinary_names_are_stored_as_themselves() -> None:
    for name in ("/archive/SU8230/img001.tif", "/archive/日本語/Größe.tif", ""):
        assert db_text(name) is name and fs_path(name) is name


def test_display_shows_undecodable_bytes_as_replacement_characters() -> None:
    name = os.fsdecode(b"/archive/Gr\xf6\xdfe.tif")
    assert display_path(db_text(name)) == display_path(name) == "/archive/Gr\ufffd\ufffde.tif"
    assert db_text(name) == "/archive/Gr\U0010fff6\U0010ffdfe.tif"  # one character per byte
