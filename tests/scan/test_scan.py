"""The scan: census counts, incremental rescans, missing files, an untouched archive, executors."""

from __future__ import annotations

import os
import pickle
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from emcensus.catalog import SCAN_PAGE_CACHE_KIB, Catalog
from emcensus.errors import ConfigError
from emcensus.scan import RootSpec, scan
from support import census_rows, fingerprint, write_tiff


def run(catalog: Catalog, root: Path, **kwargs):
    return scan(catalog, [RootSpec(str(root), "SU8230")], **kwargs)


def test_counts_files_and_acquisitions(tiny_archive: Path, tmp_path: Path) -> None:
    with Catalog(tmp_path / "c.sqlite") as catalog:
        summary = run(catalog, tiny_archive, workers=0)
        assert summary.complete and summary.seen == 6 and summary.read == 6 and summary.errors == 0
        assert summary.orphans == 1
        assert catalog.total() == 5
        assert catalog.total(files=True) == 6
        assert catalog.audit()["duplicate-exports"] == 1
        assert catalog.audit()["no-metadata"] == 1
        assert [r["path"] for r in catalog.audit_list("orphan-sidecars")] == [
            str(tiny_archive / "groupB/p2/2019-01-02/deleted.txt")
        ]


def test_a_file_whose_values_break_the_rows_is_listed_and_the_census_goes_on(tiny_archive: Path, tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """The rows are made in the reading processes after the reads: a bug there on one file's values
    must stop neither its batch nor the census (the file is listed, with the reason)."""
    import emcensus.catalog as catalog_module

    real_derive = catalog_module.derive

    def derive(settings, rel_path, *args):
        if rel_path.endswith("img001.tif"):
            raise ZeroDivisionError("float division by zero")
        return real_derive(settings, rel_path, *args)

    monkeypatch.setattr(catalog_module, "derive", derive)
    with Catalog(tmp_path / "c.sqlite") as catalog:
        summary = run(catalog, tiny_archive, workers=0)
        assert summary.complete and summary.seen == 6 and summary.errors == 1
        [bad] = catalog.audit_list("unreadable")
        assert bad["path"].endswith("img001.tif") and "internal error (ZeroDivisionError" in bad["reason"]
        assert catalog.total(files=True) == 5 and catalog.audit()["unreadable"] == 1  # counted apart, as unread
        # its frame, saved as .jpg too, stands on the JPEG, as when the TIFF cannot be read at all
        assert catalog.total() == 5 and catalog.record(str(bad["path"]).replace(".tif", ".jpg")) is not None
        [frame] = [row for row in catalog.images() if row["path"].endswith("img001.jpg")]
        assert frame["is_primary"] == 1


def test_a_file_read_with_an_error_whose_row_breaks_too_is_one_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A read that kept its record but erred after it (its metadata's text, say) and whose row then
    cannot be made is one file in error, not two."""
    import emcensus.catalog as catalog_module
    from emcensus.catalog import FileResult, GroupResult, group_rows
    from emcensus.record import ImageRecord, Problem

    monkeypatch.setattr(catalog_module, "derive", lambda *args: 1 / 0)
    with Catalog(tmp_path / "c.sqlite") as catalog:
        root_id = catalog.ensure_root(str(tmp_path), "SU8230", None, None)
        settings = catalog.root_settings(root_id)
    path = str(tmp_path / "a.tif")
    result = FileResult(path, "a.tif", 10, 1, ImageRecord(path), "internal error (TypeError: keys); please report it")
    rows = group_rows(settings, 1, root_id, [GroupResult("k", [result], None, None, None, [Problem(path, result.error)])])
    assert (rows.files, rows.errors, len(rows.failed_rows), rows.read_rows) == (1, 1, 1, [])
    assert [row[2] for row in rows.problem_rows] == ["error", "error"]  # the read's reason and the row's


def test_sidecar_metadata_reaches_the_catalog(tiny_archive: Path, tmp_path: Path) -> None:
    with Catalog(tmp_path / "c.sqlite") as catalog:
        run(catalog, tiny_archive, workers=0)
        by = {(r["year"], r["technique"], r["detector"]): r["count"] for r in catalog.count("year,technique,detector")}
        assert by[(2016, "SEM", "SE")] == 1
        assert by[(2016, "SEM", "LA-BSE")] == 1
        assert by[(2019, "STEM", "TE")] == 1
        assert by[(2019, "STEM", "DF-STEM")] == 1
        assert catalog.total(year=2019, instrument="SU8230", detector="TE") == 1
        assert catalog.total(magnification="40000-300000") == 3
        record = catalog.record(str(tiny_archive / "groupA/p1/2016-06-23/img002.tif"))
        assert record is not None and record.magnification == 50000
        assert record.fov_width_m == pytest.approx(0.127 / 50000, rel=1e-3)
        assert record.original_metadata  # the vendor tree is kept


def test_rescan_skips_unchanged_and_tracks_changes(tiny_archive: Path, tmp_path: Path) -> None:
    with Catalog(tmp_path / "c.sqlite") as catalog:
        run(catalog, tiny_archive, workers=0)
        before = census_rows(catalog)
        again = run(catalog, tiny_archive, workers=0)
        assert (again.read, again.skipped, again.missing) == (0, 6, 0)
        assert census_rows(catalog) == before

        (tiny_archive / "groupA/p1/2016-06-23/img001.jpg").unlink()
        write_tiff(tiny_archive / "groupC/new.tif", seed=42)
        sidecar = tiny_archive / "groupA/p1/2016-06-23/img002.txt"
        os.utime(sidecar, ns=(sidecar.stat().st_atime_ns, sidecar.stat().st_mtime_ns + 10**9))
        third = run(catalog, tiny_archive, workers=0)
        assert third.missing == 1
        # the new file, the image whose sidecar changed, and img001.tif whose acquisition lost a file
        assert third.read == 3
        missing = catalog.audit_list("missing")
        assert [Path(m["path"]).name for m in missing] == ["img001.jpg"]
        assert catalog.total(files=True) == 6  # 6 - 1 gone + 1 new
        assert catalog.total(files=True, include_missing=True) == 7  # history kept


def test_archive_is_never_written(tiny_archive: Path, tmp_path: Path) -> None:
    before = fingerprint(tiny_archive.parent)
    with Catalog(tmp_path / "c.sqlite") as catalog:
        run(catalog, tiny_archive, workers=2)
        run(catalog, tiny_archive, workers=0)
    assert fingerprint(tiny_archive.parent) == before


def test_catalog_inside_the_archive_is_refused(tiny_archive: Path) -> None:
    with Catalog(tiny_archive / "census.sqlite") as catalog, pytest.raises(ConfigError, match="never writes"):
        run(catalog, tiny_archive, workers=0)


@pytest.mark.parametrize("executor_kind", ["inline", "processes", "threads"])
def test_same_census_whatever_the_executor(tiny_archive: Path, tmp_path: Path, executor_kind: str) -> None:
    with Catalog(tmp_path / "reference.sqlite") as reference:
        run(reference, tiny_archive, workers=0)
        expected = census_rows(reference)
    with Catalog(tmp_path / f"{executor_kind}.sqlite") as catalog:
        if executor_kind == "threads":
            with ThreadPoolExecutor(2) as pool:
                run(catalog, tiny_archive, executor=pool, batch_size=1)
        else:
            run(catalog, tiny_archive, workers=0 if executor_kind == "inline" else 2, batch_size=1)
        assert census_rows(catalog) == expected


def test_dask_cluster_on_loopback(tiny_archive: Path, tmp_path: Path) -> None:
    """A real Dask scheduler and worker processes, plugged in through `Client.get_executor()`."""
    distributed = pytest.importorskip("distributed")
    with Catalog(tmp_path / "reference.sqlite") as reference:
        run(reference, tiny_archive, workers=0)
        expected = census_rows(reference)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=":0") as cluster, distributed.Client(cluster) as client:
        with Catalog(tmp_path / "dask.sqlite") as catalog:
            summary = run(catalog, tiny_archive, executor=client.get_executor(), batch_size=1)
            assert summary.complete and summary.read == 6
            assert census_rows(catalog) == expected


def test_moved_root_is_a_new_root(tiny_archive: Path, tmp_path: Path) -> None:
    moved = tmp_path / "moved"
    shutil.copytree(tiny_archive, moved)
    with Catalog(tmp_path / "c.sqlite") as catalog:
        run(catalog, tiny_archive, workers=0)
        scan(catalog, [RootSpec(str(moved), "SU8230")], workers=0)
        assert len(catalog.roots()) == 2
        assert catalog.total(root=str(moved)) == 5


def test_a_deleted_top_level_folder_is_missing_and_an_alias_is_walked_once(tiny_archive: Path, tmp_path: Path) -> None:
    (tiny_archive / "alias").symlink_to(tiny_archive / "groupA")  # the same folder under two names
    with Catalog(tmp_path / "c.sqlite") as catalog:
        first = run(catalog, tiny_archive, workers=2)
        assert first.seen == 6 and first.warnings == 1  # the alias is reported, not counted twice
        assert any("alias" in r["reason"] for r in catalog.audit_list("warnings"))
        shutil.rmtree(tiny_archive / "groupB")
        second = run(catalog, tiny_archive, workers=2)
        assert (second.seen, second.missing, second.read) == (3, 3, 0)
        assert catalog.total(files=True) == 3 and catalog.total(files=True, include_missing=True) == 6


def test_a_frame_saved_in_several_formats_reads_its_sidecar_once(tiny_archive: Path, tmp_path: Path, monkeypatch) -> None:
    from emcensus.scan import _pack, _Task, read_groups
    from emcensus.scan.walk import walk

    folder = next(f for f in walk(str(tiny_archive), []) if f.path.endswith("2016-06-23"))
    group = next(g for g in folder.groups if len(g.images) == 2)  # img001.tif + img001.jpg
    from emcensus import access

    reads: list[str] = []
    real_read_bounded = access.read_bounded
    monkeypatch.setattr(access, "read_bounded", lambda path, *args: reads.append(Path(path).name) or real_read_bounded(path, *args))
    with Catalog(tmp_path / "c.sqlite") as catalog:
        root_id = catalog.ensure_root(str(tiny_archive), "SU8230", None, None)
        scan_id = catalog.begin_scan([str(tiny_archive)])
        rows = read_groups(_Task(RootSpec(str(tiny_archive), "SU8230"), str(tiny_archive), _pack([group], 128), scan_id,
                                 root_id, catalog.root_settings(root_id)))
        assert reads.count("img001.txt") == 1
        assert (rows.files, rows.errors) == (2, 0)
        catalog.write_rows(rows)  # the rows a reading process made are the writer's whole work
        assert [row["magnification"] for row in catalog.images()] == [5000, 5000]


def test_rows_built_by_other_emcensus_code_are_refused_not_stored_by_position(tiny_archive: Path, tmp_path: Path) -> None:
    """A Dask worker installed apart from the client may build rows in another column order: stored by
    position they would put values in the wrong columns without an error."""
    import dataclasses

    from emcensus.catalog import GroupRows
    from emcensus.errors import CatalogError
    from emcensus.scan import _pack, _Task, read_groups
    from emcensus.scan.walk import walk

    groups = [g for f in walk(str(tiny_archive), []) for g in f.groups]
    with Catalog(tmp_path / "c.sqlite") as catalog:
        root_id = catalog.ensure_root(str(tiny_archive), "SU8230", None, None)
        scan_id = catalog.begin_scan([str(tiny_archive)])
        rows = read_groups(_Task(RootSpec(str(tiny_archive), "SU8230"), str(tiny_archive), _pack(groups, 128), scan_id,
                                 root_id, catalog.root_settings(root_id)))
        foreign = dataclasses.replace(rows, layout="built elsewhere")
        with pytest.raises(CatalogError, match="same emcensus on every Dask worker"):
            catalog.write_rows(foreign)
        with pytest.raises(CatalogError, match="same emcensus"):
            dataclasses.replace(rows, keys=[]).extend(foreign)
        # a worker whose GroupRows has no layout field: unpickled here as this class called with its
        # field values (`reduce_by_fields`), the layout left to its default
        values = [getattr(rows, field.name) for field in dataclasses.fields(rows) if field.name != "layout"]
        with pytest.raises(CatalogError, match="same emcensus on every Dask worker"):
            catalog.write_rows(GroupRows(*values))
        assert catalog.total(files=True) == 0
        catalog.write_rows(rows)
        assert catalog.total(files=True) == rows.files > 0


@pytest.mark.parametrize("made_by", [(), ("a0b1c2d3e4f5a6b7", "node7", "/opt/other/emcensus")])
def test_a_survey_made_by_other_emcensus_code_is_refused_by_the_client(made_by: tuple[str, ...]) -> None:
    """A Dask worker of other code reads the packs it made itself, never meeting the packs' check: the
    client refuses its survey, naming its install where it says it (code from before says nothing)."""
    from emcensus.scan import TASK_LAYOUT, ForeignCodeError, _of_this_code, _SurveyResult

    ours = _SurveyResult(made_by=(TASK_LAYOUT, "here", "/opt/emcensus"))
    assert _of_this_code(ours) is ours
    with pytest.raises(ForeignCodeError) as refused:
        _of_this_code(_SurveyResult(made_by=made_by))
    where = " (on node7, /opt/other/emcensus)" if made_by else ""
    assert str(refused.value) == ("a reading process runs other emcensus code than this one"
                                  f"{where}: install the same emcensus on every Dask worker")


def test_a_survey_of_code_from_before_unpickles_as_made_by_nobody() -> None:
    """A survey's result pickled by code without `made_by` (one field fewer, by position) reads here as
    made by no known code, which the client refuses."""
    from emcensus.record import field_values
    from emcensus.scan import _SurveyResult

    values = field_values(_SurveyResult)(_SurveyResult(seen=3))[:-1]  # as code from before pickles it
    cls, fields = pickle.loads(pickle.dumps((_SurveyResult, values)))
    assert cls(*fields).made_by == () and cls(*fields).seen == 3  # what unpickling `reduce_by_fields` calls


def test_a_pack_made_by_other_emcensus_code_is_refused_before_it_is_read(tiny_archive: Path, tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Packs travel as plain tuples whose meaning is their position: a reading process of other code
    (a Dask worker installed apart) refuses them in one line instead of reading them wrongly."""
    import emcensus.scan as census
    from emcensus.scan import ForeignCodeError, _pack, _Task, read_groups
    from emcensus.scan.walk import walk

    groups = [g for f in walk(str(tiny_archive), []) for g in f.groups]
    with Catalog(tmp_path / "c.sqlite") as catalog:
        root_id = catalog.ensure_root(str(tiny_archive), "SU8230", None, None)
        scan_id = catalog.begin_scan([str(tiny_archive)])

        def task(packs: list) -> _Task:
            return _Task(RootSpec(str(tiny_archive), "SU8230"), str(tiny_archive), packs, scan_id, root_id,
                         catalog.root_settings(root_id))

        ours = _pack(groups, 128)
        with monkeypatch.context() as elsewhere:
            elsewhere.setattr(census, "TASK_LAYOUT", "packed elsewhere")
            theirs = _pack(groups, 128)
        with pytest.raises(ForeignCodeError, match="install the same emcensus on every Dask worker"):
            read_groups(task(theirs))
        assert read_groups(task(ours)).files == sum(len(group.images) for group in groups) > 0


@pytest.mark.parametrize(("module", "told"), [
    ("distributed.scheduler", "the Dask cluster failed a task (KilledWorker: all 4 workers died): its scheduler's"),
    ("builtins", "a reading process failed a task (KilledWorker: all 4 workers died): its emcensus or packages differ"),
])
def test_a_task_that_failed_on_an_executor_given_is_one_line(module: str, told: str, tiny_archive: Path, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """Reads never raise on a file: a task that raised on a cluster met other code, unless the cluster
    itself failed it (distributed's own exception: no hint of other code)."""
    import emcensus.scan as census
    from emcensus.errors import EmcensusError

    failed = type("KilledWorker", (Exception,), {"__module__": module})

    def read_groups(task: object) -> None:
        raise failed("all 4\n workers died")

    monkeypatch.setattr(census, "read_groups", read_groups)
    with Catalog(tmp_path / "c.sqlite") as catalog, ThreadPoolExecutor(2) as executor:
        with pytest.raises(EmcensusError) as raised:
            scan(catalog, [RootSpec(str(tiny_archive), "SU8230")], executor=executor)
    assert str(raised.value).startswith(told)
    assert isinstance(raised.value, census.ForeignCodeError) == (module == "builtins")


def test_the_task_layout_is_the_same_in_another_folder_and_another_process(tmp_path: Path) -> None:
    """A worker running this emcensus installed elsewhere (another folder, another hash seed) is never
    refused; one whose task fields are in another order (same count and types: it would read one as the
    other, and store rows under the wrong scan and root) is."""
    import subprocess
    import sys

    import emcensus
    from emcensus.scan import TASK_LAYOUT

    def layout_in(folder: Path) -> list[str]:
        shown = subprocess.run([sys.executable, "-c", "import emcensus.scan as s; print(s.__file__, s.TASK_LAYOUT)"],
                               env={**os.environ, "PYTHONPATH": str(folder), "PYTHONHASHSEED": "12345"},
                               cwd=folder, capture_output=True, text=True, check=True, timeout=120).stdout.split()
        assert shown[0] == str(folder / "emcensus" / "scan" / "__init__.py")
        return shown[1]

    for name in ("same", "swapped"):
        shutil.copytree(Path(emcensus.__file__).parent, tmp_path / name / "emcensus",
                        ignore=shutil.ignore_patterns("__pycache__"))
    code = tmp_path / "swapped" / "emcensus" / "scan" / "__init__.py"
    assert code.read_text().count("    scan_id: int\n    root_id: int\n") == 1
    code.write_text(code.read_text().replace("    scan_id: int\n    root_id: int\n", "    root_id: int\n    scan_id: int\n"))
    assert layout_in(tmp_path / "same") == TASK_LAYOUT != layout_in(tmp_path / "swapped")


def test_an_orphan_sidecar_is_an_acquisition_without_an_image_file(tiny_archive: Path, tmp_path: Path) -> None:
    orphan = tiny_archive / "groupB/p2/2019-01-02/deleted.txt"
    with Catalog(tmp_path / "c.sqlite") as catalog:
        summary = run(catalog, tiny_archive, workers=2)
        assert summary.orphans == 1 and summary.read == 6  # read, but not an image file
        assert "1 acquisitions have only their sidecar left" in summary.paragraph()
        audit = catalog.audit()
        assert (audit["image_files"], audit["acquisitions"], audit["sidecar_only_acquisitions"]) == (6, 5, 1)
        assert catalog.total() == 5 and catalog.total(files=True) == 6  # not silently in the image totals
        [row] = catalog.images(kind="sidecar-only")
        assert row["path"] == str(orphan) and row["readable"] == 1 and row["is_primary"] == 1
        assert (row["instrument"], row["magnification"], row["detector_family"]) == ("SU8230", 1000, "SE")
        assert row["acquired_at"].startswith("2016-06-23")

        write_tiff(orphan.with_suffix(".tif"), seed=5)  # the image is back: one acquisition, with its image
        again = run(catalog, tiny_archive, workers=0)
        assert (again.orphans, again.missing) == (0, 0)
        assert catalog.audit()["sidecar_only_acquisitions"] == 0 and catalog.audit_list("orphan-sidecars") == []
        assert catalog.total() == 6 and catalog.record(str(orphan.with_suffix(".tif"))).magnification == 1000


def test_an_orphan_sidecar_that_cannot_be_read_is_listed_with_the_orphans(tiny_archive: Path, tmp_path: Path,
                                                                          vendor_samples: Path) -> None:
    emi = next((vendor_samples / "fei-tia-emi-ser").glob("*.emi"))  # TIA metadata; its .ser files stay behind
    shutil.copy(emi, tiny_archive / "groupB/p2/2019-01-02/lost.emi")
    with Catalog(tmp_path / "c.sqlite") as catalog:
        summary = run(catalog, tiny_archive, workers=0)
        assert summary.orphans == 2 and summary.errors == 1
        orphans = {Path(row["path"]).name for row in catalog.audit_list("orphan-sidecars")}
        assert orphans == {"deleted.txt", "lost.emi"}
        [problem] = catalog.audit_list("unreadable")
        assert problem["reason"] == "a TIA .emi whose .ser files are gone: its metadata is not read without them"
        assert catalog.audit()["sidecar_only_acquisitions"] == 1 and catalog.total() == 5


def test_a_scanning_connection_gets_a_larger_page_cache_and_a_reader_keeps_the_default(
        tiny_archive: Path, tmp_path: Path) -> None:
    with Catalog(tmp_path / "c.sqlite") as catalog:
        default = catalog.db.execute("PRAGMA cache_size").fetchone()[0]
        scan(catalog, [RootSpec(str(tiny_archive))], workers=0)
        assert catalog.db.execute("PRAGMA cache_size").fetchone()[0] == -SCAN_PAGE_CACHE_KIB != default
    with Catalog(tmp_path / "c.sqlite", readonly=True) as reader:
        assert reader.db.execute("PRAGMA cache_size").fetchone()[0] == default


def test_a_root_named_twice_is_read_once(tiny_archive: Path, tmp_path: Path) -> None:
    """The roots' walks share one queue: a root given twice would have every new file read twice."""
    with Catalog(tmp_path / "c.sqlite") as catalog, Catalog(tmp_path / "once.sqlite") as once:
        summary = scan(catalog, [RootSpec(str(tiny_archive), "SU8230"), RootSpec(str(tiny_archive) + os.sep)],
                       workers=0)
        expected = scan(once, [RootSpec(str(tiny_archive), "SU8230")], workers=0)
        assert (summary.read, summary.seen, summary.orphans) == (expected.read, expected.seen, expected.orphans) == (6, 6, 1)
        assert census_rows(catalog) == census_rows(once)
        assert [root["instrument"] for root in catalog.roots()] == ["SU8230"]


def test_the_writer_collects_its_youngest_generation_as_the_readers_do_and_gives_it_back(
        tiny_archive: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """During a census the scan's own process (the writer, and the reader with `workers=0`) collects
    its youngest generation every `CENSUS_GC_YOUNG` new objects; the caller's thresholds come back after,
    an interrupted census's too."""
    import gc

    from emcensus.scan.pool import CENSUS_GC_YOUNG

    before = gc.get_threshold()
    seen: list[int] = []
    write = Catalog.write_rows

    def recorded(self: Catalog, rows: object) -> None:
        seen.append(gc.get_threshold()[0])
        write(self, rows)

    monkeypatch.setattr(Catalog, "write_rows", recorded)
    with Catalog(tmp_path / "c.sqlite") as catalog:
        run(catalog, tiny_archive, workers=0)
        assert seen and set(seen) == {CENSUS_GC_YOUNG} != {before[0]}
        assert gc.get_threshold() == before

        def interrupted(self: Catalog, rows: object) -> None:
            raise KeyboardInterrupt

        monkeypatch.setattr(Catalog, "write_rows", interrupted)
        (tiny_archive / "groupA" / "new.tif").write_bytes(next((tiny_archive / "groupA").rglob("*.tif")).read_bytes())
        with pytest.raises(KeyboardInterrupt):
            run(catalog, tiny_archive, workers=0)
        assert gc.get_threshold() == before
