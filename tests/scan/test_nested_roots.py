"""Nested roots: a file belongs to the innermost registered root that holds it, however and in what
order the roots are scanned (one command, one per root, the local pool or an executor)."""

from __future__ import annotations

import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from emcensus.catalog import Catalog
from emcensus.errors import ConfigError
from emcensus.scan import RootSpec, scan
from emcensus.scan.nesting import nested_roots, outside, registered_spelling
from support import catalog_cli, census_rows, hitachi_sidecar, write_tiff


@pytest.fixture
def nest(tmp_path: Path) -> tuple[Path, Path]:
    """An outer root A (SU8230) holding an inner root A/groupB/inner (another instrument): 3 frames
    of A's own, 2 of the inner's, one of them in a subfolder."""
    outer = tmp_path / "archive" / "A"
    inner = outer / "groupB" / "inner"
    frames = [(outer / "groupA/p1/a1", 5000), (outer / "groupA/p1/a2", 20000), (outer / "groupB/b1", 30000),
              (inner / "i1", 40000), (inner / "deep/i2", 50000)]
    for seed, (stem, mag) in enumerate(frames):
        write_tiff(stem.with_suffix(".tif"), seed=seed)
        stem.with_suffix(".txt").write_bytes(hitachi_sidecar(mag, "SE(U)").encode("cp1252"))
    return outer, inner


def _specs(outer: Path, inner: Path, order: str) -> list[RootSpec]:
    specs = {"outer": RootSpec(str(outer), "SU8230"), "inner": RootSpec(str(inner), "Regulus8100")}
    return [specs[name] for name in order.split(",")]


def _owners(catalog: Catalog) -> dict[str, tuple[str, str, str]]:
    """Each file's root, path below it and instrument."""
    roots = {root["id"]: root["path"] for root in catalog.roots()}
    return {Path(row["path"]).name: (roots[row["root_id"]], row["rel_path"], row["instrument"])
            for row in catalog.images(include_missing=True)}


def _rows(catalog: Catalog) -> list[dict]:
    """`census_rows` with each root named by its path (ids depend on the order roots were registered)."""
    roots = {root["id"]: root["path"] for root in catalog.roots()}
    return [{**row, "root_id": roots[row["root_id"]]} for row in census_rows(catalog)]


def _census(path: Path, outer: Path, inner: Path, orders: list[str], **kwargs) -> list:
    """Scan the commands `orders` (each a comma-separated list of roots) one after the other."""
    with Catalog(path) as catalog:
        summaries = [scan(catalog, _specs(outer, inner, order), **kwargs) for order in orders]
        return [summaries, _rows(catalog), _owners(catalog)]


OWNED = {"a1.tif", "a2.tif", "b1.tif"}


@pytest.mark.parametrize("orders", [["outer,inner"], ["inner,outer"], ["outer", "inner"], ["inner", "outer"]])
def test_each_file_belongs_to_the_innermost_root_in_any_order(nest: tuple[Path, Path], tmp_path: Path,
                                                              orders: list[str]) -> None:
    outer, inner = nest
    reference = _census(tmp_path / "ref.sqlite", outer, inner, ["inner", "outer"], workers=0)
    summaries, rows, owners = _census(tmp_path / "c.sqlite", outer, inner, orders, workers=0)
    assert rows == reference[1]  # row for row (scan ids apart)
    assert {name for name, (root, _, _) in owners.items() if root == str(outer)} == OWNED
    assert owners["i2.tif"] == (str(inner), os.path.join("deep", "i2.tif"), "Regulus8100")
    assert all(row["status"] == "present" for row in rows)
    assert sum(summary.missing for summary in summaries) == 0
    last = summaries[-1]
    assert last.complete and last.seen == (2 if orders[-1] == "inner" else 5)  # an outer scan covers the inner root
    if orders == ["outer", "inner"]:  # the inner root took the outer's rows of its files over: read again, not new
        assert summaries[0].seen == 5 and last.read == 2


