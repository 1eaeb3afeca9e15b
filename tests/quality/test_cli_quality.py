"""The CLI: `emcensus quality`, then `count --by quality_flag` and `count --blank no --sharpness-pct
50-100` on a real archive holding a blank, a clipped and a defocused frame among good ones."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from emcensus.cli.main import main
from quality.quality_support import frame, write_frame
from support import catalog_cli, fingerprint

GOOD = 14


@pytest.fixture
def cli(tmp_path: Path):
    root = tmp_path / "archive" / "SU8230"
    session = root / "groupA" / "2019-01-02"
    for index in range(GOOD):
        write_frame(session / f"good{index:02d}", frame("particles", index, index, 320, 240))
    write_frame(session / "blank", np.full((240, 320), 12, np.uint8))  # beam off
    write_frame(session / "clipped", np.clip(frame("pores", 50, 50, 320, 240).astype(np.int32) * 3 - 150, 0, 255)
                .astype(np.uint8))
    defocused = cv2.GaussianBlur(frame("particles", 60, 60, 320, 240), (0, 0), 5)
    write_frame(session / "defocused", defocused)
    invoke = catalog_cli(tmp_path / "census.sqlite")
    invoke("scan", str(root), "--instrument", "SU8230", "--workers", "0", "--quiet")
    invoke.root = root
    return invoke


def _counts(result) -> dict:
    return {row["quality_flag"]: row["count"] for row in json.loads(result.output)}


def test_quality_then_count_by_flag_and_filter_on_blank_and_sharpness(cli) -> None:
    before = fingerprint(cli.root)
    result = cli("quality", "--workers", "0")
    assert f"{GOOD + 3} measured" in result.output and "could not be measured" not in result.output
    assert _counts(cli("count", "--by", "quality_flag", "--format", "json")) == {
        "ok": GOOD, "blank": 1, "clipped": 1, "blurred": 1}
    sharp_half = json.loads(cli("count", "--blank", "no", "--sharpness-pct", "50-100", "--format", "json").output)
    # percentiles among the 16 ranked (the blank frame is not ranked): ranks 9 to 16 are at 50 % or above
    assert sharp_half == [{"count": 8}]
    assert json.loads(cli("count", "--blank", "yes", "--format", "json").output) == [{"count": 1}]
    assert json.loads(cli("count", "--quality-flag", "blurred,blank", "--format", "json").output) == [{"count": 2}]
    again = cli("quality", "--workers", "0")
    assert f"{GOOD + 3} unchanged" in again.output
    assert fingerprint(cli.root) == before


def test_quality_filters_refuse_nonsense_and_an_unmeasured_catalog(cli) -> None:
    unmeasured = cli("count", "--blank", "no", ok=False)
    assert unmeasured.exit_code == 1 and "run `emcensus quality` first" in unmeasured.output
    cli("quality", "--workers", "0", "--quiet")
    for args, message in ((("--blank", "maybe"), "not yes or no"),
                          (("--sharpness-pct", "50-150"), "not a percentile"),
                          (("--sharpness-pct", "90-10"), "reversed"),
                          (("--quality-flag", "fuzzy"), "unknown quality flag")):
        result = cli("count", *args, ok=False)
        assert result.exit_code == 1 and message in result.output, args


def test_quality_on_a_missing_catalog_says_so(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["--catalog", str(tmp_path / "none.sqlite"), "quality"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert not (tmp_path / "none.sqlite").exists()
