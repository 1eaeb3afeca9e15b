"""The generator's truth is what its figures show: repeats seconds apart differ as real ones do (noise,
drift of a few pixels, the smooth change earlier exposures leave), and a vector trace of a false-colour
panel keeps its colours, as tracing tools do (traced in grey, a jet panel would show the map's
brightness, which rises and falls along the map, not the micrograph)."""

from __future__ import annotations

import io
import itertools
import json
from dataclasses import replace

import cv2
import numpy as np
import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
import pytest
from matplotlib.figure import Figure

from emcensus.figures.colour import detect_colour_map, scalar_from_colour_map
from emcensus.figures.synth import TRUTH_NAME, CorpusTruth, _trace, make_figure_corpus
from emcensus.figures.textures import EXPOSURE_CHANGE, _exposure_change, acquire, make_scene, micrograph, render


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.astype(np.float64).ravel(), b.astype(np.float64).ravel())[0, 1])


def test_a_later_shot_carries_a_smooth_change_the_earlier_ones_left() -> None:
    signal = render(make_scene("pores", 5), (0.5, 0.5), 0.3, 320, 240)
    first = acquire(signal, 11)
    # a later shot is the same detector on the signal the earlier scans changed: nothing else differs
    change = _exposure_change(np.random.default_rng([11, 11]), 1, *signal.shape)
    assert np.array_equal(acquire(signal, 11, exposed=1), acquire(signal.astype(np.float32) * change, 11))
    changes = []
    for exposed in (1, 2):
        later = acquire(signal, 11, exposed=exposed).astype(np.float64)
        ratio = cv2.GaussianBlur(later, (0, 0), 12) / cv2.GaussianBlur(first.astype(np.float64), (0, 0), 12)
        changes.append(float(ratio.std()))
        # smooth: across a few pixels the change hardly moves (the shot's noise, seed 11, is the same)
        assert float(np.abs(np.diff(ratio, axis=1)).max()) < 0.01
    assert 0.5 * EXPOSURE_CHANGE < changes[0] < 1.5 * EXPOSURE_CHANGE
    assert changes[1] > changes[0]  # each earlier exposure leaves its own


def test_repeats_in_a_corpus_drift_a_few_pixels_and_change(tmp_path) -> None:
    truth = make_figure_corpus(tmp_path / "out", archive=tmp_path / "archive", articles=1, images=40, seed=4,
                               size=(160, 120), panel_px=(100, 120))
    groups: dict[str, list] = {}
    for image in truth.images:
        if image.relation == "repeat":
            groups.setdefault(image.group, []).append(image)
    assert groups
    for shots in groups.values():
        assert [shot.exposed for shot in shots] == list(range(len(shots)))  # in acquisition order
        for a, b in itertools.combinations(shots, 2):
            pixel = a.view[2] / a.width
            drift = max(abs(a.view[0] - b.view[0]), abs(a.view[1] - b.view[1])) / pixel
            assert drift <= 6 + 1e-6  # up to 3 px each way from the first shot
    assert max(abs(s.view[0] - shots[0].view[0]) / (s.view[2] / s.width) for shots in groups.values()
               for s in shots) > 0.5  # more than the sub-pixel drift of before
    # a truth file written before `exposed` (corpora kept with --keep) loads, every shot a first one, as its
    # archive files were written
    saved = json.loads((tmp_path / "out" / TRUTH_NAME).read_text(encoding="utf-8"))
    for image in saved["images"]:
        del image["exposed"]
    (tmp_path / "old.json").write_text(json.dumps(saved), encoding="utf-8")
    old = CorpusTruth.load(tmp_path / "old.json")
    assert [image.exposed for image in old.images] == [0] * len(truth.images)
    assert [replace(image, exposed=0) for image in truth.images] == old.images


@pytest.fixture(scope="module")
def jet_panel() -> tuple[np.ndarray, np.ndarray]:
    """A TEM field in jet, as `authoring.adjust` draws false colour, and its grey values."""
    grey = micrograph("tem", 5, 336, 270)
    return grey, cv2.cvtColor(cv2.applyColorMap(grey, cv2.COLORMAP_JET), cv2.COLOR_BGR2RGB)


def _traced_pdf(pixels: np.ndarray) -> pdfium.PdfPage:
    """A one-panel PDF page with the panel traced as vectors."""
    figure = Figure(figsize=(4, 3.2))
    ax = figure.add_axes([0, 0, 1, 1])
    ax.set_axis_off()
    _trace(ax, pixels)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="pdf")
    return pdfium.PdfDocument(buffer.getvalue())[0]


def test_a_traced_false_colour_panel_keeps_its_colours_and_reads_back(jet_panel) -> None:
    grey, jet = jet_panel
    page = _traced_pdf(jet)
    assert not list(page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE]))  # vectors only
    rendered = np.asarray(page.render(scale=100 / 72).to_pil().convert("RGB"))
    assert detect_colour_map(rendered) == "jet"
    scalar = scalar_from_colour_map(rendered)
    assert scalar is not None
    shown = cv2.resize(grey, scalar.shape[::-1], interpolation=cv2.INTER_AREA)
    smooth = [cv2.GaussianBlur(image.astype(np.float32), (0, 0), 2) for image in (scalar, shown)]
    assert _corr(*smooth) > 0.95  # the micrograph, through its map (16 colours: 0.99)


def test_a_grey_panel_is_traced_in_grey(jet_panel) -> None:
    grey, _ = jet_panel
    rendered = np.asarray(_traced_pdf(grey).render(scale=100 / 72).to_pil().convert("RGB")).astype(np.int16)
    assert int(np.abs(rendered[..., 0] - rendered[..., 2]).max()) <= 2
    shown = cv2.resize(grey, rendered.shape[1::-1], interpolation=cv2.INTER_AREA)
    assert _corr(cv2.GaussianBlur(rendered[..., 0].astype(np.float32), (0, 0), 2),
                 cv2.GaussianBlur(shown.astype(np.float32), (0, 0), 2)) > 0.8