def test_rescans_of_nested_roots_find_nothing_new_or_missing(nest: tuple[Path, Path], tmp_path: Path) -> None:
    outer, inner = nest
    with Catalog(tmp_path / "c.sqlite") as catalog:
        first = scan(catalog, _specs(outer, inner, "outer,inner"), workers=0)
        assert first.seen == 5 and first.read == 5
        before = census_rows(catalog)
        for order in ("outer,inner", "outer", "inner", "inner,outer"):
            again = scan(catalog, _specs(outer, inner, order), workers=0)
            assert (again.read, again.missing, again.skipped) == (0, 0, again.seen), order
            assert again.seen == {"inner": 2}.get(order, 5)  # the outer root's scan covers the inner one
            assert census_rows(catalog) == before
        # per root and instrument, as `count --by root` and Table 1 read them (the census cubes)
        assert {(row["root"], row["instrument"]): row["count"] for row in catalog.count(by=["root", "instrument"])} \
            == {(str(outer), "SU8230"): 3, (str(inner), "Regulus8100"): 2}


def test_an_inner_root_added_later_takes_its_files_over_with_their_history(nest: tuple[Path, Path],
                                                                          tmp_path: Path) -> None:
    outer, inner = nest
    with Catalog(tmp_path / "c.sqlite") as catalog:
        scan(catalog, _specs(outer, inner, "outer"), workers=0)
        first_seen = {row["path"]: row["first_seen_scan"] for row in catalog.images()}
        assert {root for root, _, _ in _owners(catalog).values()} == {str(outer)}
        added = scan(catalog, _specs(outer, inner, "outer,inner"), workers=0)
        assert (added.seen, added.read, added.missing) == (5, 2, 0)
        assert {row["path"]: row["first_seen_scan"] for row in catalog.images()} == first_seen
        owners = _owners(catalog)
        assert owners["i1.tif"] == (str(inner), "i1.tif", "Regulus8100")
        assert catalog.audit()["missing"] == 0 and catalog.total(files=True) == 5
        # the rows taken over moved in the census cubes too (the inner root's first scan may be a bulk load)
        assert {(row["root"], row["instrument"]): row["count"] for row in catalog.count(by=["root", "instrument"])} \
            == {(str(outer), "SU8230"): 3, (str(inner), "Regulus8100"): 2}


def test_an_inner_root_added_later_takes_over_the_files_gone_before_its_first_scan(nest: tuple[Path, Path],
                                                                                   tmp_path: Path) -> None:
    """Files its walk cannot find (gone since the outer root catalogued them, or already missing)
    become the inner root's rows too, marked missing, with the inner root's derived columns: none
    is left to the outer root, whose walk no longer goes there."""
    outer, inner = nest
    with Catalog(tmp_path / "c.sqlite") as catalog:
        scan(catalog, _specs(outer, inner, "outer"), workers=0)
        os.remove(inner / "deep/i2.txt")
        scan(catalog, _specs(outer, inner, "outer"), workers=0)  # its sidecar gone: read again, still present
        shutil.rmtree(inner / "deep")
        first = scan(catalog, [RootSpec(str(inner), "Regulus8100", layout="{group}/**")], workers=0)
        assert (first.seen, first.read, first.missing) == (1, 1, 1)
        owners = _owners(catalog)
        assert owners["i2.tif"][:2] == (str(inner), os.path.join("deep", "i2.tif"))
        [gone] = [row for row in catalog.images(include_missing=True) if row["path"].endswith("i2.tif")]
        assert gone["status"] == "missing" and gone["group_name"] == "deep"  # derived from the inner root's layout
        assert gone["instrument"] == "Regulus8100"  # the inner root's, as a read under it gives
        assert scan(catalog, _specs(outer, inner, "outer,inner"), workers=0).missing == 0
        for include_missing, inner_files in ((False, 1), (True, 2)):  # the census cubes
            assert {row["root"]: row["count"] for row in catalog.count(by="root", include_missing=include_missing)} \
                == {str(outer): 3, str(inner): inner_files}


