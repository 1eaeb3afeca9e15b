"""Server time of every dashboard page and API call on the paper-scale catalog (target: <= 300 ms),
and thumbnails cold (<= 150 ms) and cached (<= 5 ms). In-process ASGI calls: no network in the timing.

    .venv/bin/python bench/bench_dashboard.py
"""

from __future__ import annotations

import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from paper_catalog import paper_catalog  # noqa: E402

from fastapi.testclient import TestClient  # noqa: E402

from emcensus.catalog import Catalog  # noqa: E402
from emcensus.web.app import create_app  # noqa: E402
from emcensus.web.thumbs import NoPreview, cache_dir, thumbnail  # noqa: E402


def timed_get(client: TestClient, url: str, repeat: int = 5) -> float:
    """Median milliseconds of a GET (the first call, which warms SQLite's cache, not counted)."""
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code, response.text[:200])
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        client.get(url)
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def dashboard_urls(image_id: int) -> list[str]:
    """Every page and API call the dashboard serves, with one image's own."""
    return [
        "/", "/explore", "/explore?year=2019&technique=SEM&order=-magnification", f"/images/{image_id}",
        "/audit", "/audit/no-metadata", "/audit/duplicate-exports",
        "/api/count?by=year,technique", "/api/count?by=magnification", "/api/count?year=2019&instrument=SU8230&detector=SE",
        "/api/images?limit=60", "/api/images?limit=60&offset=100000", "/api/images?limit=60&order=-acquired_at&technique=TEM",
        f"/api/images/{image_id}", f"/api/images/{image_id}/sidecar", f"/api/images/{image_id}/neighbours",
        "/api/table1", "/api/articles", "/api/audit", "/api/audit/orphan-sidecars", "/api/roots",
    ]


def main() -> None:
    path = paper_catalog()
    with Catalog(path, readonly=True) as catalog:
        images = catalog.total()
        sample = catalog.images(limit=40, offset=5000, instrument="SU8230")
    image_id = sample[0]["id"]
    client = TestClient(create_app(path))
    urls = dashboard_urls(image_id)
    print(f"catalog: {path} — {images:,} images")
    worst = 0.0
    for url in urls:
        ms = timed_get(client, url)
        worst = max(worst, ms)
        print(f"  {url:<62} {ms:7.1f} ms")
    print(f"slowest page/API call: {worst:.0f} ms (target <= 300 ms)")

    shutil.rmtree(cache_dir(path), ignore_errors=True)
    cold, cached = [], []
    for row in sample[:30]:
        started = time.perf_counter()
        assert client.get(f"/api/thumbnail/{row['id']}").status_code == 200
        cold.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        client.get(f"/api/thumbnail/{row['id']}")
        cached.append((time.perf_counter() - started) * 1000)
    print(f"thumbnail cold  : median {statistics.median(cold):6.1f} ms, max {max(cold):6.1f} ms (target <= 150 ms)")
    print(f"thumbnail cached: median {statistics.median(cached):6.1f} ms, max {max(cached):6.1f} ms (target <= 5 ms)")
    real_size_thumbnails()


def real_size_thumbnails() -> None:
    """The generated images are small; real microscope frames (1280x960, 16-bit) cost more cold."""
    samples = Path(__file__).resolve().parents[1].parent / "shared" / "vendor-samples"
    files = sorted(p for p in samples.glob("*/*") if p.suffix.lower() in (".tif", ".tiff"))
    if not files:
        print("(../shared/vendor-samples absent: no real-size thumbnail timings)")
        return
    with tempfile.TemporaryDirectory() as cache:
        for path in files:
            started = time.perf_counter()
            try:
                thumbnail(path, Path(cache), path.stem)
            except NoPreview as exc:
                print(f"  {path.name[:40]:<40} no preview: {exc}")
                continue
            cold = (time.perf_counter() - started) * 1000
            started = time.perf_counter()
            thumbnail(path, Path(cache), path.stem)
            cached = (time.perf_counter() - started) * 1000
            print(f"  {path.name[:40]:<40} cold {cold:6.1f} ms, cached {cached:5.2f} ms")


if __name__ == "__main__":
    main()
