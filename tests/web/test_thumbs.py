"""Thumbnails: every common container, 16-bit contrast stretch, a placeholder for the rest."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import tifffile
from fastapi.testclient import TestClient
from PIL import Image

from emcensus.demo.adversarial import raw_tiff
from emcensus.web import thumbs
from emcensus.web.thumbs import THUMB_SIZE, NoPreview, NotNow, PreviewPool, thumbnail
from support import write_tiff


def test_16_bit_tiff_is_stretched_to_the_full_grey_range(tmp_path: Path) -> None:
    # A dim 16-bit frame using 1000..1200 of 0..65535: shown as-is it would be black.
    pixels = np.linspace(1000, 1200, 600 * 800).reshape(600, 800).astype(np.uint16)
    tifffile.imwrite(tmp_path / "dim.tif", pixels)
    png = thumbnail(tmp_path / "dim.tif", tmp_path / "cache", "dim")
    with Image.open(png) as image:
        grey = np.asarray(image)
        assert image.mode == "L" and max(image.size) == THUMB_SIZE
    assert grey.min() == 0 and grey.max() == 255


@pytest.mark.parametrize("fmt, mode", [("JPEG", "L"), ("PNG", "RGB"), ("BMP", "RGB"), ("PNG", "I;16")])
def test_pillow_formats(tmp_path: Path, fmt: str, mode: str) -> None:
    source = tmp_path / f"frame.{fmt.lower()}"
    rng = np.random.default_rng(1)
    if mode == "I;16":
        Image.fromarray(rng.integers(0, 4000, (300, 400), dtype=np.uint16)).save(source, fmt)
    else:
        Image.fromarray(rng.integers(0, 255, (300, 400, 3), dtype=np.uint8)).convert(mode).save(source, fmt)
    with Image.open(thumbnail(source, tmp_path / "cache", fmt + mode.replace(";", ""))) as image:
        assert image.size == (256, 192)


def test_cached_thumbnail_is_reused(tmp_path: Path) -> None:
    tifffile.imwrite(tmp_path / "a.tif", np.zeros((10, 10), np.uint8))
    first = thumbnail(tmp_path / "a.tif", tmp_path / "cache", "a")
    (tmp_path / "a.tif").unlink()
    assert thumbnail(tmp_path / "a.tif", tmp_path / "cache", "a") == first


@pytest.mark.parametrize("content", [b"\x00\x01DM4 native", b"II*\x00truncated", b""])
def test_no_preview_for_native_or_broken_files(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "x.dm4").write_bytes(content)
    with pytest.raises(NoPreview) as first:
        thumbnail(tmp_path / "x.dm4", tmp_path / "cache", "x")
    assert [p.name for p in (tmp_path / "cache").iterdir()] == ["x.none"]  # the reason, no PNG
    (tmp_path / "x.dm4").unlink()
    with pytest.raises(NoPreview) as again:  # remembered under the same key: not decoded twice
        thumbnail(tmp_path / "x.dm4", tmp_path / "cache", "x")
    assert str(again.value) == str(first.value)


def test_placeholder_served_for_a_file_without_preview(client: TestClient, image_id: Callable[[str], int],
                                                       tiny_archive: Path) -> None:
    (tiny_archive / "groupB/p2/2019-01-02/nosidecar.tif").write_bytes(b"II*\x00 cut short")
    response = client.get(f"/api/thumbnail/{image_id('nosidecar.tif')}")
    assert response.status_code == 200 and response.headers["content-type"].startswith("image/svg+xml")
    assert "pixels unreadable" in response.headers["x-emcensus-no-preview"]
    (tiny_archive / "groupB/p2/2019-01-02/nosidecar.tif").unlink()  # gone since the scan
    assert client.get(f"/api/thumbnail/{image_id('nosidecar.tif')}").status_code == 200


@pytest.mark.parametrize("sample", [
    "olympus-sis-tiff/olympus_SIS.tif",  # JPEG-compressed RGB: needs imagecodecs
    "fei-tfs-tiff/FEI-Helios-Ebeam-16bits.tif",
    "hitachi-sem-txt/sample-１_200倍(x200).tif",
    "jeol-sem-txt/JEOL SEM - etched sidewall 01.tif",  # palette TIFF
])
def test_real_vendor_tiffs_get_a_thumbnail(vendor_samples: Path, tmp_path: Path, sample: str) -> None:
    made = thumbnail(vendor_samples / sample, tmp_path, "t")
    with Image.open(made) as image:
        low, high = image.convert("L").getextrema()
        assert max(image.size) <= THUMB_SIZE and high > low  # decoded pixels, not a blank


# ------------------------------------------------------------------ issue 7: bounded time and memory
def stripes(width: int) -> np.ndarray:
    """One row of a left-to-right ramp: any sampling of it still rises left to right."""
    return (np.arange(width) * 255 // max(width - 1, 1)).astype(np.uint8)


@pytest.mark.parametrize("header", [(0, 0, 8), (64, 64, 1000), (4294967295, 4294967295, 8), (100000, 100000, 16)])
def test_impossible_tiffs_get_the_placeholder(client: TestClient, image_id: Callable[[str], int], tiny_archive: Path,
                                              header: tuple[int, int, int]) -> None:
    (tiny_archive / "groupB/p2/2019-01-02/nosidecar.tif").write_bytes(raw_tiff(*header[:2], [bytes(64)], bits=header[2]))
    response = client.get(f"/api/thumbnail/{image_id('nosidecar.tif')}")
    assert response.status_code == 200 and response.headers["content-type"].startswith("image/svg+xml")
    assert response.headers["x-emcensus-no-preview"]


def test_error_texts_never_quote_the_file(client: TestClient, image_id: Callable[[str], int],
                                          tiny_archive: Path) -> None:
    # A 'TIFF' whose bytes are someone's password file: the reason names the problem, not the bytes.
    (tiny_archive / "groupB/p2/2019-01-02/nosidecar.tif").write_bytes(b"II*\x00root:x:0:0:root:/root:/bin/bash\n" * 3)
    response = client.get(f"/api/thumbnail/{image_id('nosidecar.tif')}")
    reason = response.headers["x-emcensus-no-preview"]
    assert reason.startswith("pixels unreadable") and "root" not in reason


def test_fifo_in_place_of_a_catalogued_file_answers_at_once(client: TestClient, image_id: Callable[[str], int],
                                                            tiny_archive: Path) -> None:
    folder = tiny_archive / "groupA/p1/2016-06-23"
    ident = image_id("img002.tif")
    for name in ("img002.tif", "img002.txt"):  # replaced since the scan: open() on them would wait forever
        (folder / name).unlink()
        os.mkfifo(folder / name)
    answers: dict[str, object] = {}

    def ask() -> None:
        for url in (f"/api/thumbnail/{ident}", f"/api/images/{ident}/sidecar", f"/images/{ident}"):
            answers[url] = client.get(url)

    asker = threading.Thread(target=ask, daemon=True)
    asker.start()
    asker.join(15)
    hung = asker.is_alive()
    deadline = time.monotonic() + 10
    while asker.is_alive() and time.monotonic() < deadline:  # let any reader that did block go
        for name in ("img002.tif", "img002.txt"):
            with contextlib.suppress(OSError):
                os.close(os.open(folder / name, os.O_WRONLY | os.O_NONBLOCK))
        time.sleep(0.05)
    assert not hung, f"a request hung on a FIFO; answered: {list(answers)}"
    thumb, sidecar, page = answers.values()
    assert thumb.status_code == 200 and "FIFO" in thumb.headers["x-emcensus-no-preview"]
    assert sidecar.status_code == 200 and "FIFO" in sidecar.json()["text"]
    assert page.status_code == 200 and "FIFO" in page.text
    (folder / "img002.tif").unlink()  # the file is back: a file that could not be opened is not remembered
    write_tiff(folder / "img002.tif", seed=1)
    assert client.get(f"/api/thumbnail/{ident}").headers["content-type"] == "image/png"


MEASURE = """
import asyncio, json, resource, sys, threading
from pathlib import Path
from PIL import Image
import numpy as np
from emcensus.web.thumbs import NoPreview, PreviewPool

def rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

async def main(files, cache):
    pool = PreviewPool()
    return await asyncio.gather(*(pool.thumbnail(Path(f), Path(cache), f"k{i}", []) for i, f in enumerate(files)),
                                return_exceptions=True)

before = rss_mb()
made = asyncio.run(main(sys.argv[2:], sys.argv[1]))
result = {"rss_increase_mb": rss_mb() - before, "thumbs": []}
for png in made:
    if isinstance(png, BaseException):
        result["thumbs"].append(repr(png))
    else:
        grey = np.asarray(Image.open(png).convert("L")).astype(int)
        result["thumbs"].append({"size": list(grey.shape), "left": float(grey[:, :16].mean()), "right": float(grey[:, -16:].mean())})
print(json.dumps(result))
"""


@pytest.mark.slow
def test_huge_compressed_tiffs_previewed_in_bounded_memory(tmp_path: Path) -> None:
    # 30,000 x 30,000 px (900 MB decoded) in a few MB of zlib: once 1.8 GB for one preview, 5 GB for three.
    side = 30000
    ramp = np.broadcast_to(stripes(side), (side, side))  # no 900 MB array in this process either
    tifffile.imwrite(tmp_path / "strips.tif", ramp, compression="zlib")
    tile = np.broadcast_to(stripes(side)[:512], (512, 512))
    tifffile.imwrite(tmp_path / "tiles.tif", (tile for _ in range(59 * 59)), shape=(side, side), dtype=np.uint8,
                     tile=(512, 512), compression="zlib")
    files = [tmp_path / "strips.tif"] * 3 + [tmp_path / "tiles.tif"]
    done = subprocess.run([sys.executable, "-c", MEASURE, str(tmp_path / "cache"), *map(str, files)],
                          capture_output=True, text=True, timeout=120, check=True)
    result = json.loads(done.stdout)
    assert result["rss_increase_mb"] < 150, result  # was 869 MB for one, before previews were bounded
    strips, _, _, tiles = result["thumbs"]
    assert strips["size"] == [THUMB_SIZE, THUMB_SIZE] and strips["right"] > strips["left"] + 100, result
    assert tiles["size"] == [THUMB_SIZE, THUMB_SIZE] and tiles["left"] != tiles["right"], result
    # A 49 Mpx RGB PNG (196 MB in Pillow) is averaged down before any copy: was +467 MB.
    Image.fromarray(np.ascontiguousarray(np.broadcast_to(stripes(7000)[None, :, None], (7000, 7000, 3)))).save(
        tmp_path / "big.png", compress_level=1)
    done = subprocess.run([sys.executable, "-c", MEASURE, str(tmp_path / "cache"), str(tmp_path / "big.png")],
                          capture_output=True, text=True, timeout=120, check=True)
    result = json.loads(done.stdout)
    assert result["rss_increase_mb"] < 300 and result["thumbs"][0]["right"] > result["thumbs"][0]["left"] + 100, result


def test_large_pages_are_read_strip_by_strip_or_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(thumbs, "MAX_PIXELS", 2**20)
    monkeypatch.setattr(thumbs, "MAX_BYTES", 2**20)
    monkeypatch.setattr(thumbs, "MAX_SEGMENT_BYTES", 2**19)
    ramp = np.ascontiguousarray(np.broadcast_to(stripes(2000), (1500, 2000)))
    tifffile.imwrite(tmp_path / "one-strip.tif", ramp, rowsperstrip=1500, compression="zlib")  # 3 MB in one strip
    with pytest.raises(NoPreview, match="too large to preview: 2,000 × 1,500 px in strips"):
        thumbnail(tmp_path / "one-strip.tif", tmp_path / "cache", "one")
    rgb = np.stack([ramp, ramp[:, ::-1], np.full_like(ramp, 128)], axis=-1)
    for name, kwargs in (("strips", {"rowsperstrip": 16}), ("tiles", {"tile": (256, 256)}),
                         ("planar", {"tile": (256, 256), "planarconfig": "separate"})):
        pixels = rgb if name != "strips" else ramp
        data = np.moveaxis(pixels, -1, 0) if name == "planar" else pixels
        tifffile.imwrite(tmp_path / f"{name}.tif", data, compression="zlib",
                         photometric="rgb" if pixels.ndim == 3 else "minisblack", **kwargs)
        with Image.open(thumbnail(tmp_path / f"{name}.tif", tmp_path / "cache", name)) as image:
            assert image.size == (THUMB_SIZE, 192)
            grey = np.asarray(image).astype(int)
        first = grey if grey.ndim == 2 else grey[..., 0]
        assert first[:, -8:].mean() - first[:, :8].mean() > 200, name  # the ramp, every n-th pixel
        if grey.ndim == 3:
            assert grey[..., 1][:, :8].mean() - grey[..., 1][:, -8:].mean() > 200, name  # the reversed ramp


def test_stored_bytes_are_bounded_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # 64 x 64 px whose one strip claims (and has) 2 MB: the claim is not read into memory.
    monkeypatch.setattr(thumbs, "MAX_BYTES", 2**20)
    monkeypatch.setattr(thumbs, "MAX_SEGMENT_BYTES", 2**19)
    (tmp_path / "claims.tif").write_bytes(raw_tiff(64, 64, [bytes(2 * 2**20)]))
    with pytest.raises(NoPreview, match="claims 2,097,152 stored bytes"):
        thumbnail(tmp_path / "claims.tif", tmp_path / "cache", "c")


def test_the_smallest_pyramid_level_is_read(tmp_path: Path) -> None:
    # Levels differ on purpose: only the 512 px level rises left to right.
    with tifffile.TiffWriter(tmp_path / "pyramid.tif") as tif:
        tif.write(np.zeros((2048, 2048), np.uint8), subifds=2, tile=(256, 256))
        tif.write(np.zeros((1024, 1024), np.uint8), subfiletype=1, tile=(256, 256))
        tif.write(np.broadcast_to(stripes(512), (512, 512)).copy(), subfiletype=1, tile=(256, 256))
    with Image.open(thumbnail(tmp_path / "pyramid.tif", tmp_path / "cache", "p")) as image:
        grey = np.asarray(image).astype(int)
    assert grey.shape == (THUMB_SIZE, THUMB_SIZE) and grey[:, -8:].mean() - grey[:, :8].mean() > 200


def test_previews_are_bounded_in_time_and_number(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(thumbs, "MAX_PIXELS", 2**16)  # read strip by strip, checking the clock
    tifffile.imwrite(tmp_path / "big.tif", np.broadcast_to(stripes(3000), (3000, 3000)), rowsperstrip=1,
                     compression="zlib")

    async def at_once(pool: PreviewPool, keys: str) -> list[object]:
        return await asyncio.gather(*(pool.thumbnail(tmp_path / "big.tif", tmp_path / "cache", key, [])
                                      for key in keys), return_exceptions=True)

    started = time.monotonic()
    [slow] = asyncio.run(at_once(PreviewPool(limit=0.001), "a"))
    assert time.monotonic() - started < 5
    assert isinstance(slow, NotNow) and "took" in str(slow)
    assert not list((tmp_path / "cache").glob("a.*"))  # not remembered: it may work when the server is idle
    made, busy, also_busy = asyncio.run(at_once(PreviewPool(workers=1, pending=0, limit=60), "abc"))
    assert isinstance(busy, NotNow) and "busy" in str(busy) and isinstance(also_busy, NotNow)
    assert made.name == "a.png"
