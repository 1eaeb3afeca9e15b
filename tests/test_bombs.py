"""Decompression bombs, written by the tests, through every route that decodes pixels: a file whose
header declares an absurd size (a deflate TIFF or PNG of 60,000 x 60,000 px in a few KB, a JPEG of the
same size in a PDF and in a .pptx, an MRC header and a real DM4's tags declaring as much, a PDF page of
100 x 100 inches drawn as vectors), and one whose
declared size passes the format checks but not the memory a reading process may take
(`$EMCENSUS_WORKER_MEMORY`). Each is one line with its reason; every other file is processed; the
reading processes stay within their memory."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from pathlib import Path

import matplotlib
import numpy as np
import pypdfium2 as pdfium
import pytest
from click.testing import CliRunner
from PIL import Image

from emcensus.catalog import Catalog
from emcensus.cli.main import main
from emcensus.figures.documents import FigureError, Limits, iter_figures
from emcensus.scan.pool import MEMORY_ENV
from support import fingerprint

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after the backend is chosen)

SIDE = 60_000  # 3.6 G pixels declared


def deflate_tiff(path: Path, width: int, height: int, *, float64: bool = False) -> None:
    """A real deflate-compressed TIFF of zeros: every strip's offset points at one compressed strip, so
    the file is a few KB however many pixels it declares (what a bomb is)."""
    sample = 8 if float64 else 1
    most = max(1, (8 << 20) // (width * sample))
    rows = max(r for r in range(1, most + 1) if height % r == 0)  # every strip whole: one block fits all
    strips = -(-height // rows)
    block = zlib.compress(bytes(rows * width * sample), 9)
    entries = 10
    ifd = 8
    arrays = ifd + 2 + entries * 12 + 4
    offsets_at, counts_at = arrays, arrays + 4 * strips
    data_at = counts_at + 4 * strips
    tags = [(256, 4, 1, width), (257, 4, 1, height), (258, 3, 1, 64 if float64 else 8), (259, 3, 1, 8),
            (262, 3, 1, 1), (273, 4, strips, offsets_at), (277, 3, 1, 1), (278, 4, 1, rows),
            (279, 4, strips, counts_at), (339, 3, 1, 3 if float64 else 1)]
    header = b"II*\x00" + struct.pack("<I", ifd) + struct.pack("<H", entries)
    header += b"".join(struct.pack("<HHII", tag, kind, count, value) for tag, kind, count, value in tags)
    header += struct.pack("<I", 0)
    header += struct.pack(f"<{strips}I", *[data_at] * strips) + struct.pack(f"<{strips}I", *[len(block)] * strips)
    path.write_bytes(header + block)


def mrc_bomb(path: Path, side: int = SIDE) -> None:
    """An MRC file whose header declares `side` x `side` float32 voxels, followed by 4 KB of data."""
    header = bytearray(1024)
    struct.pack_into("<4i", header, 0, side, side, 1, 2)  # nx, ny, nz, mode 2 (float32)
    struct.pack_into("<3i", header, 28, side, side, 1)
    struct.pack_into("<3f", header, 40, float(side), float(side), 1.0)
    struct.pack_into("<3i", header, 64, 1, 2, 3)
    header[208:216] = b"MAP DD\x00\x00"
    path.write_bytes(bytes(header) + bytes(4096))


def png_bomb(width: int = SIDE, height: int = SIDE) -> bytes:
    """A PNG whose header declares `width` x `height` grey pixels, its data a few rows of zeros."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = zlib.compress(bytes((width + 1) * 16), 9)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", rows) + chunk(b"IEND", b""))


def jpeg_bomb(side: int = SIDE) -> bytes:
    """A real small JPEG whose frame header is rewritten to declare `side` x `side` pixels."""
    buffer = io.BytesIO()
    Image.fromarray(np.full((16, 16), 128, np.uint8)).save(buffer, "JPEG")
    data = bytearray(buffer.getvalue())
    sof = data.index(b"\xff\xc0")
    data[sof + 5:sof + 9] = struct.pack(">HH", side, side)
    return bytes(data)


