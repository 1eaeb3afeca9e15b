"""`figures match --workers N`: the panels matched by forked worker processes that share one loaded
index give the output of a run in one process, byte for byte and in the same order (stdout and the
lines on stderr), on a generated corpus; a worker that dies midway is replaced and changes nothing."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from emcensus.figures.index import VisualIndex, index_folder
from emcensus.figures.match import Matcher, PanelResult, match_documents
from support import catalog_cli


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory):
    """A generated corpus (hard cases, SI, a vector figure), scanned and indexed, with a corrupt PDF among its papers."""
    from emcensus.figures.synth import make_figure_corpus

    base = tmp_path_factory.mktemp("parallel")
    truth = make_figure_corpus(base / "out", archive=base / "archive", articles=2, images=12, seed=3, size=(320, 240))
    (Path(truth.papers) / "0_broken.pdf").write_bytes(b"%PDF-1.4\n1 0 obj garbage")
    cli = catalog_cli(base / "census.sqlite")
    cli("scan", truth.archive, "--instrument", "SU8230", "--workers", "0", "--quiet")
    cli("figures", "index", "--workers", "0")
    return cli, truth, base / "census.sqlite"


def test_workers_give_the_output_of_one_process_byte_for_byte(corpus):
    cli, truth, _ = corpus
    alone = cli("figures", "match", truth.papers, "--all", "--format", "json", "--workers", "0")
    pooled = cli("figures", "match", truth.papers, "--all", "--format", "json", "--workers", "2")
    rows = json.loads(alone.stdout)
    assert len({row["document"] for row in rows}) >= 3 and sum(not row["weak"] for row in rows) >= 10
    assert pooled.stdout == alone.stdout
    assert "0_broken.pdf" in alone.stderr.splitlines()[0]  # the corrupt document is one line, the others go on
    assert pooled.stderr == alone.stderr


class _DiesOnce(Matcher):
    """A matcher whose process ends abruptly on the panel it meets first, once (a marker file says
    it happened): a worker killed midway, as by the out-of-memory killer."""

    marker: Path

    def match_panel(self, pixels, *, not_after_year=None) -> PanelResult:
        try:
            descriptor = os.open(self.marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            return super().match_panel(pixels, not_after_year=not_after_year)
        os.close(descriptor)
        os._exit(9)


def test_a_worker_that_dies_is_replaced_and_changes_nothing(corpus, tmp_path: Path):
    _, truth, catalog_path = corpus
    index = VisualIndex.load(index_folder(catalog_path))
    lines: dict[str, list[str]] = {"alone": [], "pooled": []}
    alone = [found.to_dict() for found in match_documents([truth.papers], Matcher(index),
                                                          warn=lines["alone"].append)]
    dying = _DiesOnce(index)
    dying.marker = tmp_path / "died"
    pooled = [found.to_dict() for found in match_documents([truth.papers], dying, workers=2,
                                                           warn=lines["pooled"].append)]
    assert dying.marker.exists()  # a worker did die
    assert pooled == alone and len(alone) >= 10
    assert lines["pooled"] == lines["alone"]
