"""Issue 7 items 12 and presentation: filters refuse nonsense with exit 1 and a message, outputs
are rounded, typed and never blank, on tiny_archive (5 acquisitions, 6 image files)."""

from __future__ import annotations

import json

import pytest


@pytest.mark.parametrize(("args", "message"), [
    (("--magnification", "-5"), "magnification '-5' must be a positive number"),
    (("--magnification", "0"), "must be a positive number"),
    (("--magnification", "50000-1000"), "is reversed"),
    (("--year", "2019.5"), "'2019.5' is not a year"),
    (("--year", "abc"), "is not a year or a range of years like 2015-2019"),
    (("--since", "2020", "--until", "2015"), "the first year (2020) is after the last (2015)"),
    (("--instrument", "SU9000"), "unknown instrument 'SU9000'; known: SU8230"),
    (("--technique", "XEM"), "unknown technique 'XEM'; known: SEM, TEM, STEM"),
    (("--detector", "XYZ"), "unknown detector 'XYZ'; known: DF-STEM, LA-BSE, SE, TE"),
    (("--group", "nobody"), "unknown group 'nobody'; known: groupA, groupB"),
    (("--project", "p9"), "unknown project 'p9'; known: p1, p2"),
    (("--kind", "photo"), "unknown kind 'photo'"),
])
def test_count_refuses_nonsense(census, args: tuple[str, ...], message: str) -> None:
    result = census("count", *args, ok=False)
    assert result.exit_code == 1 and message in result.output, result.output
    if args[0] == "--year":
        assert "1000-50000" not in result.output  # no magnification example for a year


def test_count_by_kind(census) -> None:
    by_kind = json.loads(census("count", "--by", "kind", "--kind", "all", "--format", "json").stdout)
    assert {"kind": "image", "count": 5} in by_kind and all(row["kind"] in ("image", "sidecar-only") for row in by_kind)
    assert json.loads(census("count", "--kind", "spectrum", "--format", "json").stdout) == [{"count": 0}]


def test_empty_results_say_so(census) -> None:
    table = census("count", "--by", "year", "--year", "2000").stdout
    assert table.strip() == "images (acquisitions) — year=2000: no rows"
    assert census("count", "--by", "year,technique", "--year", "2000", "--format", "csv").stdout == "year,technique,count\n"
    assert census("count", "--by", "year", "--year", "2000", "--format", "json").stdout.strip() == "[]"


def test_lost_is_rounded_and_years_are_numbers(census, tmp_path) -> None:
    ledger = tmp_path / "ledger.csv"
    ledger.write_text("article,year,image\n10.1000/a,2020,groupA/p1/2016-06-23/img001.tif\n", encoding="utf-8")
    census("pubs", "import", str(ledger))
    rows = json.loads(census("lost", "--by", "year", "--format", "json").stdout)
    years = [row["year"] for row in rows]
    assert years[:2] == [2016, 2019] and years[-1] == "TOTAL"  # numbers, not "2016"
    total = rows[-1]
    assert (total["acquired"], total["published"], total["published_pct"]) == (5, 1, 20.0)
    table = census("lost", "--by", "year").stdout
    assert "20.00" in table and "80.00" in table and "—" not in table
    text = census("lost", "--by", "instrument", "--format", "csv").stdout
    assert "SU8230,5,1,4,20.0,80.0" in text


def test_json_numbers_carry_no_float_noise(census) -> None:
    census("pubs", "add", "local-3", "--year", "2020")
    census("pubs", "link", "local-3", "groupA/p1/2016-06-23/img001.tif", "groupA/p1/2016-06-23/img002.tif",
           "groupB/p2/2019-01-02/img003.tif")
    [total] = [r for r in json.loads(census("lost", "--by", "technique", "--format", "json").stdout)
               if r["technique"] == "TOTAL"]
    assert total["published_pct"] == 60.0 and total["lost_pct"] == 40.0  # not 59.99999999999999
    fovs = [row["magnification"] for row in json.loads(census("count", "--by", "magnification", "--format", "json").stdout)]
    assert all(value is None or len(repr(value)) <= 12 for value in fovs)


def test_duplicate_export_paths_are_a_list_in_json(census) -> None:
    [row] = json.loads(census("audit", "--list", "duplicate-exports", "--format", "json").stdout)
    assert sorted(path.rsplit("/", 1)[1] for path in row["paths"]) == ["img001.jpg", "img001.tif"]
    csv_text = census("audit", "--list", "duplicate-exports", "--format", "csv").stdout
    assert "img001.jpg | " in csv_text or "img001.tif | " in csv_text


def test_tables_keep_ids_whole(census) -> None:
    long_id = "10.1016/j.ultramicroscopy.2024.113987-supp.4"  # 45 characters
    census("pubs", "add", long_id, "--year", "2024", "--title", "A title long enough to need wrapping " * 3,
           "--journal", "Journal of Very Long Names", "--category", "Materials")
    table = census("pubs", "list").stdout
    assert long_id in table  # on one line, not cut at 80 columns
    assert "…" not in table


@pytest.mark.parametrize("line", ["Magnification=1e-310", "Magnification=1e306", "PixelSize=1e308"])
def test_an_absurd_value_leaves_the_fov_empty_and_says_why(cli, tmp_path, line: str) -> None:
    from support import hitachi_sidecar, write_tiff

    root = tmp_path / "SU8230"
    write_tiff(root / "p/absurd.tif")
    key = line.split("=")[0]
    sidecar = [line if entry.startswith(f"{key}=") else entry for entry in hitachi_sidecar(5000, "SE(U)").split("\r\n")]
    if key == "Magnification":
        sidecar = [entry for entry in sidecar if not entry.startswith("PixelSize=")]
    (root / "p/absurd.txt").write_text("\r\n".join(sidecar), encoding="cp1252")
    cli("scan", str(root), "--instrument", "SU8230", "--workers", "0", "--quiet")
    [row] = json.loads(cli("count", "--by", "scalebar_decade", "--format", "json").stdout)
    if key == "PixelSize":  # the magnification route still gives the FOV
        assert row == {"scalebar_decade": "1–10 µm", "count": 1}
    else:
        assert row == {"scalebar_decade": None, "count": 1}
    warnings = json.loads(cli("audit", "--list", "warnings", "--format", "json").stdout)
    assert any(w["path"].endswith("absurd.tif") or w["path"].endswith("absurd.txt") for w in warnings), warnings
    report = cli("report", str(tmp_path / "report"))
    assert report.exit_code == 0


def test_an_empty_audit_list_has_a_csv_header(census) -> None:
    assert census("audit", "--list", "fov-disagreement", "--format", "csv").stdout == (
        "path,magnification,pixel_size_m,fov_pixel_size_m,fov_magnification_m,reason\n")
    assert census("audit", "--list", "missing").stdout.strip().endswith(": no rows")


def test_inspect_json_has_no_float_noise_but_keeps_the_vendor_values(cli, vendor_samples) -> None:
    from emcensus.readers import read_metadata

    path = vendor_samples / "gatan-dm" / "test_STEM_image.dm3"
    if not path.exists():
        pytest.skip(f"{path} is not among the vendor samples")
    record = json.loads(cli("inspect", str(path), "--json").stdout)
    exact = read_metadata(str(path)).to_dict()
    assert repr(exact["pixel_size_m"]) == "2.485380172729492e-10"  # float32 noise, as the reader gives it
    assert record["pixel_size_m"] == 2.48538e-10
    assert record["original_metadata"] == json.loads(json.dumps(exact["original_metadata"], default=str))
