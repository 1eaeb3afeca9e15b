"""Issue 7 items 12 and presentation: filters refuse nonsense with exit 1 and a message, outputs
are rounded, typed and never blank, on tiny_archive (5 acquisitions, 6 image files)."""

from __future__ import annotations

import csv
import io
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
