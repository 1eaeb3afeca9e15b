"""The synthetic article corpus: real TIFFs, sidecars and PDFs, and a truth that says what they hold."""

from __future__ import annotations

import html
import itertools
import json
import re
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
import pytest
import tifffile

from emcensus.errors import ConfigError
from emcensus.figures.authoring import add_scale_bar, format_length, inset, place
from emcensus.figures.synth import TRUTH_NAME, CorpusTruth, image_pixels, make_figure_corpus
from emcensus.figures.textures import TEXTURES, acquire, make_scene, micrograph, render
from emcensus.analysis.publications import article_id as article_id_of
from emcensus.analysis.publications import read_ledger
from emcensus.readers import read_metadata
from support import catalog_cli


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> CorpusTruth:
    root = tmp_path_factory.mktemp("corpus")
    return make_figure_corpus(root / "out", archive=root / "archive", articles=4, images=24, seed=3, size=(320, 240),
                              pictures=True)


def _small(pixels: np.ndarray) -> np.ndarray:
    a = cv2.resize(pixels.astype(np.float32), (32, 24), interpolation=cv2.INTER_AREA).ravel()
    return (a - a.mean()) / (a.std() + 1e-9)


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    a = a.astype(np.float64).ravel()
    b = b.astype(np.float64).ravel()
    return float(np.corrcoef(a, b)[0, 1])


def _files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _portable(truth: CorpusTruth) -> dict:
    data = truth.to_json()
    del data["archive"], data["papers"]
    return data


def test_same_seed_same_bytes_other_seed_other_corpus(tmp_path: Path) -> None:
    # the second run renders in two processes: the output does not depend on that
    made = [make_figure_corpus(tmp_path / f"out{k}", archive=tmp_path / f"arch{k}", articles=2, images=9, seed=s,
                               size=(160, 120), panel_px=(100, 120), workers=w)
            for k, (s, w) in enumerate(((5, 1), (5, 2), (6, 1)))]
    first, second = _files(tmp_path / "arch0"), _files(tmp_path / "arch1")
    assert len(first) == 18 and first == second  # 9 TIFFs + 9 sidecars, byte for byte
    assert _files(tmp_path / "out0" / "papers") == _files(tmp_path / "out1" / "papers")
    assert _portable(made[0]) == _portable(made[1])
    assert (tmp_path / "out0" / TRUTH_NAME).read_bytes().count(b"\n") > 100
    other = _files(tmp_path / "arch2")
    assert not set(first.values()) & set(other.values())
    assert _portable(made[2]) != _portable(made[0])


def test_textures_distinct_repeats_close_not_identical(corpus: CorpusTruth) -> None:
    # unrelated specimens, every kind against every other and two seeds of one kind
    shots = [micrograph(kind, seed, 160, 120) for kind in TEXTURES for seed in (1, 2)]
    worst = max(abs(float(_small(a) @ _small(b))) / 768 for a, b in itertools.combinations(shots, 2))
    assert worst < 0.5
    pixels = {img.path: image_pixels(img) for img in corpus.images}
    repeats = [g for g in corpus.groups().values() if corpus_relation(corpus, g[0]) == "repeat"]
    assert repeats
    image_of = {img.path: img for img in corpus.images}
    for group in repeats:
        for a, b in itertools.combinations(group, 2):
            assert not np.array_equal(pixels[a], pixels[b])  # new noise, a drift, what earlier shots left
            # the same field, drifted by what the truth's views say (up to a few pixels): shifted back, b
            # shows a's structure (unrelated specimens < 0.5; low-contrast films 0.83-0.88, the others 0.97-0.99)
            first, later = image_of[a], image_of[b]
            step = first.view[2] / first.width
            shift = np.array([[1, 0, (later.view[0] - first.view[0]) / step],
                              [0, 1, (later.view[1] - first.view[1]) / step]])
            back = cv2.warpAffine(pixels[b].astype(np.float32), shift, pixels[b].shape[::-1])
            assert _corr(*(cv2.GaussianBlur(np.float32(image), (0, 0), 1)[8:-8, 8:-8] for image in (pixels[a], back))) > 0.8
    groups = {img.path: img.group for img in corpus.images}
    unrelated = [abs(float(_small(pixels[a]) @ _small(pixels[b]))) / 768
                 for a, b in itertools.combinations(pixels, 2) if groups[a] != groups[b]]
    assert max(unrelated) < 0.5