def micrograph(seed: int, side: int = 256) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.random((side // 8, side // 8)).repeat(8, 0).repeat(8, 1) * 200 + rng.random((side, side)) * 55
            ).astype(np.uint8)


def png_bytes(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "PNG")
    return buffer.getvalue()


# ----------------------------------------------------------------- documents (figures match's reader)
def test_a_png_bomb_given_as_a_figure_is_one_line(tmp_path: Path) -> None:
    bomb = tmp_path / "figure.png"
    bomb.write_bytes(png_bomb())
    assert bomb.stat().st_size < 2_000
    with pytest.raises(FigureError) as refused:  # by Pillow's own check, as it opens the file
        list(iter_figures(bomb))
    assert str(refused.value).startswith(f"{bomb}: ") and "3600000000 pixels" in str(refused.value)
    assert "refused as a decompression bomb" in str(refused.value) and "\n" not in str(refused.value)


@pytest.mark.parametrize("dictionary", ["declares it", "lies"])
def test_a_jpeg_bomb_in_a_pdf_is_skipped_and_the_page_s_other_image_read(tmp_path: Path, dictionary: str) -> None:
    """The image's dictionary declares the JPEG's 60,000 x 60,000 px (refused from it, before pdfium
    decodes anything), or lies, saying 256 x 256 (pdfium refuses the stream that disagrees)."""
    pdf = pdfium.PdfDocument.new()
    page = pdf.new_page(600, 400)
    for jpeg, left in ((jpeg_bomb(), 20), (None, 320)):
        image = pdfium.PdfImage.new(pdf)
        if jpeg is None:
            image.set_bitmap(pdfium.PdfBitmap.from_pil(Image.fromarray(micrograph(1))))
        else:
            image.load_jpeg(io.BytesIO(jpeg), inline=False)
        image.set_matrix(pdfium.PdfMatrix().scale(256, 256).translate(left, 60))
        page.insert_obj(image)
    page.gen_content()
    pdf.save(tmp_path / "article.pdf")
    article = tmp_path / "article.pdf"
    if dictionary == "lies":  # the same length: the cross-reference table stays right
        data = article.read_bytes()
        article.write_bytes(data.replace(b"/Width 60000", b"/Width 00256").replace(b"/Height 60000", b"/Height 00256"))
        assert b"60000" not in article.read_bytes()
    assert article.stat().st_size < 200_000
    lines: list[str] = []
    (figure,) = iter_figures(article, warn=lines.append)
    assert np.array_equal(figure.pixels, micrograph(1))
    assert lines == [f"{article} page 1: a 60000x60000 px image, more than the 50,000,000 pixels an image may have; "
                     "skipped" if dictionary == "declares it" else
                     f"{article} page 1: an image that cannot be decoded (Failed to get bitmap of image.); skipped"]


def test_bombs_in_a_pptx_are_one_line_each_and_the_real_picture_is_read(tmp_path: Path) -> None:
    slides = tmp_path / "talk.pptx"
    with zipfile.ZipFile(slides, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("ppt/media/image1.jpeg", jpeg_bomb())
        archive.writestr("ppt/media/image2.png", png_bomb())
        archive.writestr("ppt/media/image3.png", png_bytes(micrograph(2)))
    lines: list[str] = []
    (figure,) = iter_figures(slides, warn=lines.append)
    assert np.array_equal(figure.pixels, micrograph(2))
    assert lines == [f"{slides}:ppt/media/image{n}.{kind}: refused as a decompression bomb (Image size (3600000000 "
                     "pixels) exceeds limit of 178956970 pixels, could be decompression bomb DOS attack.); not decoded"
                     for n, kind in ((1, "jpeg"), (2, "png"))]


def test_a_huge_vector_page_is_rendered_within_the_pixel_bound(tmp_path: Path) -> None:
    fig = plt.figure(figsize=(100, 100))  # 7,200 pt a side: 15,000 px at 150 dpi, 225 M pixels
    ax = fig.add_axes((0.05, 0.05, 0.9, 0.9))
    for k in range(6):
        ax.plot(np.arange(30), np.sin(np.arange(30) / (k + 2)))
    fig.savefig(tmp_path / "poster.pdf")
    plt.close(fig)
    (figure,) = iter_figures(tmp_path / "poster.pdf", limits=Limits(max_pixels=2_000_000))
    assert 1_500_000 < figure.pixels.shape[0] * figure.pixels.shape[1] <= 2_000_000
    x0, y0, x1, y1 = figure.bbox
    assert x1 - x0 > 0.9 * 7200 and figure.pixels.shape[1] == pytest.approx((x1 - x0) * figure.pixels.shape[0]
                                                                             / (y1 - y0), rel=0.01)


# ----------------------------------------------------------------- archive images (index, quality)
@pytest.fixture
def bomb_archive(tmp_path: Path) -> Path:
    """30 ordinary images (enough that index and quality read on their pools' workers) and three bombs: a
    60,000 x 60,000 deflate TIFF (a few KB), an MRC header declaring as much, and an 8,000 x 8,000 float64
    TIFF (64 M pixels, within every pixel bound; 512 MB decoded)."""
    root = tmp_path / "archive" / "SU8230" / "groupA" / "p1"
    root.mkdir(parents=True)
    for seed in range(30):
        Image.fromarray(micrograph(seed, 128)).save(root / f"img{seed}.tif")
    deflate_tiff(root / "bomb.tif", SIDE, SIDE)
    deflate_tiff(root / "heavy.tif", 8000, 8000, float64=True)
    mrc_bomb(root / "bomb.mrc")
    assert max((root / name).stat().st_size for name in ("bomb.tif", "heavy.tif", "bomb.mrc")) < 1_000_000
    return tmp_path / "archive" / "SU8230"


def test_index_and_quality_give_each_bomb_one_line_and_process_the_rest(bomb_archive: Path, tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    before = fingerprint(bomb_archive)
    catalog = str(tmp_path / "c.sqlite")
    monkeypatch.setenv(MEMORY_ENV, "0.375")  # the heavy TIFF decodes to more than a worker may take

    def cli(*args: str) -> str:
        result = CliRunner().invoke(main, ["--catalog", catalog, *args], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    cli("scan", str(bomb_archive), "--instrument", "SU8230", "--workers", "2", "--quiet")
    with Catalog(catalog, readonly=True) as opened:
        sizes = {Path(row["path"]).name: (row["width_px"], row["height_px"]) for row in opened.images(kind="all")}
    assert sizes["bomb.tif"] == (SIDE, SIDE)
    unreadable = cli("audit", "--list", "unreadable", "--format", "csv").splitlines()
    assert len(unreadable) == 2 and unreadable[1].endswith(
        "bomb.mrc,\"MRC header claims 60000×60000×1 voxels (14,400,001,024 bytes) in a file of 5,120 bytes\"")  # the census reads headers only
    indexed = cli("figures", "index", "--workers", "2")
    measured = cli("quality", "--workers", "2")
    assert "bomb.tif: not indexed: 3,600,000,000 pixels, more than 200,000,000\n" in indexed
    assert "bomb.tif: not measured: 3,600,000,000 pixels, more than 64,000,000\n" in measured
    for output, words in ((indexed, "not indexed: cannot decode"), (measured, "not measured: cannot measure")):
        assert f"heavy.tif: {words}: MemoryError: Unable to allocate 488. MiB for an array" in output
    assert "32 added" in indexed and "; 2 not indexed" in indexed
    assert "30 measured" in measured and "2 could not be measured" in measured
    assert fingerprint(bomb_archive) == before


def test_a_real_dm4_whose_header_declares_an_absurd_size_is_refused_before_its_pixels_are_read(
        vendor_samples: Path, tmp_path: Path) -> None:
    """A real Gatan DM4 with its image's Dimensions rewritten to 60,000 x 60,000 (the file stays 600 KB):
    the census reads its tags alone (the size catalogued as declared), and `quality`'s and `reuse
    export`'s reader refuses it from the lazy array's shape, before anything is computed."""
    from emcensus.errors import EmcensusError
    from emcensus.quality.pixels import read_image
    from emcensus.readers import read_metadata

    data = bytearray((vendor_samples / "gatan-dm" / "test-MonarcCL_mono-image.dm4").read_bytes())
    at = data.index(b"Dimensions", 600_000)  # the main image's (2 x 2 px: a CL spectrum image's map)
    tags = data[at:at + 120]
    for _ in range(2):
        side = tags.index(b"\x05\x02\x00\x00\x00") + 1  # a uint32 of 2 after its type code
        tags[side:side + 4] = struct.pack("<I", SIDE)
    data[at:at + 120] = tags
    bomb = tmp_path / "bomb.dm4"
    bomb.write_bytes(bytes(data))
    record = read_metadata(bomb)
    assert (record.width_px, record.height_px) == (SIDE, SIDE)
    with pytest.raises(EmcensusError, match="^3,600,000,000 pixels, more than 64,000,000$"):
        read_image(str(bomb), 64_000_000)


# ----------------------------------------------------------------- the dashboard's previews
def _previews(folder: Path):
    """(name, preview's pixel size or why none) of every file of `folder`, as the dashboard makes them."""
    from emcensus.web.thumbs import NoPreview, thumbnail

    cache = folder.parent / "cache"
    cache.mkdir(exist_ok=True)
    for path in sorted(folder.iterdir()):
        try:
            with Image.open(thumbnail(path, cache, path.name, roots=[str(folder)])) as preview:
                yield path.name, preview.size
        except NoPreview as refused:
            yield path.name, str(refused)


def test_the_dashboard_previews_bombs_in_bounded_time_and_memory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                                                  ) -> None:
    """Previews made in a process capped at 0.5 GiB (a `Producer`: an allocation past it would fail the
    test), each within the producer's 60 s: the 60,000 px TIFF strip by strip, the heavy one whole, the
    JPEG bomb refused by Pillow's check."""
    from emcensus.scan.pool import Producer

    archive = tmp_path / "archive"
    archive.mkdir()
    deflate_tiff(archive / "bomb.tif", SIDE, SIDE)
    deflate_tiff(archive / "heavy.tif", 8000, 8000, float64=True)
    (archive / "bomb.jpg").write_bytes(jpeg_bomb())
    monkeypatch.setenv(MEMORY_ENV, "0.5")
    previews = Producer(_previews, 60)
    try:
        made = dict(previews.items(archive))
    finally:
        previews.close()
    assert max(made["bomb.tif"]) <= 512 and max(made["heavy.tif"]) <= 512
    assert made["bomb.jpg"] == "pixels unreadable (DecompressionBombError)"
