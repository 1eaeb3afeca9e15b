"""Figures out of real documents: matplotlib and pdfium-made PDFs, image files, .docx/.pptx, hostile files."""

from __future__ import annotations

import io
import time
import zipfile
from pathlib import Path

import cv2
import matplotlib
import numpy as np
import pypdfium2 as pdfium
import pytest
from PIL import Image

from emcensus.figures.documents import FigureError, FigureImage, Limits, article_id, find_doi, iter_figures, main_stem
from support import fingerprint

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after the backend is chosen)

DOI = "10.1021/acs.nanolett.7b01234"


def marked(height: int = 60, width: int = 90) -> np.ndarray:
    """Dark at the top, bright at the bottom, a white block top-left: every flip or turn shows."""
    image = np.tile(np.linspace(0, 180, height).astype(np.uint8)[:, None], (1, width))
    image[: height // 4, : width // 4] = 255
    return image


def assert_upright(pixels: np.ndarray) -> None:
    grey = pixels if pixels.ndim == 2 else pixels.mean(axis=2)
    height, width = grey.shape
    assert grey[: height // 4, : width // 4].mean() > 240, "the marker is not top-left"
    assert grey[: height // 4, width // 2:].mean() + 60 < grey[-height // 4:, width // 2:].mean(), "not dark at the top"


def points_box(fig: plt.Figure, ax: plt.Axes) -> tuple[float, float, float, float]:
    """Where matplotlib placed the axes, in PDF points from the page's top-left corner."""
    x0, y0, x1, y1 = ax.get_position().extents
    width, height = fig.get_size_inches() * 72
    return (x0 * width, (1 - y1) * height, x1 * width, (1 - y0) * height)


def figure_pdf(path: Path, *, doi: str | None = DOI) -> list[tuple[float, float, float, float]]:
    """Two imshow panels (one drawn with origin='lower', one with a reversed x extent) and a caption."""
    fig = plt.figure(figsize=(5, 4))
    left = fig.add_axes((0.08, 0.35, 0.38, 0.55))
    left.imshow(marked(), cmap="gray", vmin=0, vmax=255, aspect="auto", interpolation="none")
    right = fig.add_axes((0.55, 0.35, 0.38, 0.55))
    # The data upside down and mirrored, drawn back upright by origin and extent: what the reader sees is marked().
    right.imshow(marked()[::-1, ::-1], cmap="gray", vmin=0, vmax=255, aspect="auto", interpolation="none",
                 origin="lower", extent=(90, 0, 0, 60))
    right.set_xlim(0, 90)  # x grows to the right again, so the reversed extent mirrors the image
    for ax in (left, right):
        ax.set_axis_off()
    fig.text(0.08, 0.22, "Figure 2. SEM of the gold film after annealing.", fontsize=8)
    if doi:
        fig.text(0.08, 0.95, f"https://doi.org/{doi}.", fontsize=7)
    boxes = [points_box(fig, left), points_box(fig, right)]
    fig.savefig(path)
    plt.close(fig)
    return boxes


def text_pdf(path: Path, text: str = "Only words on this page.") -> None:
    fig = plt.figure(figsize=(4, 3))
    fig.text(0.1, 0.5, text)
    fig.savefig(path)
    plt.close(fig)


def test_matplotlib_panels_upright_where_drawn(tmp_path: Path) -> None:
    boxes = figure_pdf(tmp_path / "paper.pdf")
    figures = list(iter_figures(tmp_path / "paper.pdf"))
    assert len(figures) == 2
    for figure, box in zip(sorted(figures, key=lambda f: f.bbox[0]), boxes):
        assert figure.page == 1 and figure.article == DOI
        assert figure.pixels.dtype == np.uint8 and figure.pixels.shape == (60, 90)
        assert_upright(figure.pixels)
        assert np.abs(figure.pixels.astype(int) - marked()).max() <= 2  # the very pixels, not a rendering
        assert figure.bbox == pytest.approx(box, abs=0.5)
        assert "Figure 2. SEM of the gold film" in figure.caption


def test_zoomed_axes_give_what_the_reader_sees(tmp_path: Path) -> None:
    """An image under a clip path (matplotlib axes zoomed in, LaTeX trim/clip): the visible part only."""
    fig = plt.figure(figsize=(4, 3))
    ax = fig.add_axes((0.1, 0.2, 0.6, 0.6))
    ax.imshow(marked(120, 180), cmap="gray", vmin=0, vmax=255, aspect="auto", interpolation="none")
    ax.set_xlim(-0.5, 89.5)  # the left half of the columns, the top half of the rows
    ax.set_ylim(59.5, -0.5)
    ax.set_axis_off()
    box = points_box(fig, ax)
    fig.savefig(tmp_path / "zoom.pdf")
    plt.close(fig)
    (figure,) = iter_figures(tmp_path / "zoom.pdf")
    assert figure.bbox == pytest.approx(box, abs=0.5)
    assert figure.pixels.shape == (60, 90)
    assert np.abs(figure.pixels.astype(int) - marked(120, 180)[:60, :90]).max() <= 2


@pytest.mark.parametrize(("turn", "rotate"), [(turn, 0) for turn in range(8)] + [(5, 90), (4, 180), (1, 270)])
def test_every_placement_matrix_is_undone(tmp_path: Path, turn: int, rotate: int) -> None:
    """The 8 right-angle placements, and pages turned by /Rotate: the pixels equal what pdfium shows."""
    height, width = 60, 90
    quarter, mirror = turn % 4, turn >= 4
    matrix = pdfium.PdfMatrix().scale(-width if mirror else width, height).rotate(90 * quarter)  # from the unit square
    low = np.array([matrix.on_point(u, v) for u in (0, 1) for v in (0, 1)]).min(axis=0)
    matrix = matrix.translate(40 - low[0], 50 - low[1])
    pdf = pdfium.PdfDocument.new()
    page = pdf.new_page(240, 220)
    image = pdfium.PdfImage.new(pdf)
    image.set_bitmap(pdfium.PdfBitmap.from_pil(Image.fromarray(marked(height, width)).convert("RGB")))
    image.set_matrix(matrix)
    page.insert_obj(image)
    page.gen_content()
    page.set_rotation(rotate)
    pdf.save(tmp_path / "turned.pdf")
    (figure,) = iter_figures(tmp_path / "turned.pdf")
    x0, y0, x1, y1 = figure.bbox
    shown_width, shown_height = page.get_size()
    if rotate == 0:
        assert (x0, y0) == pytest.approx((40, 220 - 50 - (y1 - y0)), abs=0.01)
    rendered = page.render(scale=2, crop=(x0, shown_height - y1, shown_width - x1, y0)).to_numpy()[..., 0]
    assert rendered.shape == pytest.approx((2 * (y1 - y0), 2 * (x1 - x0)), abs=1)
    assert rendered.min() < 50  # the crop holds the image, not the blank page
    ours = cv2.resize(figure.pixels, rendered.shape[::-1], interpolation=cv2.INTER_AREA)
    assert np.corrcoef(ours.ravel(), rendered.ravel().astype(float))[0, 1] > 0.9


def test_strips_and_tiles_are_one_image_again(tmp_path: Path) -> None:
    """Some writers cut an image into strips (each stored upside down here) or tiles: one figure again."""
    pdf = pdfium.PdfDocument.new()
    page = pdf.new_page(300, 300)
    whole = marked(60, 90)
    pieces = [(whole[row:row + 6], 40, 250 - row) for row in range(0, 60, 6)]  # 10 strips of 6 rows, 1 pt a row
    pieces += [(whole[:, col:col + 30], 160 + col, 190) for col in range(0, 90, 30)]  # 3 tiles side by side
    for pixels, left, top in pieces:
        image = pdfium.PdfImage.new(pdf)
        image.set_bitmap(pdfium.PdfBitmap.from_pil(Image.fromarray(np.ascontiguousarray(pixels[::-1]))))
        height, width = pixels.shape
        image.set_matrix(pdfium.PdfMatrix(width, 0, 0, -height, left, top))  # flipped, as LaTeX does
        page.insert_obj(image)
    page.gen_content()
    pdf.save(tmp_path / "strips.pdf")
    figures = list(iter_figures(tmp_path / "strips.pdf"))
    assert [f.bbox for f in figures] == [(40, 50, 130, 110), (160, 110, 250, 170)]
    for figure in figures:
        assert np.array_equal(figure.pixels, whole)


def test_latex_style_form_xobject(tmp_path: Path) -> None:
    """A PDF figure included into another page (LaTeX \\includegraphics): matrices compose through the form."""
    figure_pdf(tmp_path / "figure.pdf")
    source = pdfium.PdfDocument(tmp_path / "figure.pdf")
    paper = pdfium.PdfDocument.new()
    page = paper.new_page(600, 800)
    form = source.page_as_xobject(0, paper).as_pageobject()
    form.set_matrix(pdfium.PdfMatrix().scale(0.5, 0.5).translate(100, 400))
    page.insert_obj(form)
    page.gen_content()
    paper.save(tmp_path / "paper.pdf")
    figures = sorted(iter_figures(tmp_path / "paper.pdf"), key=lambda f: f.bbox[0])
    assert len(figures) == 2
    width, height = 360 * 0.5, 288 * 0.5
    for figure, position in zip(figures, (0.08, 0.55)):
        assert_upright(figure.pixels)
        assert figure.bbox[0] == pytest.approx(100 + position * width, abs=0.5)
        assert figure.bbox[1] == pytest.approx(800 - 400 - height + 0.1 * height, abs=0.5)


def test_vector_figure_rendered_text_page_not(tmp_path: Path) -> None:
    fig = plt.figure(figsize=(4, 3))
    ax = fig.add_axes((0.15, 0.15, 0.7, 0.7))
    for k in range(5):
        ax.plot(np.arange(20), np.sin(np.arange(20) / (k + 2)))
    fig.savefig(tmp_path / "plot.pdf")
    plt.close(fig)
    (figure,) = iter_figures(tmp_path / "plot.pdf")
    x0, y0, x1, y1 = figure.bbox
    assert 0 <= x0 < 0.15 * 288 and x1 > 0.85 * 288 and 0 <= y0 < 0.15 * 216 and y1 > 0.85 * 216
    assert figure.pixels.shape[1] == pytest.approx((x1 - x0) * 150 / 72, abs=2)  # rendered at 150 dpi
    assert (figure.pixels < 128).any() and (figure.pixels > 250).mean() > 0.5  # drawn lines on white


def test_banner_on_every_page_is_one_figure_and_crowded_page_rendered_whole(tmp_path: Path) -> None:
    from matplotlib.backends.backend_pdf import PdfPages

    with PdfPages(tmp_path / "paper.pdf") as pages:
        for number in range(3):
            fig = plt.figure(figsize=(4, 4))
            banner = fig.add_axes((0.1, 0.8, 0.8, 0.15))  # the journal's, on every page
            banner.imshow(marked(40, 200), cmap="gray", interpolation="none")
            if number == 1:
                fig.add_axes((0.1, 0.1, 0.6, 0.6)).imshow(marked(), cmap="gray", interpolation="none")
            pages.savefig(fig)
            plt.close(fig)
    assert [(f.page, f.pixels.shape) for f in iter_figures(tmp_path / "paper.pdf")] == [(1, (40, 200)), (2, (60, 90))]

    fig = plt.figure(figsize=(4, 3))
    fig.add_axes((0.15, 0.15, 0.7, 0.7)).plot(np.arange(20), np.arange(20) ** 2)
    fig.savefig(tmp_path / "plot.pdf")
    plt.close(fig)
    lines: list[str] = []
    (figure,) = iter_figures(tmp_path / "plot.pdf", limits=Limits(max_page_objects=5), warn=lines.append)
    assert figure.bbox == pytest.approx((0, 0, 288, 216))
    assert figure.pixels.shape[:2] == pytest.approx((450, 600), abs=1)  # 150 dpi
    assert len(lines) == 1 and "objects, more than the 5 walked; the page is rendered whole" in lines[0]


def test_supplement_takes_the_article_doi(tmp_path: Path) -> None:
    figure_pdf(tmp_path / "smith2019.pdf")
    figure_pdf(tmp_path / "smith2019_SI.pdf", doi=None)
    figure_pdf(tmp_path / "jones-SI.pdf", doi=None)
    assert {f.article for f in iter_figures(tmp_path / "smith2019_SI.pdf")} == {DOI}
    assert {f.article for f in iter_figures(tmp_path / "jones-SI.pdf")} == {"jones"}


def test_article_id_rules() -> None:
    assert find_doi("see doi:10.1016/S0001-8686(01)00001-X), and") == "10.1016/S0001-8686(01)00001-X"
    assert find_doi("(https://doi.org/10.1038/nmat4567).") == "10.1038/nmat4567"
    assert find_doi("no identifier 10.12/short") is None
    assert article_id(Path("a/b/X_supp2.pdf"), "") == "X"
    assert article_id(Path("X-SI.pdf"), "") == "X"
    assert article_id(Path("X_SI.pdf"), f"DOI {DOI};") == DOI
    assert main_stem(Path("thesis_final.pdf")) == "thesis_final"


def one_line(exc: pytest.ExceptionInfo[FigureError]) -> str:
    message = str(exc.value)
    assert "\n" not in message
    return message


def test_corrupt_encrypted_and_imageless_pdfs(tmp_path: Path) -> None:
    figure_pdf(tmp_path / "whole.pdf")
    data = (tmp_path / "whole.pdf").read_bytes()
    (tmp_path / "truncated.pdf").write_bytes(data[: len(data) // 2])
    with pytest.raises(FigureError) as exc:
        list(iter_figures(tmp_path / "truncated.pdf"))
    assert "truncated.pdf: not a readable PDF (corrupt or truncated" in one_line(exc)

    (tmp_path / "locked.pdf").write_bytes(encrypted_pdf())
    with pytest.raises(FigureError) as exc:
        list(iter_figures(tmp_path / "locked.pdf"))
    assert "encrypted PDF (needs a password)" in one_line(exc)

    text_pdf(tmp_path / "words.pdf")
    with pytest.raises(FigureError) as exc:
        list(iter_figures(tmp_path / "words.pdf"))
    assert "no images or drawn figures in 1 page" in one_line(exc)


def encrypted_pdf() -> bytes:
    """A PDF under the standard security handler whose user password is not empty (and unknown)."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>",
               b"<< /Filter /Standard /V 1 /R 2 /O <" + b"11" * 32 + b"> /U <" + b"22" * 32 + b"> /P -4 >>"]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R /Encrypt 4 0 R /ID [<%s> <%s>] >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, b"ab" * 16, b"ab" * 16, xref)
    return bytes(out)


def test_page_cap_yields_first_pages_then_one_line(tmp_path: Path) -> None:
    from matplotlib.backends.backend_pdf import PdfPages

    with PdfPages(tmp_path / "thesis.pdf") as pages:
        for number in range(3):
            fig = plt.figure(figsize=(3, 3))
            fig.add_axes((0.1, 0.1, 0.8, 0.8)).imshow(marked(60, 90 + number), cmap="gray")
            pages.savefig(fig)
            plt.close(fig)
    seen: list[FigureImage] = []
    with pytest.raises(FigureError) as exc:
        seen.extend(iter_figures(tmp_path / "thesis.pdf", limits=Limits(max_pages=2)))
    assert [f.page for f in seen] == [1, 2]
    assert "3 pages, more than the 2 read" in one_line(exc)
    seen.clear()
    with pytest.raises(FigureError) as exc:
        seen.extend(iter_figures(tmp_path / "thesis.pdf", limits=Limits(max_seconds=0)))
    assert [f.page for f in seen] == [1]
    assert "stopped before page 2 of 3: reading took more than 0 s; figures up to page 1 only" in one_line(exc)


def png_bytes(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def write_zip(path: Path, members: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def test_docx_with_pasted_png(tmp_path: Path) -> None:
    body = ("<w:document><w:body><w:p><w:r><w:t>Chapter 3</w:t></w:r></w:p>"
            '<w:p><w:r><w:drawing><a:blip r:embed="rId7"/></w:drawing></w:r></w:p>'
            "<w:p><w:r><w:t xml:space=\"preserve\">Figure 3.2. TEM of the </w:t></w:r><w:r><w:t>Pt &amp; Pd"
            "</w:t></w:r><w:r><w:t> parti</w:t></w:r><w:r><w:t>cles.</w:t></w:r></w:p></w:body></w:document>")
    write_zip(tmp_path / "thesis.docx", {
        "[Content_Types].xml": b'<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
                               b'content-types"><Default Extension="png" ContentType="image/png"/></Types>',
        "word/document.xml": body.encode(),
        "word/_rels/document.xml.rels": b'<Relationships><Relationship Id="rId7" Type="image" '
                                        b'Target="media/image1.png"/></Relationships>',
        "word/media/image1.png": png_bytes(marked()),
        "word/media/logo.png": png_bytes(np.zeros((8, 8), np.uint8)),  # a bullet: not a figure
    })
    (figure,) = iter_figures(tmp_path / "thesis.docx")
    assert np.array_equal(figure.pixels, marked())
    assert (figure.page, figure.bbox, figure.article) == (0, (0.0, 0.0, 90.0, 60.0), "thesis")
    assert figure.caption == "Figure 3.2. TEM of the Pt & Pd particles."

    write_zip(tmp_path / "chapter.docx", {  # a DOI in the document's properties names the article
        "docProps/core.xml": f"<cp:coreProperties><dc:identifier>doi:{DOI}</dc:identifier>".encode(),
        "word/media/image1.png": png_bytes(marked()),
    })
    assert [f.article for f in iter_figures(tmp_path / "chapter.docx")] == [DOI]


def test_office_file_reading_is_bounded_in_time_like_a_pdf(tmp_path: Path) -> None:
    write_zip(tmp_path / "slides.pptx", {f"ppt/media/image{n}.png": png_bytes(marked(60, 90 + n)) for n in (1, 2, 3)})
    seen: list[FigureImage] = []
    with pytest.raises(FigureError) as exc:
        seen.extend(iter_figures(tmp_path / "slides.pptx", limits=Limits(max_seconds=0)))
    assert len(seen) == 1
    assert "stopped before ppt/media/image2.png: reading took more than 0 s; 1 picture(s) only" in one_line(exc)


def test_odp_picture_on_its_slide(tmp_path: Path) -> None:
    content = ('<office:document-content><draw:page draw:name="p1"><text:p>Outline</text:p></draw:page>'
               '<draw:page draw:name="p2"><text:p>SEM of the <text:span>catalyst</text:span></text:p>'
               '<draw:frame><draw:image xlink:href="Pictures/10000.png"/></draw:frame></draw:page>'
               "</office:document-content>")
    write_zip(tmp_path / "talk.odp", {"content.xml": content.encode(), "Pictures/10000.png": png_bytes(marked())})
    (figure,) = iter_figures(tmp_path / "talk.odp")
    assert (figure.page, figure.caption, figure.article) == (2, "SEM of the catalyst", "talk")


def test_pptx_picture_on_its_slide_with_the_slide_text(tmp_path: Path) -> None:
    colour = np.dstack([marked(), marked()[:, ::-1], np.full((60, 90), 40, np.uint8)])
    write_zip(tmp_path / "talk.pptx", {
        "ppt/slides/slide1.xml": b"<p:sld><a:t>Title</a:t></p:sld>",
        "ppt/slides/slide2.xml": b"<p:sld><a:t>TEM of the</a:t><a:t>catalyst</a:t></p:sld>",
        "ppt/slides/_rels/slide2.xml.rels": b'<Relationships><Relationship Id="rId2" Target="../media/image7.png"/>'
                                            b"</Relationships>",
        "ppt/media/image7.png": png_bytes(colour),
    })
    (figure,) = iter_figures(tmp_path / "talk.pptx")
    assert figure.page == 2 and figure.caption == "TEM of the catalyst"
    assert np.array_equal(figure.pixels, colour)


def test_zip_bomb_pptx_is_one_line_and_fast(tmp_path: Path) -> None:
    bomb = tmp_path / "slides.pptx"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("ppt/media/image1.png", png_bytes(marked()))
        with archive.open("ppt/slides/slide1.xml", "w") as member:
            zeros = bytes(1 << 20)
            for _ in range(100):
                member.write(zeros)
    assert bomb.stat().st_size < 200_000
    started = time.perf_counter()
    with pytest.raises(FigureError) as exc:
        list(iter_figures(bomb))
    assert time.perf_counter() - started < 1.0
    assert f"{bomb}: zip member ppt/slides/slide1.xml inflates" in one_line(exc) and "zip bomb" in str(exc.value)


def test_member_lying_about_its_size_is_skipped_with_one_line(tmp_path: Path) -> None:
    """A header that declares 1,000 bytes for 20 MB of zeros: inflating stops at 1,000 bytes, the CRC
    fails, the member is one line and the true picture beside it is read."""
    liar = tmp_path / "slides.pptx"
    with zipfile.ZipFile(liar, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("ppt/media/image1.png", png_bytes(marked()))
        archive.writestr("ppt/media/image2.png", bytes(20 << 20))
    data = bytearray(liar.read_bytes())
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):  # local header, central directory
        at = data.rfind(signature)  # the last member's
        data[at + offset:at + offset + 4] = (1000).to_bytes(4, "little")
    liar.write_bytes(bytes(data))
    lines: list[str] = []
    (figure,) = iter_figures(liar, warn=lines.append)
    assert np.array_equal(figure.pixels, marked())
    assert len(lines) == 1 and "ppt/media/image2.png: damaged (Bad CRC-32" in lines[0]


def test_image_files_bounded_and_on_white(tmp_path: Path) -> None:
    rgba = np.dstack([marked()] * 3 + [np.full((60, 90), 255, np.uint8)])
    rgba[:, :10, 3] = 0  # a transparent strip shows the page's white
    Image.fromarray(rgba).save(tmp_path / "panel.png")
    (figure,) = iter_figures(tmp_path / "panel.png")
    assert figure.pixels.shape == (60, 90) and (figure.pixels[:, :10] == 255).all()
    assert np.array_equal(figure.pixels[:, 10:], marked()[:, 10:])
    assert (figure.page, figure.bbox, figure.article, figure.caption) == (1, (0.0, 0.0, 90.0, 60.0), "panel", "")
    assert figure.region((45, 30, 90, 60)) == (45.0, 30.0, 90.0, 60.0)
    with pytest.raises(FigureError) as exc:
        list(iter_figures(tmp_path / "panel.png", limits=Limits(max_pixels=1000)))
    assert "panel.png: 90x60 px is more than the 1,000 pixels" in one_line(exc)
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(FigureError):
        list(iter_figures(tmp_path / "notes.txt"))


def test_documents_untouched(tmp_path: Path) -> None:
    figure_pdf(tmp_path / "paper.pdf")
    figure_pdf(tmp_path / "paper_SI.pdf", doi=None)
    before = fingerprint(tmp_path)
    for name in ("paper.pdf", "paper_SI.pdf"):
        assert list(iter_figures(tmp_path / name))
    assert fingerprint(tmp_path) == before


def test_generated_articles_give_every_published_panel(tmp_path: Path) -> None:
    """On the corpus generator's publications (article + supplement, a vector-drawn figure, a thesis
    .docx, a talk .pptx, a slide screenshot): every raster panel of a PDF is a figure at the truth's place, every
    document names its article, every figure carries its whole caption, and the rendered figure and
    the pictures split into their panels."""
    from emcensus.figures.panels import split_panels
    from emcensus.figures.synth import make_figure_corpus

    truth = make_figure_corpus(tmp_path / "out", archive=tmp_path / "archive", articles=2, images=12, seed=3,
                               size=(320, 240), pictures=True)
    papers = tmp_path / "out" / "papers"
    checked: dict[str, int] = {}
    for article in truth.articles:
        figures = {doc: list(iter_figures(papers / doc)) for doc in article.documents}
        assert {f.article for found in figures.values() for f in found} == {article.article}
        for figure in article.figures:
            on_page = [f for f in figures[figure.document] if f.page == figure.page]
            for found in on_page if not figure.document.endswith(".png") else ():  # a screenshot has no text
                assert "".join(figure.caption.split()) in "".join(found.caption.split())
            kind = "vector" if figure.vector else Path(figure.document).suffix
            if kind == ".pdf":
                assert len(on_page) == sum(panel.raster for panel in figure.panels)
                regions = [f.bbox for f in on_page]
            else:
                (whole,) = on_page  # one rendered page or one picture, cut on its gutters
                regions = [whole.region(box) for box in split_panels(whole.pixels)]
            for panel in figure.panels:
                if panel.kind != "archive":
                    continue
                error = min(max(abs(a - b) for a, b in zip(region, panel.bbox_pt)) for region in regions)
                assert error < {".pdf": 1.0, "vector": 2.0}.get(kind, 3.0), (figure.document, panel.letter, error)
                checked[kind] = checked.get(kind, 0) + 1
    assert checked.keys() == {".pdf", "vector", ".docx", ".pptx", ".png"} and checked[".pdf"] >= 10