def corpus_relation(corpus: CorpusTruth, path: str) -> str:
    return next(img.relation for img in corpus.images if img.path == path)


def test_series_members_show_the_same_specimen(corpus: CorpusTruth) -> None:
    series = [sorted((img for img in corpus.images if img.group == g), key=lambda i: i.magnification)
              for g, paths in corpus.groups().items() if corpus_relation(corpus, paths[0]) == "series"]
    assert series
    for low, *highs in series:
        assert all(h.magnification > low.magnification for h in highs)
        overview = image_pixels(low).astype(np.float32)
        step = low.view[2] / low.width
        for high in highs:
            # where the zoomed field lies in the overview, from the views in the truth
            x0 = (high.view[0] - high.view[2] / 2 - (low.view[0] - low.view[2] / 2)) / step
            y0 = (high.view[1] - high.view[2] * 0.75 / 2 - (low.view[1] - low.view[2] * 0.75 / 2)) / step
            w = high.view[2] / step
            region = overview[round(y0):round(y0 + w * 0.75), round(x0):round(x0 + w)]
            assert region.shape[0] >= 10 and region.shape[1] >= 10
            zoom = cv2.resize(image_pixels(high).astype(np.float32), region.shape[::-1], interpolation=cv2.INTER_AREA)
            # the overview's noise is a pixel wide; the specimen is larger
            assert _corr(cv2.GaussianBlur(region, (0, 0), 1), cv2.GaussianBlur(zoom, (0, 0), 1)) > 0.7
            # and the pixel sizes follow the magnifications
            assert high.pixel_size_m * high.magnification == pytest.approx(low.pixel_size_m * low.magnification)


def test_archive_tiffs_and_sidecars(corpus: CorpusTruth) -> None:
    archive = Path(corpus.archive)
    assert len(list(archive.rglob("*.tif"))) == len(corpus.images) == 24
    assert not list(Path(corpus.papers).parent.rglob("*.tif"))
    for img in corpus.images:
        stored = tifffile.imread(archive / img.path)
        assert stored.shape == (img.height + img.data_bar_px, img.width)
        assert stored.dtype == (np.uint8 if img.bits == 8 else np.uint16)
        assert np.array_equal(stored[: img.height], image_pixels(img))
        if img.data_bar_px:  # the data bar: black with white text and ruler
            bar = stored[img.height:]
            assert np.median(bar) == 0 and bar.max() > 0
        record = read_metadata(str(archive / img.path), None).to_dict()
        assert record["vendor"] == "Hitachi"
        assert record["width_px"] == img.width and record["height_px"] == img.height
        assert record["magnification"] == img.magnification
        assert record["pixel_size_m"] == pytest.approx(img.pixel_size_m, rel=1e-4)
        assert record["acquired_at"] == img.acquired_at
    assert {img.technique for img in corpus.images} == {"SEM", "TEM"} or len(corpus.images) < 6


def _images_on_page(page: pdfium.PdfPage) -> list[tuple[tuple[float, ...], np.ndarray]]:
    """(bounds from the page's top-left corner, upright pixels) of each image object: matplotlib
    stores them upside down."""
    out = []
    height = page.get_height()
    for obj in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE]):
        pixels = obj.get_bitmap(render=False).to_numpy()
        if pixels.ndim == 3:
            pixels = cv2.cvtColor(pixels[..., :3], cv2.COLOR_BGR2GRAY)
        matrix = obj.get_matrix()
        if matrix.d < 0:
            pixels = pixels[::-1]
        left, bottom, right, top = obj.get_bounds()
        out.append(((left, height - top, right, height - bottom), pixels))
    return out


