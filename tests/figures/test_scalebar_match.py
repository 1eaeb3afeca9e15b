"""The printed scale bar in `match_documents`: the panel's field of view from it when the matched
archive image has no pixel size, and a label that disagrees with bar length × the matched field of
view, or a value that bar length × the matched field of view chose among disagreeing reads, reported
in the output (`scale_bar_check`), on a real index and real image files."""

from __future__ import annotations

import html
import json
from pathlib import Path

import numpy as np
import pytest
import tifffile
from fastapi.testclient import TestClient
from PIL import Image

from emcensus.catalog.figures import ProposedMatch
from emcensus.figures import scalebar
from emcensus.figures.barpanels import draw_scale_bar
from emcensus.figures.match import Matcher, match_documents
from emcensus.web import create_app
from figures.ocr_script import scripted
from figures.match_support import WIDTH, area_of, build_archive, publish, scene, shot, visual_index
from support import catalog_cli

PIXEL_SIZE = 10e-9
#: publish() crops 60 % of the 640 px width and shows it 300 px wide: 3.84 µm, so 1 µm is 78 px.
PANEL_FOV = 0.6 * WIDTH * PIXEL_SIZE
BAR_PX = 78


def _matcher(folder: Path, pixel_size_m: float | None) -> tuple[Matcher, np.ndarray]:
    """An index of two archive TIFFs (b, c); b's pixel size as given. Returns it and b's pixels."""
    shots = {"b": shot(scene(101), 150, 80, 1.0, 4), "c": shot(scene(102), 60, 120, 1.0, 5)}
    files = {folder / f"{name}.tif": pixels for name, pixels in shots.items()}
    for path, pixels in files.items():
        tifffile.imwrite(path, pixels)
    sizes = {path: pixel_size_m if path.stem == "b" else PIXEL_SIZE for path in files}
    return Matcher(visual_index(files, pixel_size_m=sizes)), shots["b"]


def _match(tmp_path: Path, pixel_size_m: float | None, label: str) -> tuple[dict, list[str], ProposedMatch]:
    """The one match's JSON object, the lines warned and the match as the catalog stores it."""
    matcher, source = _matcher(tmp_path, pixel_size_m)
    panel, _, _ = draw_scale_bar(publish(source), label, BAR_PX, white=True, box=True)  # on a box, as many authors do
    Image.fromarray(panel).save(tmp_path / "figure.png")
    warnings: list[str] = []
    (found,) = match_documents([tmp_path / "figure.png"], matcher, warn=warnings.append)
    return found.to_dict(), [line.removeprefix(str(tmp_path) + "/") for line in warnings], found.proposed()


def test_field_of_view_from_the_printed_bar_when_the_image_has_no_pixel_size(tmp_path: Path) -> None:
    row, warnings, _ = _match(tmp_path, None, "1 µm")
    assert Path(row["image"]).stem == "b" and row["scale_bar_m"] == pytest.approx(1e-6)
    assert row["panel_fov_m"] == pytest.approx(1e-6 / BAR_PX * 300, rel=0.03)  # value / bar px × panel px
    assert row["scale_bar_check"] is None and warnings == []


def test_label_agreeing_with_the_matched_field_of_view_is_not_reported(tmp_path: Path) -> None:
    row, warnings, _ = _match(tmp_path, PIXEL_SIZE, "1 µm")
    assert row["panel_fov_m"] == pytest.approx(PANEL_FOV, rel=0.05)
    assert row["scale_bar_m"] == pytest.approx(1e-6) and row["scale_bar_check"] is None and warnings == []


def test_mislabelled_bar_is_read_as_printed_and_reported(tmp_path: Path) -> None:
    """1 µm long, labelled 5 µm: the value stays what is printed, the FOV the matched one, the
    disagreement is in the output and on stderr."""
    row, warnings, _ = _match(tmp_path, PIXEL_SIZE, "5 µm")
    assert row["scale_bar_m"] == pytest.approx(5e-6)
    assert row["panel_fov_m"] == pytest.approx(PANEL_FOV, rel=0.05)  # from the match, not from the label
    check = row["scale_bar_check"]
    assert check is not None and check.startswith("scale bar reads 5 µm but its 78 px are")
    assert "(label 4.9" in check or "(label 5" in check
    assert warnings == ["figure.png page 1: b.tif: " + check]


@pytest.mark.parametrize(("reads", "value_m"), [
    (("1 µm", "10 µm"), 1e-6),   # the reads disagree; bar length × the matched FOV is 1 µm: chosen
    (("5 µm", "50 µm"), None),   # neither is what the bar measures: no value, never one no read gave
])
def test_matched_field_of_view_chooses_between_disagreeing_reads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                 reads: tuple[str, str], value_m: float | None) -> None:
    """OCR scripted to read the label's two crops differently (the panel, index and match are real).
    A value the FOV chose is reported as such (output, stderr, the catalog's stored match): the label
    may print the other read ("10 µm" on a bar of 1 µm, a digit dropped on one read)."""
    calls = iter(reads * 50)
    monkeypatch.setattr(scalebar, "read_line", scripted(lambda image: (next(calls), 0.9)))
    row, warnings, stored = _match(tmp_path, PIXEL_SIZE, "1 µm")
    assert row["scale_bar_m"] == (pytest.approx(value_m) if value_m else None)
    if value_m:
        check = row["scale_bar_check"]
        assert check.startswith("scale bar reads disagree (1 µm, 10 µm): 1 µm taken, as its 78 px are")
        assert check.endswith("a label printed 10 µm would be a mislabelled bar")
        assert stored.scale_bar_check == check and warnings == ["figure.png page 1: b.tif: " + check]
    else:  # neither read confirmed: no value, nothing chosen to report
        assert row["scale_bar_check"] is None and stored.scale_bar_check is None and warnings == []


def test_a_value_chosen_by_the_field_of_view_is_stored_and_shown_for_review(tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """End to end through the CLI on a scanned archive (OCR scripted to read "1 µm" and "10 µm"
    by turns on a bar 1 µm long): the catalog's stored match and the review page say which reads
    disagreed and which one the matched field of view took."""
    paths = build_archive(tmp_path / "archive" / "SU8230")
    papers = tmp_path / "papers"
    papers.mkdir()
    panel, _, _ = draw_scale_bar(publish(area_of(paths["b"])), "1 µm", 79, white=True, box=True)  # 3.8 µm on 300 px
    Image.fromarray(panel).save(papers / "bar.png")
    cli = catalog_cli(tmp_path / "census.sqlite")
    cli("scan", str(tmp_path / "archive" / "SU8230"), "--instrument", "SU8230", "--workers", "0", "--quiet")
    cli("figures", "index", "--workers", "0")
    calls = iter(("1 µm", "10 µm") * 50)
    monkeypatch.setattr(scalebar, "read_line", scripted(lambda image: (next(calls), 0.9)))
    result = cli("figures", "match", str(papers / "bar.png"), "--format", "json")
    (row,) = json.loads(result.stdout)
    assert Path(row["image"]).stem == "b" and row["scale_bar_m"] == pytest.approx(1e-6)
    assert row["scale_bar_check"].startswith("scale bar reads disagree (1 µm, 10 µm): 1 µm taken")
    assert "bar.png page 1: b.tif: " + row["scale_bar_check"] in result.stderr
    (stored,) = json.loads(cli("figures", "list", "--format", "json").stdout)
    assert stored["scale_bar_check"] == row["scale_bar_check"]
    with TestClient(create_app(tmp_path / "census.sqlite")) as client:
        page = client.get("/review").text
    assert "scale bar check" in page and html.escape(row["scale_bar_check"], quote=False) in page