def test_an_outer_scan_covers_the_registered_roots_nested_in_it(nest: tuple[Path, Path], tmp_path: Path) -> None:
    """Scanning a root covers its whole tree: the registered roots nested in it are walked too, each
    with its own settings and owning its files (a new file of an inner root no command names any
    more is found), and the command gives the catalog a command naming both gives."""
    outer, inner = nest
    summaries, _, _ = _census(tmp_path / "c.sqlite", outer, inner, ["inner", "outer", "outer"], workers=0)
    assert summaries[1].seen == 5 and summaries[1].read == 3  # each file counted once
    write_tiff(inner / "deep/i3.tif", seed=9)
    (inner / "deep/i3.txt").write_bytes(hitachi_sidecar(60000, "SE(U)").encode("cp1252"))
    with Catalog(tmp_path / "c.sqlite") as catalog:
        found = scan(catalog, [RootSpec(str(outer))], workers=0)
        assert (found.seen, found.read, found.missing) == (6, 1, 0)
        assert _owners(catalog)["i3.tif"] == (str(inner), os.path.join("deep", "i3.tif"), "Regulus8100")
        assert _rows(catalog) == _census(tmp_path / "ref.sqlite", outer, inner, ["outer,inner"], workers=0)[1]
        again = scan(catalog, [RootSpec(str(outer))], workers=0)
        assert (again.seen, again.read, again.skipped, again.missing) == (6, 0, 6, 0)


def test_a_deleted_inner_root_has_its_files_marked_missing(nest: tuple[Path, Path], tmp_path: Path) -> None:
    """An inner root's folder gone while its enclosing root's walk completes is a deletion: its files
    (and those its outer root still held under it) are marked missing, kept as its rows; a root gone
    at the top level is still refused (an unmounted share is not a deletion)."""
    outer, inner = nest
    with Catalog(tmp_path / "c.sqlite") as catalog:
        scan(catalog, _specs(outer, inner, "inner,outer"), workers=0)
        shutil.rmtree(inner)
        with pytest.raises(ConfigError, match="not a folder"):
            scan(catalog, _specs(outer, inner, "inner"), workers=0)
        assert catalog.audit()["missing"] == 0
        summary = scan(catalog, _specs(outer, inner, "outer"), workers=0)
        assert summary.complete and (summary.seen, summary.missing) == (3, 2)
        owners = _owners(catalog)
        assert {name for name, (root, _, _) in owners.items() if root == str(inner)} == {"i1.tif", "i2.tif"}
        assert catalog.audit()["missing"] == 2
        assert {row["root"]: row["count"] for row in catalog.count(by="root")} == {str(outer): 3}
        assert scan(catalog, _specs(outer, inner, "outer"), workers=0).missing == 0
        write_tiff(inner / "i1.tif", seed=3)  # the folder back, its file as it was: read again, present
        (inner / "i1.txt").write_bytes(hitachi_sidecar(40000, "SE(U)").encode("cp1252"))
        back = scan(catalog, _specs(outer, inner, "outer"), workers=0)
        assert (back.seen, back.missing) == (4, 0)
        assert {row["root"]: row["count"] for row in catalog.count(by="root")} == {str(outer): 3, str(inner): 1}


def test_a_file_moved_between_nested_roots(nest: tuple[Path, Path], tmp_path: Path) -> None:
    outer, inner = nest
    with Catalog(tmp_path / "c.sqlite") as catalog:
        scan(catalog, _specs(outer, inner, "outer,inner"), workers=0)
        for suffix in (".tif", ".txt"):
            os.rename(outer / "groupA/p1" / f"a1{suffix}", inner / f"a1{suffix}")
            os.rename(inner / "deep" / f"i2{suffix}", outer / "groupA" / f"i2{suffix}")
        summary = scan(catalog, _specs(outer, inner, "outer,inner"), workers=0)
        assert (summary.seen, summary.read, summary.missing) == (5, 2, 2)
        present = {row["path"]: row["root_id"] for row in catalog.images()}
        roots = {root["path"]: root["id"] for root in catalog.roots()}
        assert present[str(inner / "a1.tif")] == roots[str(inner)]
        assert present[str(outer / "groupA/i2.tif")] == roots[str(outer)]
        assert catalog.audit()["missing"] == 2 and catalog.total(files=True) == 5