def test_pdfs_hold_the_panels_the_truth_says(corpus: CorpusTruth) -> None:
    papers = Path(corpus.papers)
    documents = sorted(p.name for p in papers.glob("*.pdf"))
    assert documents == sorted(d for a in corpus.articles for d in a.documents if d.endswith(".pdf"))
    assert any(re.search(r"(_SI|-SI|_supp1)\.pdf$", d) for d in documents)
    sources = {img.path: image_pixels(img) for img in corpus.images}
    scores: list[float] = []
    for article in corpus.articles:
        for name in (d for d in article.documents if d.endswith(".pdf")):
            pdf = pdfium.PdfDocument(papers / name)
            figures = [f for f in article.figures if f.document == name]
            assert len(pdf) == 1 + len(figures)
            first = pdf[0].get_textpage().get_text_range()
            if not re.search(r"(_SI|-SI|_supp1)\.pdf$", name):
                assert f"https://doi.org/{article.article}" in first
            assert article.article.startswith("10.5555/emc.")
            for figure in figures:
                page = pdf[figure.page - 1]
                objects = _images_on_page(page)
                assert len(objects) == sum(p.raster for p in figure.panels)
                assert f"Figure {figure.number}." in page.get_textpage().get_text_range()
                for panel in figure.panels:
                    if not panel.raster:
                        continue
                    bounds, pixels = min(objects, key=lambda o: sum(abs(a - b) for a, b in zip(o[0], panel.bbox_pt)))
                    assert sum(abs(a - b) for a, b in zip(bounds, panel.bbox_pt)) < 2
                    if panel.kind != "archive" or "false colour" in panel.geometry.edits:
                        continue
                    g = panel.geometry
                    assert list(pixels.shape[::-1]) == g.size_px
                    src = sources[panel.source]
                    x0, y0, x1, y1 = g.crop_box_px
                    assert 0 <= x0 < x1 <= src.shape[1] + 1e-6 and 0 <= y0 < y1 <= src.shape[0] + 1e-6
                    shown = cv2.GaussianBlur(pixels.astype(np.float32), (0, 0), 1)
                    right = abs(_corr(_warped(src, g.matrix, g.scale, g.size_px), shown))
                    other = next(v for k, v in sources.items() if corpus_group(corpus, k) != corpus_group(corpus, panel.source))
                    assert abs(_corr(_warped(other, g.matrix, g.scale, g.size_px), shown)) < right - 0.1
                    scores.append(right)
    # arrows, labels, bars and JPEG cover part of a panel; most still follow their source closely
    assert len(scores) >= 10 and np.median(scores) > 0.85 and np.mean(np.array(scores) > 0.6) > 0.8


def _warped(source: np.ndarray, matrix: list[list[float]], scale: float, size: list[int]) -> np.ndarray:
    """The source through the truth's matrix, low-passed like a resize, then blurred like `shown`."""
    blurred = cv2.GaussianBlur(source.astype(np.float32), (0, 0), max(0.5 / scale, 0.3))
    warped = cv2.warpAffine(blurred, np.array(matrix), tuple(size), borderMode=cv2.BORDER_REFLECT)
    return cv2.GaussianBlur(warped, (0, 0), 1)


def test_thesis_docx_talk_pptx_and_slide_screenshot(corpus: CorpusTruth) -> None:
    papers = Path(corpus.papers)
    pictures = [(a, f) for a in corpus.articles for f in a.figures if not f.document.endswith(".pdf")]
    assert sorted(Path(f.document).suffix for _, f in pictures) == [".docx", ".png", ".pptx"]
    sources = {img.path: image_pixels(img) for img in corpus.images}
    packages = {".docx": ("word/document.xml", "word/media/image1.png"),
                ".pptx": ("ppt/slides/slide2.xml", "ppt/media/image1.png")}
    for article, figure in pictures:
        assert article.article == Path(figure.document).stem  # no DOI: the file names the publication
        suffix = Path(figure.document).suffix
        if suffix in packages:
            text_part, media = packages[suffix]
            with zipfile.ZipFile(papers / figure.document) as package:
                assert package.testzip() is None
                xml = html.unescape(package.read(text_part).decode("utf-8"))
                assert figure.caption in xml and 'r:embed="rIdImage1"' in xml
                data = package.read(media)
            picture = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE)
        else:
            picture = cv2.imread(str(papers / figure.document), cv2.IMREAD_GRAYSCALE)
            assert picture.shape == (720, 1280)
        for panel in figure.panels:
            g = panel.geometry
            x0, y0, x1, y1 = (round(v) for v in panel.bbox_pt)
            shown = cv2.GaussianBlur(picture[y0:y0 + g.size_px[1], x0:x0 + g.size_px[0]].astype(np.float32), (0, 0), 1)
            assert abs(x1 - x0 - g.size_px[0]) <= 1 and g.edits[-1].startswith("shown at")
            if "false colour" in g.edits:
                continue
            right = abs(_corr(_warped(sources[panel.source], g.matrix, g.scale, g.size_px), shown))
            assert right > 0.5, (figure.document, panel.letter, g.edits)


