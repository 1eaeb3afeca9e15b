"""A Hitachi instrument PC, as the watch sees it over a share: a `.tif` written in chunks, its `.txt`
sidecar seconds later. Run as its own process by the watch tests:

    python hitachi_writer.py FOLDER CHUNKS CHUNK_PAUSE SIDECAR_DELAY

Prints one JSON line when the image is complete and one when the sidecar landed (monotonic clock,
shared by every process of the machine), with the frame's magnification the sidecar carries.
"""

from __future__ import annotations

import json
import os
import sys
import time

from emcensus.demo.generate import plan_archive
from emcensus.demo.pixels import PixelBank, frame_stamp, stamped_tiff
from emcensus.demo.sidecars import encode_sidecar, sidecar_text


def frame() -> dict:
    """An SU8230 SEM frame of the demo plan that has a sidecar."""
    plan = plan_archive(40, seed=3, instruments=("SU8230",))
    return next(f for f in plan.frames if f["sidecar"] and not f["orphan"] and f["primary_ext"] == ".tif")


def write_in_chunks(path: str, data: bytes, chunks: int, pause: float) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        step = -(-len(data) // chunks)
        for start in range(0, len(data), step):
            os.write(fd, data[start:start + step])
            os.fsync(fd)
            time.sleep(pause)
    finally:
        os.close(fd)


def main(folder: str, chunks: int, pause: float, sidecar_delay: float) -> None:
    f = frame()
    image = stamped_tiff(PixelBank(3), f["width"], f["height"], f["technique"], f["variant"], frame_stamp(3, f["id"]))
    stem = os.path.join(folder, "live_001")
    write_in_chunks(stem + ".tif", image, chunks, pause)
    print(json.dumps({"event": "image", "at": time.monotonic(), "path": stem + ".tif"}), flush=True)
    time.sleep(sidecar_delay)
    with open(stem + ".txt", "wb") as handle:
        handle.write(encode_sidecar(sidecar_text(f), f["encoding"]))
    print(json.dumps({"event": "sidecar", "at": time.monotonic(), "magnification": f["magnification"]}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]))
