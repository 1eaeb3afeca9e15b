"""Thumbnails: every common container, 16-bit contrast stretch, a placeholder for the rest."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import tifffile
from fastapi.testclient import TestClient
from PIL import Image

from emcensus.web.thumbs import THUMB_SIZE, NoPreview, thumbnail


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
    with pytest.raises(NoPreview):
        thumbnail(tmp_path / "x.dm4", tmp_path / "cache", "x")
    assert not (tmp_path / "cache").exists() or not list((tmp_path / "cache").iterdir())


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