def test_stitched_montage_shows_both_tiles(corpus: CorpusTruth) -> None:
    montages = [(a, f, p) for a, f, p in corpus.panels() if p.kind == "montage"]
    assert montages
    scores: list[float] = []
    for article, figure, panel in montages:
        first, second = (corpus_image(corpus, part.source) for part in panel.montage)
        assert first.group == second.group and first.relation == "tiles" and panel.source == first.path
        assert {first.path, second.path} <= set(corpus.ledger()[article.article])
        if figure.vector or "false colour" in panel.geometry.edits:
            continue
        page = pdfium.PdfDocument(Path(corpus.papers) / figure.document)[figure.page - 1]
        _, pixels = min(_images_on_page(page), key=lambda o: sum(abs(a - b) for a, b in zip(o[0], panel.bbox_pt)))
        shown = cv2.GaussianBlur(pixels.astype(np.float32), (0, 0), 1)
        for part, image in zip(panel.montage, (first, second)):
            x0, y0, x1, y1 = part.crop_box_px
            assert -1e-6 <= x0 < x1 <= image.width + 1e-6  # each tile shows a part of itself
            # the panel columns this tile covers, through its own matrix
            m = np.array(part.matrix)
            cols = sorted(round(float(m[0] @ [x, (y0 + y1) / 2, 1])) for x in (x0, x1 - 1))
            lo, hi = max(cols[0], 0), min(cols[1], pixels.shape[1])
            if hi - lo < 12:
                continue
            expected = _warped(image_pixels(image), part.matrix, panel.geometry.scale, panel.geometry.size_px)
            scores.append(abs(_corr(expected[:, lo:hi], shown[:, lo:hi])))  # a bar or label may cover a strip
    assert len(scores) >= 2 and min(scores) > 0.4 and np.mean(scores) > 0.8


def corpus_group(corpus: CorpusTruth, path: str) -> str:
    return next(img.group for img in corpus.images if img.path == path)


def test_vector_figure_has_no_image_object_but_renders(corpus: CorpusTruth) -> None:
    vector = [(a, f) for a in corpus.articles for f in a.figures if f.vector]
    assert len(vector) == 1
    _, figure = vector[0]
    page = pdfium.PdfDocument(Path(corpus.papers) / figure.document)[figure.page - 1]
    assert not list(page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE]))
    rendered = np.asarray(page.render(scale=1).to_pil().convert("L"))
    panel = next(p for p in figure.panels if p.kind == "archive")
    x0, y0, x1, y1 = panel.bbox_pt
    region = rendered[int(y0) + 2:int(y1) - 2, int(x0) + 2:int(x1) - 2]
    assert region.std() > 10  # a drawn micrograph, not white paper


def test_truth_ledger_groups_and_kinds(corpus: CorpusTruth) -> None:
    ledger = corpus.ledger()
    assert set(ledger) == {a.article for a in corpus.articles}
    published = {p for paths in ledger.values() for p in paths}
    every = {img.path for img in corpus.images}
    assert published < every  # some archive images are never published: lost data
    assert all((Path(corpus.archive) / p).is_file() for p in published)
    assert len(corpus.pairs()) == sum(len(v) for v in ledger.values())
    kinds = {p.kind for _, _, p in corpus.panels()}
    assert {"archive", "distractor"} <= kinds and kinds & {"plot", "scheme"}
    assert {img.relation for img in corpus.images} == {"single", "repeat", "series", "tiles"}
    # a series or repeats shown side by side in one figure
    side = [f for a in corpus.articles for f in a.figures
            if len({corpus_group(corpus, p.source) for p in f.panels if p.source}) < len([p for p in f.panels if p.source])]
    assert side
    for article in corpus.articles:  # acquired before the article's year
        years = [int(corpus_image(corpus, p).acquired_at[:4]) for p in ledger[article.article]]
        assert max(years) < article.year
    saved = json.loads((Path(corpus.papers).parent / TRUTH_NAME).read_text(encoding="utf-8"))
    assert saved["ledger"] == ledger
    assert CorpusTruth.load(Path(corpus.papers).parent / TRUTH_NAME).to_json() == corpus.to_json()


