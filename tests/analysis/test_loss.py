"""Lost-data breakdowns and storage tables (the growth fit: test_storage.py)."""

from __future__ import annotations

import pytest

from emcensus.analysis.loss import format_bytes, loss_breakdown, storage_table


def test_breakdown_by_year_keeps_unknown_and_flags_overcounts():
    breakdown = loss_breakdown("year", {2016: 1000, 2017: 500, None: 20}, {2016: 25, 2017: 10, 2019: 3})
    assert [row.key for row in breakdown.rows] == [2016, 2017, 2019, None]
    row_2016 = breakdown.rows[0]
    assert row_2016.published_pct == pytest.approx(2.5) and row_2016.lost_pct == pytest.approx(97.5)
    assert breakdown.rows[2].overcounted and breakdown.rows[2].lost_pct is None
    assert (breakdown.total.acquired, breakdown.total.published) == (1520, 38)
    records = breakdown.to_records()
    assert records[-2]["year"] is None and records[-1]["year"] == "TOTAL"  # years stay numbers
    assert records[2]["lost"] is None and records[2]["published_pct"] is None  # 3 published, 0 acquired
    assert breakdown.notes()[0] == "year 2019: 3 published, 0 acquired"
    assert "catalogued in the window" in breakdown.notes()[-1]
    assert records[0] == {"year": 2016, "acquired": 1000, "published": 25, "lost": 975,
                          "published_pct": pytest.approx(2.5), "lost_pct": pytest.approx(97.5)}


def test_breakdown_by_decade_sorts_by_size():
    breakdown = loss_breakdown("scale_bar_decade", {"1–10 µm": 5, "10–100 nm": 7, "100 nm–1 µm": 3}, {})
    assert [row.key for row in breakdown.rows] == ["10–100 nm", "100 nm–1 µm", "1–10 µm"]


def test_breakdown_by_name_is_alphabetical():
    breakdown = loss_breakdown("group", {"zeta": 1, "alpha": 2, None: 3}, {"alpha": 1})
    assert [row.key for row in breakdown.rows] == ["alpha", "zeta", None]


def test_storage_table_and_bytes_format():
    table = storage_table("instrument", {"SU8230": 3 * 1024**3, "HT7700": 1024**3})
    assert table.total_bytes == 4 * 1024**3
    assert table.to_records()[0] == {"instrument": "HT7700", "bytes": 1024**3, "size": "1.0 GiB", "share_pct": 25.0}
    assert [format_bytes(x) for x in (512, 1536, 5 * 1024**4, 3 * 1024**5)] == [
        "512 B", "1.5 KiB", "5.0 TiB", "3072.0 TiB"]
