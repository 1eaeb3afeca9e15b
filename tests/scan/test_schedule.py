"""The census loop: reads found so far are written and new ones sent while a folder is still walked."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import emcensus.scan as census
from emcensus.catalog import Catalog
from emcensus.scan import RootSpec, scan


def test_reads_are_written_while_a_survey_runs(tiny_archive: Path, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """The walk of `groupB` goes on until something was written: the reads of `groupA`, surveyed
    first, must be collected and written meanwhile (a loop that waited on the surveys alone wrote
    nothing until the walk of a big folder was over, and its other workers ran out of reads)."""
    written = threading.Event()
    waited: dict[str, bool] = {}
    real_survey, real_write = census.survey, Catalog.write_rows

    def slow_survey(task: census._Survey) -> census._SurveyResult:
        if task.folder.endswith("groupB"):
            waited["groupB"] = written.wait(10)  # a big folder, walked for as long as nothing is written
        return real_survey(task)

    def write_rows(self: Catalog, rows: object) -> None:
        real_write(self, rows)
        written.set()

    monkeypatch.setattr(census, "survey", slow_survey)
    monkeypatch.setattr(Catalog, "write_rows", write_rows)
    with Catalog(tmp_path / "c.sqlite") as catalog, ThreadPoolExecutor(2) as executor:
        summary = scan(catalog, [RootSpec(str(tiny_archive), "SU8230")], executor=executor, batch_size=1)
        assert summary.complete and summary.read == 6
        assert catalog.total(files=True) == 6
    assert waited == {"groupB": True}, "groupA's reads were written while groupB was walked"
