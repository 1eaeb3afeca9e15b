"""Every CLI command, through click's runner, on a small archive of its own."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from emcensus.catalog import Catalog
from emcensus.cli.main import main
from emcensus.record import RECORD_FIELDS


@pytest.fixture
def scanned(cli, tiny_archive: Path):
    result = cli("scan", str(tiny_archive), "--instrument", "SU8230", "--workers", "0")
    assert "6 image files on disk" in result.output
    return cli


def test_scan_needs_something_to_scan(cli) -> None:
    result = cli("scan", ok=False)
    assert result.exit_code == 1 and "nothing to scan" in result.output and "Traceback" not in result.output


def test_scan_with_a_facility_file(cli, tiny_archive: Path, tmp_path: Path) -> None:
    config = tmp_path / "facility.toml"
    config.write_text(f'[facility]\nname = "test"\n\n[[instrument]]\nname = "SU8230"\nroots = ["{tiny_archive}"]\n')
    assert "6 image files on disk" in cli("scan", "--config", str(config), "--workers", "0").output
    rows = json.loads(cli("count", "--by", "instrument,technique", "--format", "json").output)
    assert {r["instrument"] for r in rows} == {"SU8230"}
    assert sum(r["count"] for r in rows) == 5


def test_scan_quiet_prints_nothing(cli, tiny_archive: Path) -> None:
    assert cli("scan", str(tiny_archive), "--workers", "0", "--quiet").output == ""


def test_count_formats(scanned) -> None:
    rows = json.loads(scanned("count", "--by", "year,technique", "--format", "json").output)
    assert all(set(r) == {"year", "technique", "count"} for r in rows)
    assert sum(r["count"] for r in rows) == 5
    files = json.loads(scanned("count", "--files", "--format", "json").output)
    assert files == [{"count": 6}]
    table = list(csv.DictReader(io.StringIO(scanned("count", "--by", "detector", "--format", "csv").output)))
    assert {r["detector"] for r in table} >= {"SE", "LA-BSE", "TE", "DF-STEM"}
    p1_p2_p3 = ("--year", "2019", "--instrument", "SU8230", "--detector", "TE")
    assert json.loads(scanned("count", *p1_p2_p3, "--format", "json").output) == [{"count": 1}]
    text = scanned("count", *p1_p2_p3).output
    assert "acquisitions" in text and "year=2019" in text and "detector=TE" in text


def test_count_rejects_bad_filters(scanned) -> None:
    result = scanned("count", "--magnification", "lots", ok=False)
    assert result.exit_code == 1 and "magnification" in result.output and "'lots'" in result.output
    result = scanned("count", "--by", "colour", ok=False)
    assert result.exit_code == 1 and "cannot group by colour" in result.output


def test_count_without_a_catalog(cli) -> None:
    result = cli("count", ok=False)
    assert result.exit_code == 1 and "emcensus scan" in result.output


def test_inspect_json_prints_the_normalised_record(cli, tiny_archive: Path) -> None:
    result = cli("inspect", str(tiny_archive / "groupA/p1/2016-06-23/img002.tif"), "--json")
    record = json.loads(result.output)
    assert tuple(record) == RECORD_FIELDS
    assert record["magnification"] == 50000 and record["detector_family"] == "LA-BSE"
    assert record["acquired_at_source"] == "metadata"
    table = cli("inspect", str(tiny_archive / "groupA/p1/2016-06-23/img002.tif")).output
    assert "magnification" in table


def test_audit_summary_and_lists(scanned, tiny_archive: Path) -> None:
    rows = json.loads(scanned("audit", "--format", "json").output)
    entries = {r["list"]: r["entries"] for r in rows}
    assert entries["image_files"] == 6 and entries["acquisitions"] == 5
    assert entries["orphan-sidecars"] == 1 and entries["duplicate-exports"] == 1
    listed = json.loads(scanned("audit", "--list", "no-metadata", "--format", "json").output)
    assert [Path(r["path"]).name for r in listed] == ["nosidecar.tif"]


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_export(scanned, tmp_path: Path, suffix: str) -> None:
    """Every catalogued file: 6 image files and the orphan sidecar (an acquisition without its image)."""
    out = tmp_path / f"catalog{suffix}"
    assert "wrote 7 rows" in scanned("export", str(out)).output
    if suffix == ".parquet":
        table = pq.read_table(out)
        assert {"path", "technique", "magnification", "original_metadata", "root"} <= set(table.column_names)
        with Catalog(tmp_path / "census.sqlite", readonly=True) as catalog:  # the `cli` fixture's catalog
            rows = [row for batch in catalog.iter_export_rows() for row in batch]
        assert table.to_pylist() == rows  # every value of every row, under its own column's name
        kinds = table.column("kind").to_pylist()
    else:
        kinds = [row["kind"] for row in csv.DictReader(out.open())]
    assert sorted(kinds) == ["image"] * 6 + ["sidecar-only"]


def test_version_and_help() -> None:
    runner = CliRunner()
    assert "emcensus" in runner.invoke(main, ["--version"]).output
    help_text = runner.invoke(main, ["--help"]).output
    for command in ("scan", "count", "inspect", "audit", "export", "demo"):
        assert command in help_text


def test_scan_options_for_layout_and_reference_width(cli, tiny_archive: Path) -> None:
    cli("scan", str(tiny_archive), "--instrument", "SU8230", "--layout", "{group}/{project}/**",
        "--magnification-reference-mm", "127", "--workers", "0")
    rows = json.loads(cli("count", "--by", "group,project", "--format", "json").output)
    assert {(r["group"], r["project"]) for r in rows} == {("groupA", "p1"), ("groupB", "p2")}
    result = cli("scan", str(tiny_archive), "--layout", "{group", ok=False)
    assert result.exit_code == 1 and "Traceback" not in result.output


def test_shell_completion_as_the_readme_says() -> None:
    """README: `eval "$(_EMCENSUS_COMPLETE=bash_source emcensus)"`; completing `emcensus sc` offers scan."""
    runner = CliRunner()
    script = runner.invoke(main, [], prog_name="emcensus", env={"_EMCENSUS_COMPLETE": "bash_source"})
    assert "_emcensus_completion" in script.output
    env = {"_EMCENSUS_COMPLETE": "bash_complete", "COMP_WORDS": "emcensus sc", "COMP_CWORD": "1"}
    assert runner.invoke(main, [], prog_name="emcensus", env=env).output.split() == ["plain,scan"]
    env = {"_EMCENSUS_COMPLETE": "bash_complete", "COMP_WORDS": "emcensus export x --format ", "COMP_CWORD": "4"}
    assert runner.invoke(main, [], prog_name="emcensus", env=env).output.split() == ["plain,parquet", "plain,csv"]