@pytest.mark.parametrize("executor", ["pool", "threads", "dask"])
def test_nested_roots_with_a_pool_or_an_executor_match_the_reads_in_process(nest: tuple[Path, Path], tmp_path: Path,
                                                                            executor: str) -> None:
    """The local pool's surveys read the catalog themselves; an executor's (a real Dask cluster on
    loopback, or threads) get it with the task: both leave the nested roots out alike, on the first
    scan and on the rescan's fast path (naming the outer root alone: the inner one walked with it)."""
    outer, inner = nest
    reference = _census(tmp_path / "ref.sqlite", outer, inner, ["outer,inner", "outer,inner"], workers=0)
    if executor == "threads":
        with ThreadPoolExecutor(2) as threads:
            found = _census(tmp_path / "c.sqlite", outer, inner, ["outer,inner", "outer"], executor=threads,
                            batch_size=1)
    elif executor == "dask":
        distributed = pytest.importorskip("distributed")
        with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                      dashboard_address=":0") as cluster, distributed.Client(cluster) as client:
            found = _census(tmp_path / "c.sqlite", outer, inner, ["outer,inner", "outer"],
                            executor=client.get_executor(), batch_size=1)
    else:
        found = _census(tmp_path / "c.sqlite", outer, inner, ["outer,inner", "outer"], workers=2, batch_size=1)
    assert found[1] == reference[1]
    assert [(s.seen, s.read, s.skipped, s.missing) for s in found[0]] == [(5, 5, 0, 0), (5, 0, 5, 0)]


@pytest.mark.parametrize("spelling", ["a link to the outer root", "a link inside the outer root to the inner root"])
def test_another_spelling_of_a_registered_root_is_that_root(nest: tuple[Path, Path], tmp_path: Path,
                                                            spelling: str) -> None:
    """A symlink to the outer root (or to a folder inside it), or a link inside the outer root to the
    inner root's folder (a link the outer walk never follows), names the folder the catalog already
    has under its registered path: the inner root given so takes over the rows the outer root
    catalogued there instead of cataloguing them again beside them (one file, one row)."""
    outer, inner = nest
    if spelling == "a link to the outer root":
        (tmp_path / "alias").symlink_to(outer)
        given = [RootSpec(str(tmp_path / "alias"), "SU8230"),
                 RootSpec(str(tmp_path / "alias/groupB/inner"), "Regulus8100")]
    else:
        (outer / "alias").symlink_to(inner)
        given = [RootSpec(str(outer), "SU8230"), RootSpec(str(outer / "alias"), "Regulus8100")]
    with Catalog(tmp_path / "c.sqlite") as catalog:
        scan(catalog, _specs(outer, inner, "outer"), workers=0)
        again = scan(catalog, given, workers=0)
        assert (again.seen, again.missing) == (5, 0)
        assert sorted(root["path"] for root in catalog.roots()) == [str(outer), str(inner)]
        assert catalog.total(files=True) == 5 and all(row["path"].startswith(str(outer)) for row in catalog.images())
        assert _owners(catalog)["i1.tif"] == (str(inner), "i1.tif", "Regulus8100")


