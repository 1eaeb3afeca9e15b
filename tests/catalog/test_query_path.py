"""`--path` globs the folder (and the name's extension) decides are matched against the folder table
(migration 12), and count exactly what plain GLOB counts: for awkward names (GLOB's own '[', '?', '*'
in names, names that are not UTF-8, case, '-' and '0' beside '/' in the path order, several dots, no
dot, a dot in a folder's name), nested roots, missing files, and folders that hold both files and folders."""

from __future__ import annotations

import itertools
import os
import sqlite3
import types
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emcensus.catalog import Catalog
from emcensus.catalog import cube as cube_module
from emcensus.catalog import query as query_module
from emcensus.catalog.paths import db_text
from emcensus.catalog.query import (_FILES_OF_MATCHED_FOLDERS, _MATCHES_IN_CANDIDATE_FOLDERS, ImageFilter, _candidate_folders,
                                   _path_clause, folder_decides, literal_extension, path_in_folders)
from emcensus.catalog.schema import EXTENSION_SQL, FOLDER_SQL
from emcensus.scan import RootSpec, scan
from support import write_tiff

#: Folders of the archive, below its root: GLOB's special characters, case, the characters that
#: sort next to '/' ('-', '.', '0'), a folder with files and folders, a name that is not UTF-8.
_FOLDERS = ["vol03", "vol03/sub", "vol030", "VOL03", "vol03[1]", "v?l", "star*dir", "br]ack", "^caret", "sp ace/-",
            "mix", "mix/deeper", "mix-", "mix.", "mix0", "a/vol03/b/vol03", os.fsdecode(b"\xc1\xf0/vol03")]
_NAMES = ["x.tif", "[1]*?.tif", "Y.TIF", "b.c.tif", "noext", ".tif", "z.tif.", "w.tiff", "v.tif~", "u.t.f", "e.t\u00e9f",
          "s.t f"]
#: The catalog's text for the folder name that is not UTF-8.
_NOT_UTF8 = db_text(os.fsdecode(b"\xc1\xf0"))
#: Pieces a glob is drawn from: wildcards, classes (one holding '/'), literal names, the catalog's
#: text for a name that is not UTF-8.
_PIECES = ["*", "?", "/", "vol03", "VOL03", "vol0", "[1]", "[[]1]", "[]]", "[^/]", "[*]", "[?]", "[/]", "mix", "-",
           ".", "0", "sub", "x.tif", "[0-9]", "[!-/]", "^", _NOT_UTF8]
#: What an extension glob ends in: after '*.', literal characters (case, several dots, none, a '/',
#: characters no extension in the folder table holds).
_EXTENSIONS = ["tif", "TIF", "c.tif", "", "tiff", "tif.", "/", "[t]if", "t?f", _NOT_UTF8, "tif~", "emd_1", "dm-4", "b.tif",
               "t\u00e9f", "?", "??f", "[^/]if", "t[.]f", "[a-z]?f"]
#: What a glob's tail (after its last '*') is drawn from: wildcards, classes, dots, '/', extensions.
_TAIL_PIECES = ["?", ".", "/", "t", "f", "tif", "[t]", "[^.]", "[.]", "[/]", "\u00e9", " ", "_", "[a-z]", "b.", "x"]