def test_ledger_csv_reads_as_a_publication_ledger(corpus: CorpusTruth, tmp_path: Path) -> None:
    ledger = read_ledger(corpus.write_ledger(tmp_path / "ledger.csv"))
    assert not ledger.problems
    assert {(i.article, i.path) for i in ledger.images} == {
        (article_id_of(a), p) for a, paths in corpus.ledger().items() for p in paths}
    assert {a.id: a.year for a in ledger.articles} == {article_id_of(a.article): a.year for a in corpus.articles}


def test_archive_scans_and_truth_ledger_gives_table1(corpus: CorpusTruth, tmp_path: Path) -> None:
    """The archive censuses like a facility's, and Table 1 from the truth ledger counts every link."""
    run = catalog_cli(tmp_path / "c.sqlite")
    roots = sorted({str(Path(corpus.archive) / img.instrument) for img in corpus.images})
    run("scan", *roots, "--quiet")
    rows = json.loads(run("count", "--by", "instrument,technique", "--format", "json").stdout)
    expected: dict[tuple[str, str], int] = {}
    for img in corpus.images:
        expected[(img.instrument, img.technique)] = expected.get((img.instrument, img.technique), 0) + 1
    assert {(r["instrument"], r["technique"]): r["count"] for r in rows} == expected
    run("pubs", "import", str(corpus.write_ledger(tmp_path / "ledger.csv")))
    table = json.loads(run("table1", "--format", "json").stdout)
    total = next(c for c in table["columns"] if c["block"] == "facility" and c["column"] == "TOTAL")
    assert total["acquired_images"] == len(corpus.images)
    assert total["published_images"] == len(corpus.pairs()) and total["articles"] == len(corpus.articles)


def corpus_image(corpus: CorpusTruth, path: str):
    return next(img for img in corpus.images if img.path == path)


def test_scale_bar_truth_in_corpus(corpus: CorpusTruth) -> None:
    bars = [(p, corpus_image(corpus, p.source) if p.source else None) for _, _, p in corpus.panels()
            if p.geometry and p.geometry.scale_bar]
    assert len(bars) >= 15
    for panel, image in bars:
        bar = panel.geometry.scale_bar
        panel_pixel_m = panel.geometry.fov_m / panel.geometry.size_px[0]
        assert bar.true_value_m == pytest.approx(bar.bar_px * panel_pixel_m, rel=5e-3)  # shown sizes are whole px
        if image is not None:
            assert panel.geometry.fov_m == pytest.approx(image.pixel_size_m / panel.geometry.scale * panel.geometry.size_px[0],
                                                         rel=5e-3)
        if not bar.mislabelled:
            shown = [float(e.split()[2].rstrip("x")) for e in panel.geometry.edits if e.startswith("shown at")]
            drawn_px = bar.bar_px / (shown[0] if shown else 1.0)  # the bar was drawn a whole number of panel px
            assert bar.value_m == pytest.approx(bar.true_value_m, rel=0.5 / drawn_px + 1e-3)
        assert format_length(bar.value_m) == bar.label.replace("um", "µm")


def test_scale_bars_odd_values_and_mislabels() -> None:
    rng = np.random.default_rng(0)
    panel = micrograph("films", 1, 200, 150)
    bars = [add_scale_bar(panel, rng, float(10 ** rng.uniform(-9.5, -6)))[1] for _ in range(300)]
    mantissas = {float(f"{b.value_m / 10 ** np.floor(np.log10(b.value_m)):.3g}") for b in bars if not b.mislabelled}
    assert {1.0, 2.0, 5.0} <= mantissas and mantissas - {1.0, 2.0, 5.0}  # 300 nm, 750 nm too
    wrong = [b for b in bars if b.mislabelled]
    assert 3 <= len(wrong) <= 40
    assert all(abs(np.log10(b.value_m / b.true_value_m)) > 0.25 for b in wrong)
    drawn, bar = add_scale_bar(panel, np.random.default_rng(4), 5e-9)
    x0, y0, x1, y1 = bar.bbox
    ink = drawn[y0:y1, x0:x1]
    assert ink.size and ink.min() == ink.max()  # the bar itself is solid ink
    assert x1 - x0 == bar.bar_px