def test_the_nesting_rule_on_paths(tmp_path: Path) -> None:
    outer = tmp_path / "A"
    (outer / "x/y/z").mkdir(parents=True)
    (tmp_path / "link").symlink_to(outer / "x")
    registered = [str(outer), str(outer / "x"), str(outer / "x/y/z"), str(tmp_path / "Ab")]
    # the outermost of each nest only; a sibling sharing a prefix is not inside
    assert nested_roots(str(outer), registered) == {str(outer / "x")}
    assert nested_roots(str(outer / "x"), registered) == {str(outer / "x/y/z")}
    assert nested_roots(str(tmp_path / "link"), [str(outer / "x/y/z")]) == {str(tmp_path / "link/y/z")}
    assert registered_spelling(str(tmp_path / "link/y"), [str(outer)]) == str(outer / "x/y")
    assert registered_spelling(str(tmp_path / "link"), registered) == str(outer / "x")
    assert registered_spelling(str(outer / "x/y"), registered) == str(outer / "x/y")
    assert registered_spelling(str(tmp_path / "elsewhere"), registered) == str(tmp_path / "elsewhere")
    assert outside([str(outer / "x/f.tif"), str(outer / "xy/f.tif"), str(outer / "f.tif")],
                   frozenset({str(outer / "x")})) == [str(outer / "xy/f.tif"), str(outer / "f.tif")]


def test_the_scan_command_counts_each_file_of_nested_roots_once(nest: tuple[Path, Path], tmp_path: Path) -> None:
    outer, inner = nest
    emcensus = catalog_cli(tmp_path / "c.sqlite")
    first = emcensus("scan", str(inner), str(outer), "--workers", "0")
    assert "Scanned 2 root(s)" in first.output and "5 image files on disk, 5 read" in first.output
    again = emcensus("scan", str(outer), "--workers", "0")
    assert "Scanned 2 root(s)" in again.output  # the outer root's scan covers the inner one, each file once
    assert "5 image files on disk, 0 read" in again.output and "0 gone since then" in again.output


def test_a_root_nested_at_the_top_of_another(nest: tuple[Path, Path], tmp_path: Path) -> None:
    """A top-level folder of the outer root registered as a root: the outer root's own listing (in
    the scan's process, not a survey) leaves it out, and its files are not taken for gone."""
    outer, _ = nest
    top = outer / "groupB"
    with Catalog(tmp_path / "c.sqlite") as catalog:
        scan(catalog, [RootSpec(str(outer), "SU8230")], workers=0)
        both = scan(catalog, [RootSpec(str(outer), "SU8230"), RootSpec(str(top), "Regulus8100")], workers=0)
        assert (both.seen, both.read, both.missing) == (5, 3, 0)
        again = scan(catalog, [RootSpec(str(outer), "SU8230")], workers=0)
        assert (again.seen, again.read, again.missing) == (5, 0, 0)  # the inner root walked too, each file once
        assert {row["root"]: row["count"] for row in catalog.count(by="root")} == {str(outer): 2, str(top): 3}


def test_a_middle_root_takes_over_nothing_of_the_roots_nested_in_it(nest: tuple[Path, Path], tmp_path: Path) -> None:
    """Three roots nested: the middle root's first scan takes over what the outer root holds under
    it, but not under the innermost root (registered, its first scan cut short): those files are the
    innermost root's (walked with the middle root's scan), on disk, never marked missing."""
    outer, inner = nest
    middle = outer / "groupB"
    with Catalog(tmp_path / "c.sqlite") as catalog:
        scan(catalog, _specs(outer, inner, "outer"), workers=0)
        catalog.ensure_root(str(inner), "Regulus8100", None, None)  # registered, never scanned to its end
        first = scan(catalog, [RootSpec(str(middle), "SU8230")], workers=0)
        assert (first.seen, first.missing) == (3, 0)
        assert catalog.audit()["missing"] == 0 and catalog.total(files=True) == 5
        owners = _owners(catalog)
        assert {name: root for name, (root, _, _) in owners.items()} == {
            "a1.tif": str(outer), "a2.tif": str(outer), "b1.tif": str(middle), "i1.tif": str(inner),
            "i2.tif": str(inner)}
        assert scan(catalog, _specs(outer, inner, "inner"), workers=0).missing == 0
        assert {row["root"]: row["count"] for row in catalog.count(by="root")} == {
            str(outer): 2, str(middle): 1, str(inner): 2}