@pytest.fixture(scope="module")
def awkward(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A catalog of two roots (one nested in the other) over `_FOLDERS`, one file gone missing since."""
    base = tmp_path_factory.mktemp("path")
    archive = base / "archive"
    for number, folder in enumerate(["", *_FOLDERS]):
        for name in _NAMES[: 1 + number % len(_NAMES)]:
            write_tiff(archive / folder / name, seed=number)
    path = base / "c.sqlite"
    outer, inner = RootSpec(str(archive), "SU8230"), RootSpec(str(archive / "mix"), "SU8000")
    with Catalog(path) as catalog:
        # one root after the other: scanned together, a file under both roots is catalogued under
        # whichever root's read is written last, which varies from run to run (the inner root's
        # files were all the outer root's in one run of several): here the inner root's last
        scan(catalog, [outer], workers=0)
        scan(catalog, [inner], workers=0)
    (archive / "vol03" / "x.tif").unlink()
    with Catalog(path) as catalog:
        scan(catalog, [outer], workers=0)
        assert catalog.total(files=True, include_missing=True) == catalog.total(files=True) + 1
        held = dict(catalog.db.execute("SELECT instrument, count(*) FROM images WHERE status = 'present' GROUP BY 1"))
        assert held.keys() == {"SU8000", "SU8230"}, held  # both nested roots hold files
    return path


def _plain_count(db: sqlite3.Connection, pattern: str) -> int:
    return db.execute("SELECT count(*) FROM images WHERE readable = 1 AND path GLOB ?", (pattern,)).fetchone()[0]


@st.composite
def _globs(draw: st.DrawFn) -> str:
    """A glob of random pieces; a quarter of them end in '/' and '*'s, which the folder decides, a
    quarter in '*.' and an extension, and a quarter in '*' and a tail of wildcards, classes and
    literals, after such a part or only '*'s."""
    pattern = "".join(draw(st.lists(st.sampled_from(_PIECES), min_size=1, max_size=6)))
    ending = draw(st.integers(0, 3))
    if ending == 3:
        start = draw(st.sampled_from([pattern + "/", "", "*", pattern]))
        return start + "*" + "".join(draw(st.lists(st.sampled_from(_TAIL_PIECES), max_size=4)))
    if ending == 1:
        return pattern + "/" + "*" * draw(st.integers(1, 2))
    if ending == 2:
        start = draw(st.sampled_from([pattern + "/", "", "*", pattern]))
        return start + "*" * draw(st.integers(1, 2)) + "." + draw(st.sampled_from(_EXTENSIONS))
    return pattern


def test_counts_by_folder_are_the_counts_of_plain_glob(awkward: Path) -> None:
    with Catalog(awkward, readonly=True) as catalog:
        assert catalog.db.execute("SELECT count(*) FROM census_folders").fetchone()[0] > len(_FOLDERS)

    @settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
    @given(_globs())
    def check(pattern: str) -> None:
        with Catalog(awkward, readonly=True) as catalog:
            with catalog.one_snapshot():
                by_folder = _path_clause(catalog.db, pattern, in_index_order=False)[0] == _FILES_OF_MATCHED_FOLDERS
                from_folders = catalog.census_source("count(*)", ImageFilter(path=pattern).columns())[0] == "census_folders"
            assert by_folder == folder_decides(pattern)
            glob = path_in_folders(pattern)
            # a glob the folder table tests is read there unless a row it leaves undecided matches
            assert from_folders == (glob is not None and not catalog._leaves_undecided([glob])), pattern
            counted = catalog.count(files=True, kind="all", include_missing=True, path=pattern)[0]["count"]
            assert counted == _plain_count(catalog.db, pattern), pattern
            grouped = catalog.db.execute("""SELECT instrument, count(*) FROM images WHERE readable = 1 AND status = 'present'
                AND kind = 'image' AND is_primary = 1 AND path GLOB ? GROUP BY 1 ORDER BY 1""", (pattern,)).fetchall()
            assert [(row["instrument"], row["count"]) for row in catalog.count("instrument", path=pattern)] == grouped
            # undecided rows: the decided ones summed in the folder table, the others' files read
            with catalog.one_snapshot():
                split = catalog.folders_and_files(ImageFilter(path=pattern), "count(*)", ImageFilter(path=pattern).columns())
            assert split is not None or glob is None or from_folders, pattern
            by_kind = catalog.db.execute("""SELECT kind, count(*) FROM images WHERE readable = 1 AND is_primary = 1
                AND path GLOB ? GROUP BY 1 ORDER BY 1""", (pattern,)).fetchall()
            assert [(row["kind"], row["count"]) for row in catalog.count("kind", kind="all", include_missing=True,
                                                                         path=pattern)] == by_kind, pattern
            stored = catalog.db.execute("SELECT coalesce(sum(size_bytes), 0) FROM images WHERE readable = 1"
                                        " AND status = 'present' AND kind = 'image' AND path GLOB ?", (pattern,)).fetchone()[0]
            assert catalog.storage(path=pattern)[0]["bytes"] == stored, pattern

    check()
    with Catalog(awkward, readonly=True) as catalog:  # globs that match: one per folder, and awkward ones
        for pattern in ["*/vol03/*", "*/VOL03/*", "*/vol03[[]1]/*", "*/v[?]l/*", "*/star[*]dir/*", "*/br]ack/*",
                        "*/mix/*", "*/mix?/*", "*[^/]/vol03/*", "*/sp ace/-/*", f"*/{_NOT_UTF8}/*",
                        f"{awkward.parent}/archive/*", "*.tif", "*.TIF", "*/mix./*.tif", "*/vol03/*.tif", "*.",
                        "*.tiff", f"*/{_NOT_UTF8}/*.tif", f"{awkward.parent}/archive/*.tif", "*.t?f", "*.c.tif", "*/mix/*.t?f",
                        "*.t\u00e9f", "*[.]tif", "*.[tT][iI][fF]"]:
            assert path_in_folders(pattern)
            assert catalog.count(files=True, kind="all", include_missing=True, path=pattern)[0]["count"] == \
                _plain_count(catalog.db, pattern)
        with catalog.one_snapshot():  # `.tif` rows leave `*.c.tif` undecided (`b.c.tif`, `x.tif`): read as files
            assert catalog.census_source("count(*)", ImageFilter(path="*.c.tif").columns())[0] == "images"
            assert catalog.folders_and_files(ImageFilter(path="*.c.tif"), "count(*)", ImageFilter(path="*.c.tif").columns())
        assert catalog.count(files=True, path="*/vol03/*")[0]["count"] == _plain_count(catalog.db, "*/vol03/*") - 1 > 0
        for order, instrument in itertools.product(("path", "-path"), ("SU8000", "SU8230")):
            # a page in path order starts at the first of the nested roots with a match
            listed = catalog.db.execute(f"""SELECT id FROM images WHERE readable = 1 AND status = 'present' AND kind = 'image'
                AND instrument = ? ORDER BY path {'DESC' if order[0] == '-' else ''}""", (instrument,)).fetchall()
            assert listed, instrument
            for offset in range(len(listed)):
                assert [(row["id"],) for row in catalog.images(limit=3, offset=offset, order=order, instrument=instrument)] \
                    == listed[offset:offset + 3]
        assert catalog.count(files=True, path="*.tif")[0]["count"] == _plain_count(catalog.db, "*.tif") - 1 > 0
        assert catalog.storage(path="*.TIF")[0]["bytes"] == catalog.db.execute(
            "SELECT sum(size_bytes) FROM images WHERE status = 'present' AND readable = 1 AND path GLOB '*.TIF'").fetchone()[0] > 0


#: Characters of the paths and globs the equivalence is tried on: GLOB's own, those next to '/' in
#: the path order, case, a name's encoded character (catalog.paths).
_CHARACTERS = "/[]*?^-!.0aA\u00e9\U0010f4c1 "


@settings(max_examples=2000, deadline=None)
@given(st.text(st.sampled_from(_CHARACTERS), max_size=14).map(lambda name: "/r/" + name),
       st.one_of(_globs(), st.text(st.sampled_from(_CHARACTERS), max_size=8).map(lambda glob: f"*{glob}/*")))
def test_a_path_matches_a_glob_the_folder_decides_exactly_when_its_folder_does(path: str, pattern: str) -> None:
    """The equivalence itself, on SQLite's GLOB: any path (GLOB's special characters in names, a name
    like the folder's own end, no name), any glob that `folder_decides` accepts."""
    if not folder_decides(pattern):
        return
    db = sqlite3.connect(":memory:")
    folder = FOLDER_SQL.format(path="?1")
    assert db.execute(f"SELECT ?1 GLOB ?2, {folder} GLOB ?2", (path, pattern)).fetchone() in ((0, 0), (1, 1))


@settings(max_examples=500, deadline=None)
@given(st.text(st.sampled_from("/a\u00e9\U0010ff81"), max_size=8), st.integers(240, 600), st.integers(0, 300))
def test_the_folder_of_a_long_path_is_all_of_it_up_to_its_last_slash(start: str, length: int, name: int) -> None:
    """FOLDER_SQL on paths longer than the 256 characters it looks the name up in first (names of
    up to 300 characters, one character of which only before those 256; a '/' just inside or outside
    the last 256, or none), as Python cuts them."""
    path = (start + "b/c\u00e9d/" * 70)[:max(length - name, 0)] + "Z" + "n\U0010ff81a" * (name // 3)
    db = sqlite3.connect(":memory:")
    assert db.execute(f"SELECT {FOLDER_SQL.format(path='?1')}", (path,)).fetchone()[0] == path[:path.rfind("/") + 1]


@settings(max_examples=3000, deadline=None)
@given(st.text(st.sampled_from(_CHARACTERS + "tTif~_"), max_size=14).map(lambda name: "/r/" + name),
       st.one_of(_globs(), st.tuples(st.text(st.sampled_from(_CHARACTERS), max_size=6),
                                     st.text(st.sampled_from(_CHARACTERS + "tTif~_"), max_size=4)).map(lambda g: f"*{g[0]}*.{g[1]}")))
def test_a_path_matches_a_glob_as_its_folder_and_extension_decide(path: str, pattern: str) -> None:
    """`FolderGlob`'s rows on SQLite's GLOB: a path in a row it decides matches exactly when the row
    does, and a path in no row it leaves undecided does not match (paths with dots in names and
    folders, several or none, a name that is only an extension; globs ending in any tail after any
    part)."""
    glob = path_in_folders(pattern)
    if glob is None:
        return
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE census_folders (folder TEXT, extension TEXT)")
    db.execute(f"INSERT INTO census_folders SELECT {FOLDER_SQL.format(path='?1')}, {EXTENSION_SQL.format(path='?1')}", (path,))
    decided, decided_params = glob.decided()
    undecided, undecided_params = glob.undecided()
    matches = db.execute("SELECT ?1 GLOB ?2", (path, pattern)).fetchone()[0]
    in_row = db.execute(f"SELECT count(*) FROM census_folders WHERE {decided}", decided_params).fetchone()[0]
    left = db.execute(f"SELECT count(*) FROM census_folders WHERE {undecided}", undecided_params).fetchone()[0]
    assert not (in_row and left), (path, pattern)
    assert matches == in_row or left, (path, pattern, glob.head, glob.tail)


@pytest.mark.parametrize(("pattern", "decides"), [
    ("*/vol03/*", True), ("*/vol03/**", True), ("/a/*", True), ("*/[]]/*", True), ("*/[^]/]/*", True),
    ("*.dm4", False), ("*/", False), ("*/x/?*", False), ("*[/]*", False), ("*/a[/*", False), ("[/*", False), ("*", False)])
def test_which_globs_the_folder_decides(pattern: str, decides: bool) -> None:
    """A literal '/' then only '*'s; a '/' in a class, a '?' or a class left open (it matches nothing) do not."""
    assert folder_decides(pattern) is decides


@pytest.mark.parametrize(("pattern", "parts"), [
    ("*/vol03/*", ("*/vol03/*", "")), ("*.dm4", ("*", ".dm4")), ("**.TIF", ("**", ".TIF")), ("*.", ("*", ".")),
    ("*/2019/*.tif", ("*/2019/*", ".tif")), ("/a/*.tif", ("/a/*", ".tif")), ("*.b.tif", ("*", ".b.tif")),
    ("*.t?f", ("*", ".t?f")), ("*.[t]if", ("*", ".[t]if")), ("*[.]tif", ("*", "[.]tif")), ("*/x/?*.tif", None),
    ("*.tif/", ("*", ".tif/")), ("*/a[/]*.tif", None), (".tif", None), ("a*.tif", None), ("*x.tif", ("*", "x.tif")),
    (f"*.{_NOT_UTF8}", ("*", f".{_NOT_UTF8}")), ("*/a[*", None), ("*.[*]", ("*", ".[*]"))])
def test_which_globs_the_folder_table_tests(pattern: str, parts: tuple[str, str] | None) -> None:
    """A head of only '*'s or a part the folder decides, up to the last '*' that is not in a class;
    no '*', another head or a class left open: none."""
    glob = path_in_folders(pattern)
    assert (glob and (glob.head, glob.tail)) == parts


@pytest.mark.parametrize(("pattern", "undecided"), [
    ("*.tif", False), ("*/vol03/*.b.tif", False), ("*.", False), ("*/vol03/*", False), ("*.t?f", True), ("*.tïf", True)])
def test_a_glob_ending_in_a_dot_and_extension_characters_leaves_no_name_without_an_extension_undecided(
        pattern: str, undecided: bool) -> None:
    """Such a path has an extension; `*.t?f` may end 'x.t f', which has none."""
    glob = path_in_folders(pattern)
    assert glob is not None
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE census_folders (folder TEXT, extension TEXT)")
    db.execute("INSERT INTO census_folders VALUES ('/r/vol03/', NULL)")
    clause, params = glob.undecided()
    assert bool(db.execute(f"SELECT count(*) FROM census_folders WHERE {clause}", params).fetchone()[0]) is undecided


def test_a_folder_table_out_of_step_is_not_read(awkward: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """While a bulk load writes around the folder table (its triggers dropped), and outside a read
    snapshot (the table and the check could see two states), plain GLOB counts."""
    with Catalog(awkward, readonly=True) as catalog:
        assert _path_clause(catalog.db, "*/vol03/*", in_index_order=False)[0] != _FILES_OF_MATCHED_FOLDERS
        with catalog.one_snapshot():
            assert _path_clause(catalog.db, "*/vol03/*", in_index_order=True) == ("path GLOB ?", ["*/vol03/*"])
        expected = catalog.count(files=True, path="*/vol03/*")
        monkeypatch.setattr(cube_module, "cube_in_step", lambda db, name: False)
        with catalog.one_snapshot():
            assert _path_clause(catalog.db, "*/vol03/*", in_index_order=False)[0] != _FILES_OF_MATCHED_FOLDERS
        assert catalog.count(files=True, path="*/vol03/*") == expected


@pytest.mark.parametrize("pattern", ["*.c.tif", "*/mix/*.c.tif", "*/vol03/*x.tif", "*.tif"])
def test_many_undecided_rows_read_every_path_and_count_the_same(awkward: Path, monkeypatch: pytest.MonkeyPatch,
                                                                pattern: str) -> None:
    """Past a few undecided folder rows (`*.b.tif` against every `.tif` row), their files are not read
    folder by folder but the whole path index is, with the same counts."""
    with Catalog(awkward, readonly=True) as catalog:
        few = catalog.count("kind", files=True, kind="all", include_missing=True, path=pattern)
        monkeypatch.setattr(cube_module, "_FEW_UNDECIDED", (0, 0))
        with catalog.one_snapshot():
            undecided = catalog._leaves_undecided([path_in_folders(pattern)])
            assert (catalog.folders_and_files(ImageFilter(path=pattern), "count(*)", ImageFilter(path=pattern).columns())
                    is None) is undecided
        assert catalog.count("kind", files=True, kind="all", include_missing=True, path=pattern) == few
        assert sum(row["count"] for row in few) == _plain_count(catalog.db, pattern), pattern


#: A path's parts for `test_decided_rows_and_undecided_files_count_what_plain_glob_counts`: names of
#: `_CHARACTERS` and extension characters, nested folders, names without an extension or with a long one.
_PATH_CHARACTERS = _CHARACTERS + "tTif~_x"


@st.composite
def _catalog_paths(draw: st.DrawFn) -> list[str]:
    """Paths below '/r/' of one archive, or with no '/' at all (the folder '', whose range of the path
    index is every path): folders nested in each other (a folder's files and its subfolders' in one
    range of the path index), names of any characters, extensions of 0 to 40 characters (case apart),
    some paths longer than 256 characters."""
    folders = ["/r/", ""]
    for _ in range(draw(st.integers(0, 4))):
        parent = draw(st.sampled_from(folders))
        folders.append(parent + draw(st.text(st.sampled_from(_PATH_CHARACTERS.replace("/", "")), min_size=1, max_size=4))
                       + "/" + "d/" * draw(st.sampled_from([0, 0, 1, 140])))
    ends = ["", ".", ".tif", ".TIF", ".t", ".x.x", "." + "x" * 35, "." + "tif" * 13]
    return [draw(st.sampled_from(folders)) + draw(st.text(st.sampled_from(_PATH_CHARACTERS), max_size=4))
            + draw(st.sampled_from(["", "x", "b.", "t f", "\u00e9"])) + draw(st.sampled_from(ends))
            for _ in range(draw(st.integers(1, 10)))]


def _paths_and_folders(paths: list[str]) -> sqlite3.Connection:
    """`paths` in an `images` table of their own, with the folder table's rows of them."""
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE images (id INTEGER PRIMARY KEY, path TEXT UNIQUE)")
    db.executemany("INSERT OR IGNORE INTO images (path) VALUES (?)", [(path,) for path in paths])
    db.execute(f"""CREATE TABLE census_folders AS SELECT {FOLDER_SQL.format(path='path')} AS folder,
                   {EXTENSION_SQL.format(path='path')} AS extension, count(*) AS n FROM images GROUP BY 1, 2""")
    return db


def _a_tail_of(path: str, data: st.DataObject) -> str:
    """A glob tail drawn from the end of `path` (so that it often matches): each character kept, or
    made a '?', a class holding it, or a class leaving it out."""
    tail = path[len(path) - data.draw(st.integers(0, min(len(path), 9))):]
    return "".join(data.draw(st.sampled_from([char, "?", f"[{char}]", f"[^{char}]"])) if char not in "[]*?" else "?"
                   for char in tail)


@pytest.mark.parametrize("longest", [query_module._LONGEST_EXTENSION, 2])
@settings(max_examples=1500, deadline=None, suppress_health_check=list(HealthCheck))
@given(paths=_catalog_paths(), data=st.data())
def test_decided_rows_and_undecided_files_count_what_plain_glob_counts(
        longest: int, paths: list[str], data: st.DataObject, monkeypatch: pytest.MonkeyPatch) -> None:
    """What `CubeMixin.folders_and_files` sums: the rows `FolderGlob.decided` takes, and the files of
    the rows `undecided` leaves that `undecided_files` reads from their folders' ranges of the path
    index, count together what plain GLOB counts (globs of `_globs`, or a head and the end of one of
    the paths, some of its characters wildcards or classes); also past the longest extension it
    looks at (`longest`: 2), and for paths longer than 256 characters."""
    head = data.draw(st.sampled_from(["*", "**", "/r/*", "*/d/*", "*/[^d]/*", "*x/*", "*/*/*"]))
    pattern = data.draw(st.one_of(_globs(), st.sampled_from(paths).map(lambda path: head + _a_tail_of(path, data))))
    glob = path_in_folders(pattern)
    if glob is None:
        return
    monkeypatch.setattr(query_module, "_LONGEST_EXTENSION", longest)
    db = _paths_and_folders(paths)
    decided, decided_params = glob.decided()
    files, files_params = glob.undecided_files()
    counted = db.execute(f"SELECT coalesce(sum(n), 0) FROM census_folders WHERE {decided}", decided_params).fetchone()[0] \
        + db.execute(f"SELECT count(*) FROM images WHERE {files}", files_params).fetchone()[0]
    assert counted == db.execute("SELECT count(*) FROM images WHERE path GLOB ?", (pattern,)).fetchone()[0], \
        (paths, pattern, glob.head, glob.tail)


def _a_glob_of(path: str, data: st.DataObject) -> str:
    """A glob drawn from all of `path` (so that it often matches), after a '*' or not: each character
    kept, or made a '?', a '*', a class holding it or a class leaving it out."""
    start = data.draw(st.sampled_from(["", "*"]))
    return start + "".join(data.draw(st.sampled_from([char, char, char, "?", "*", f"[{char}]", f"[^{char}]"]))
                           if char not in "[]*?" else "?" for char in path[len(start):])


@settings(max_examples=1500, deadline=None, suppress_health_check=list(HealthCheck))
@given(paths=_catalog_paths(), data=st.data())
def test_the_files_of_the_folders_a_glob_may_match_in_are_those_plain_glob_matches(
        paths: list[str], data: st.DataObject, monkeypatch: pytest.MonkeyPatch) -> None:
    """`_candidate_folders`: a glob holding a '/' of its own is matched against the files of the folders
    the part up to its last '/' matches the start of (`_MATCHES_IN_CANDIDATE_FOLDERS`), and counts what
    plain GLOB counts (the weighing against every path left out: both costs 0)."""
    pattern = data.draw(st.one_of(_globs(), st.sampled_from(paths).map(lambda path: _a_glob_of(path, data))))
    monkeypatch.setattr(query_module, "_FOLDER_SEEK", 0)
    monkeypatch.setattr(query_module, "_FOLDER_FILE", 0)
    db = _paths_and_folders(paths)
    folders = _candidate_folders(db, pattern)
    assert (folders is None) == ("=/" not in (query_module._glob_tokens(pattern) or [])), pattern
    if folders is not None:
        counted = db.execute(f"SELECT count(*) FROM images WHERE {_MATCHES_IN_CANDIDATE_FOLDERS}", (folders, pattern))
        assert counted.fetchone()[0] == db.execute("SELECT count(*) FROM images WHERE path GLOB ?", (pattern,)).fetchone()[0], \
            (paths, pattern, folders)


@pytest.mark.parametrize("pattern", ["*/vol03/*x*.tif", "*[/]vol03/?*", "*/v?l/[^x]*", "*/sp ace/-/*f", f"*/{_NOT_UTF8}/*.t?f",
                                     "*/mix*/*.c.tif", "*/vol03/*/*x*", "*/br[]]*/*.t?f", "*/[^/]*/*[.]tif"])
def test_a_glob_holding_a_slash_counts_what_plain_glob_counts_from_the_folders_it_may_match_in(
        awkward: Path, monkeypatch: pytest.MonkeyPatch, pattern: str) -> None:
    """Through `count` and `storage` (every path read while a folder costs more than all, or the
    candidate folders' files while they cost nothing), with other filters than the folder table holds
    (an instrument, a kind, missing files)."""
    def counts(catalog: Catalog) -> list:
        return [catalog.count("instrument", path=pattern), catalog.count("kind", files=True, kind="all", include_missing=True,
                                                                          path=pattern, year="1990-2100"),
                catalog.storage("instrument", path=pattern)]

    with Catalog(awkward, readonly=True) as catalog:
        monkeypatch.setattr(query_module, "_FOLDER_SEEK", 10 ** 9)
        with catalog.one_snapshot():
            assert _path_clause(catalog.db, pattern, in_index_order=False)[0] != _MATCHES_IN_CANDIDATE_FOLDERS
        every_path = counts(catalog)
        monkeypatch.setattr(query_module, "_FOLDER_SEEK", 0)
        monkeypatch.setattr(query_module, "_FOLDER_FILE", 0)
        with catalog.one_snapshot():
            assert _path_clause(catalog.db, pattern, in_index_order=False)[0] == _MATCHES_IN_CANDIDATE_FOLDERS
        assert counts(catalog) == every_path
        grouped = catalog.db.execute("""SELECT instrument, count(*) FROM images WHERE readable = 1 AND status = 'present'
            AND kind = 'image' AND is_primary = 1 AND path GLOB ? GROUP BY 1 ORDER BY 1""", (pattern,)).fetchall()
        assert [(row["instrument"], row["count"]) for row in every_path[0]] == grouped and grouped, pattern


@pytest.mark.parametrize("pattern", ["*x*.tif", "*[1]*.tif", "*.c.tif", "*?.TIF", "*x*.", "*.t?f", "*x*.t.f", f"*{_NOT_UTF8}*.tif"])
@pytest.mark.parametrize("filters", [{}, {"files": True}, {"files": True, "include_missing": True}, {"kind": "all"},
                                     {"kind": "sidecar-only", "files": True}])
def test_a_glob_ending_in_an_extension_counts_its_matches_less_those_failing_the_filters(
        awkward: Path, monkeypatch: pytest.MonkeyPatch, pattern: str, filters: dict) -> None:
    """`CubeMixin.matches_less_failing`: every match of a glob ending in an extension, read from the path
    index alone, less those of the folders whose rows fail the filters (the missing file among them),
    counts what plain GLOB with the filters counts; a glob not ending in an extension, or past a few
    failing rows, is read as before."""
    monkeypatch.setattr(Catalog, "folders_and_files", lambda *args, **kwargs: None)  # `*.c.tif`'s few undecided rows too
    files, kind = filters.get("files", False), filters.get("kind", "image")
    with Catalog(awkward, readonly=True) as catalog:
        plain = catalog.db.execute(
            """SELECT count(*) FROM images WHERE readable = 1 AND path GLOB ? AND (? OR status = 'present')
                AND (? = 'all' OR kind = ?) AND (? OR is_primary = 1)""",
            (pattern, filters.get("include_missing", False), kind, kind, files)).fetchone()[0]
        extension = pattern not in ("*x*.", "*.t?f")  # no extension ends these: read as before
        with catalog.one_snapshot():
            extra = "" if files else " AND +is_primary = 1"
            split = catalog.matches_less_failing(ImageFilter(path=pattern, **{k: v for k, v in filters.items() if k != "files"}),
                                                 extra, ImageFilter(path=pattern).columns() | {"is_primary"})
        assert (split is not None) == extension, pattern
        assert catalog.count(path=pattern, **filters)[0]["count"] == plain, (pattern, filters)
        monkeypatch.setattr(cube_module, "_FEW_UNDECIDED", (0, 0))  # any failing row: every match read with its row
        assert catalog.count(path=pattern, **filters)[0]["count"] == plain, (pattern, filters)
        if pattern == "*x*.tif" and not filters:
            assert plain < _plain_count(catalog.db, pattern)  # the missing `vol03/x.tif` matches and is taken off


@settings(max_examples=1500, deadline=None, suppress_health_check=list(HealthCheck))
@given(paths=_catalog_paths(), data=st.data())
def test_every_path_a_glob_ending_in_an_extension_matches_has_that_extension(paths: list[str], data: st.DataObject) -> None:
    """`literal_extension`: the folder table's extension of every path the glob matches (what
    `matches_less_failing` reads the failing rows by), for globs drawn from the paths' own ends."""
    pattern = data.draw(st.one_of(_globs(), st.sampled_from(paths).map(lambda path: "*" + _a_tail_of(path, data))))
    extension = literal_extension(pattern)
    if extension is None:
        return
    db = _paths_and_folders(paths)
    found = db.execute(f"SELECT DISTINCT {EXTENSION_SQL.format(path='path')} FROM images WHERE path GLOB ?", (pattern,))
    assert {row[0] for row in found} <= {extension}, (paths, pattern)


@pytest.mark.parametrize(("pattern", "extension"), [
    ("*_001.tif", ".tif"), ("*.b.tif", ".tif"), ("*x*.TIF", ".TIF"), ("*.emd_1", ".emd_1"), ("[.]tif", None), ("*.t?f", None),
    ("*.", None), ("*tif", None), ("*/a/*.tif", None), ("*.tif[f]", None), ("*.tif~", None), (".tif", ".tif")])
def test_which_globs_end_in_an_extension(pattern: str, extension: str | None) -> None:
    assert literal_extension(pattern) == extension


#: File states drawn for `matches_less_failing`'s property test: (kind, status, readable, is_primary).
_STATES = st.tuples(st.sampled_from(["image", "stack", "sidecar-only"]), st.sampled_from(["present", "missing"]),
                    st.integers(0, 1), st.integers(0, 1))


@settings(max_examples=1000, deadline=None, suppress_health_check=list(HealthCheck))
@given(paths=_catalog_paths(), data=st.data())
def test_matches_less_those_failing_the_filters_are_what_plain_glob_counts_with_them(
        paths: list[str], data: st.DataObject, monkeypatch: pytest.MonkeyPatch) -> None:
    """`CubeMixin.matches_less_failing` on drawn paths (the folder '' among them), file states and
    filters (kinds, missing files, acquisitions or files), every failing row split off however many:
    its reads summed count what plain GLOB counts with the filters; it answers exactly the globs
    ending in an extension (one drawn as a path's start made a glob and its extension, most of the
    time)."""
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE images (id INTEGER PRIMARY KEY, path TEXT UNIQUE, kind TEXT, status TEXT, readable INTEGER,"
               " is_primary INTEGER)")
    db.executemany("INSERT OR IGNORE INTO images (path, kind, status, readable, is_primary) VALUES (?, ?, ?, ?, ?)",
                   [(path, *data.draw(_STATES)) for path in paths])
    db.execute(f"""CREATE TABLE census_folders AS SELECT {FOLDER_SQL.format(path='path')} AS folder,
                   {EXTENSION_SQL.format(path='path')} AS extension, kind, status, readable, is_primary, count(*) AS n
                   FROM images GROUP BY 1, 2, 3, 4, 5, 6""")
    ends = db.execute(f"SELECT path, extension FROM (SELECT path, {EXTENSION_SQL.format(path='path')} AS extension"
                      " FROM images) WHERE length(extension) > 1").fetchall()
    if ends and data.draw(st.integers(0, 3)):
        path, extension = data.draw(st.sampled_from(ends))
        pattern = _a_glob_of(path[:-len(extension)], data) + extension
    else:
        pattern = data.draw(_globs())
    image_filter = ImageFilter(path=pattern, kind=data.draw(st.sampled_from(["image", "all", "sidecar-only", ["image", "stack"]])),
                               include_missing=data.draw(st.booleans()))
    extra = data.draw(st.sampled_from(["", " AND +is_primary = 1"]))
    monkeypatch.setattr(cube_module, "cube_in_step", lambda db, name: True)
    monkeypatch.setattr(cube_module, "_FEW_UNDECIDED", (10 ** 9, 10 ** 9))
    split = cube_module.CubeMixin.matches_less_failing(types.SimpleNamespace(db=db), image_filter, extra,
                                                       image_filter.columns() | {"is_primary"})
    assert (split is not None) == (literal_extension(pattern) is not None), pattern
    if split is not None:
        where, params = image_filter.where(db)  # outside a transaction: plain GLOB
        plain = db.execute(f"SELECT count(*) FROM images WHERE {where}{extra}", params).fetchone()[0]
        counted = sum(db.execute(f"SELECT {aggregate} FROM {table} WHERE {clause}", clause_params).fetchone()[0]
                      for table, aggregate, clause, clause_params in split)
        assert counted == plain, (paths, pattern, split)