def test_place_matrix_maps_crop_box_onto_panel() -> None:
    source = micrograph("crystals", 2, 320, 240)
    for seed in range(20):
        panel, truth = place(source, (150, 100), np.random.default_rng(seed))
        m = np.vstack([np.array(truth.matrix), [0, 0, 1]])
        x0, y0, x1, y1 = truth.crop_box_px
        centre = m @ [(x0 + x1) / 2 - 0.5, (y0 + y1) / 2 - 0.5, 1]
        assert centre[:2] == pytest.approx([74.5, 49.5], abs=5e-3)  # truth rounded to 1e-3 px
        assert truth.scale == pytest.approx(150 / (x1 - x0), rel=1e-4)
        assert 100 / 150 * (x1 - x0) == pytest.approx(y1 - y0, abs=2e-3)
        direct = cv2.warpAffine(source.astype(np.float32), m[:2], (150, 100), flags=cv2.INTER_AREA,
                                borderMode=cv2.BORDER_REFLECT)
        assert _corr(direct, panel) > 0.8


def test_inset_truth_points_at_the_magnified_source_region() -> None:
    source = micrograph("particles", 4, 320, 240)
    found = 0
    for seed in range(40):
        rng = np.random.default_rng(seed)
        panel, truth = place(source, (200, 150), rng)
        if truth.rotation_deg or truth.flip:
            continue
        panel = inset(panel, truth, rng)
        (zoom,) = truth.insets
        x0, y0, x1, y1 = zoom.bbox_px
        shown = panel[y0:y1, x0:x1].astype(np.float32)
        cx0, cy0, cx1, cy1 = zoom.crop_box_px
        assert 0 <= cx0 < cx1 <= 320 and 0 <= cy0 < cy1 <= 240
        assert zoom.scale == pytest.approx((x1 - x0) / (cx1 - cx0), rel=0.05)
        region = source[round(cy0):round(cy1), round(cx0):round(cx1)].astype(np.float32)
        expected = cv2.resize(region, (x1 - x0, y1 - y0), interpolation=cv2.INTER_CUBIC)
        blur = (lambda a: cv2.GaussianBlur(a, (0, 0), 2))
        assert _corr(blur(expected), blur(shown)) > 0.7
        found += 1
    assert found >= 20


def test_render_is_resolution_independent() -> None:
    for kind in TEXTURES:  # the same field at two pixel sizes: the same structure (lines are not anti-aliased)
        scene = make_scene(kind, 9)
        big = render(scene, (0.5, 0.5), 0.2, 320, 240)
        small = render(scene, (0.5, 0.5), 0.2, 160, 120)
        half = cv2.resize(big, (160, 120), interpolation=cv2.INTER_AREA)
        assert _corr(cv2.GaussianBlur(half, (0, 0), 1), cv2.GaussianBlur(small, (0, 0), 1)) > 0.85
    assert acquire(big, 1, bits=16).dtype == np.uint16
    assert not np.array_equal(acquire(big, 1), acquire(big, 2))


def test_refuses_non_empty_folders(tmp_path: Path) -> None:
    (tmp_path / "archive").mkdir()
    (tmp_path / "archive" / "x.tif").write_bytes(b"keep")
    with pytest.raises(ConfigError, match="not empty"):
        make_figure_corpus(tmp_path / "out", archive=tmp_path / "archive", articles=1, images=3, seed=0)
    assert (tmp_path / "archive" / "x.tif").read_bytes() == b"keep"
    with pytest.raises(ConfigError, match="inside"):
        make_figure_corpus(tmp_path / "out2", archive=tmp_path / "out2" / "archive", articles=1, images=3, seed=0)
