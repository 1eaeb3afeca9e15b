"""A real Dask cluster as a cluster user runs one: `dask scheduler` and two `dask worker` processes on
loopback, each in its own working directory and with no access to the catalog (the client is the
catalog's only writer, and the only one to write the visual index). One worker is killed mid-run; the
catalog must still be row for row the one a local scan makes, and the visual index image for image the
one a local `figures index` builds."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from emcensus.catalog import Catalog
from emcensus.figures.index import VisualIndex, index_folder, update_index
from emcensus.scan import RootSpec, scan
from support import census_rows, hitachi_sidecar, write_tiff

pytestmark = pytest.mark.slow

FOLDERS, PER_FOLDER = 12, 40


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    """480 frames with sidecars in 12 top-level folders: enough tasks to kill a worker in the middle."""
    root = tmp_path / "archive" / "SU8230"
    for folder in range(FOLDERS):
        for index in range(PER_FOLDER):
            stem = root / f"group{folder:02d}" / "2019-01-02" / f"img{index:03d}"
            write_tiff(stem.with_suffix(".tif"), seed=folder * PER_FOLDER + index)
            stem.with_suffix(".txt").write_bytes(hitachi_sidecar(1000 * (index + 1), "SE(U)", "01/02/2019").encode())
    return root


def _dask(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    dask = shutil.which("dask", path=os.path.dirname(sys.executable)) or shutil.which("dask")
    if dask is None:
        pytest.skip("the `dask` command is not installed")
    cwd.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen([dask, *args], cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True, env=env)


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(10)


def _wait_for(predicate, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


@dataclass
class Cluster:
    """A running `dask scheduler` and two `dask worker` processes, each in its own folder."""

    address: str
    workers: list[subprocess.Popen]
    folders: list[Path]

    def assert_workers_left_no_catalog(self) -> None:
        """The workers wrote only in their own folders, and no catalog or index file there."""
        for folder in self.folders:
            assert not any(p.suffix.startswith(".sqlite") or p.name.endswith(".figures") for p in folder.rglob("*"))


@contextlib.contextmanager
def _running_cluster(tmp_path: Path, workers: int = 2, env: dict[str, str] | None = None) -> Iterator[Cluster]:
    """A `dask scheduler` and `workers` `dask worker` processes on loopback (run with `env`, when given)."""
    scheduler_file = tmp_path / "cluster" / "scheduler.json"
    scheduler = _dask("scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                      "--scheduler-file", str(scheduler_file), cwd=tmp_path / "cluster")
    started: list[subprocess.Popen] = []
    folders = [tmp_path / f"worker{number}" for number in range(1, workers + 1)]
    try:
        _wait_for(lambda: scheduler_file.exists() and scheduler_file.stat().st_size > 0, 60, "the scheduler")
        address = json.loads(scheduler_file.read_text())["address"]
        for folder in folders:  # own working folder each; the catalog's folder is never given to them
            started.append(_dask("worker", address, "--nworkers", "1", "--nthreads", "1", "--no-dashboard",
                                 "--host", "127.0.0.1", "--local-directory", str(folder), cwd=folder, env=env))
        from distributed import Client

        with Client(address, timeout=30) as client:
            client.wait_for_workers(workers, timeout=60)
        yield Cluster(address, started, folders)
    finally:
        for process in [*started, scheduler]:
            _stop(process)


@pytest.fixture
def cluster(tmp_path: Path):
    with _running_cluster(tmp_path) as running:
        yield running


#: The `emcensus` commands a test started (`_emcensus`): ended after it, whatever it met.
_clients: list[subprocess.Popen] = []


@pytest.fixture(autouse=True)
def _no_client_left() -> Iterator[None]:
    """A test that fails or times out waiting for its `emcensus` command leaves no such process running."""
    yield
    while _clients:
        process = _clients.pop()
        if process.poll() is None:
            process.kill()
        process.communicate()


def _emcensus(catalog_path: Path, *args: str) -> subprocess.Popen:
    """The `emcensus` command a cluster user types, on the client."""
    command = shutil.which("emcensus", path=os.path.dirname(sys.executable))
    if command is None:
        pytest.skip("the `emcensus` command is not installed (pip install -e .)")
    _clients.append(subprocess.Popen([command, "--catalog", str(catalog_path), *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    return _clients[-1]


def test_scan_on_a_dask_cluster_survives_a_killed_worker(archive: Path, tmp_path: Path, cluster: Cluster) -> None:
    with Catalog(tmp_path / "local.sqlite") as local:
        scan(local, [RootSpec(str(archive), "SU8230")], workers=0)
        expected = census_rows(local)
    assert len(expected) == FOLDERS * PER_FOLDER

    catalog_path = tmp_path / "client" / "census.sqlite"
    catalog_path.parent.mkdir()
    client_scan = _emcensus(catalog_path, "scan", str(archive), "--instrument", "SU8230", "--dask", cluster.address,
                            "--quiet")

    def some_rows_written() -> bool:
        if client_scan.poll() is not None:
            return True
        try:
            with Catalog(catalog_path, readonly=True) as partial:
                return partial.total(files=True, kind="all") > 0
        except Exception:  # noqa: BLE001 - not created or mid-migration yet
            return False

    _wait_for(some_rows_written, 120, "the first rows of the Dask scan")
    killed_mid_scan = client_scan.poll() is None
    _stop(cluster.workers[0])  # kill -9 one worker (and its nanny) while the scan runs
    output, _ = client_scan.communicate(timeout=300)
    assert client_scan.returncode == 0, output
    assert "Traceback" not in output

    with Catalog(catalog_path, readonly=True) as census:
        assert census_rows(census) == expected  # row for row the local census
        assert census.audit()["unreadable"] == 0
    if not killed_mid_scan:
        pytest.skip("the scan finished before a worker could be killed: the machine was too fast for this test")
    cluster.assert_workers_left_no_catalog()
    assert sorted(p.name for p in catalog_path.parent.iterdir()) <= sorted(
        ["census.sqlite", "census.sqlite-wal", "census.sqlite-shm", "census.sqlite.lock", "census.sqlite.verified"])


#: Other emcensus code on the workers, as a copy of this package edited: an emcensus from before packs
#: carried their layout (its reading tasks fail on this one's packs without knowing why), and one
#: whose packs have another format (it knows, and says so).
OTHER_CODE = {
    "older": [("[TASK_LAYOUT, *map(_plain_group, part)]", "list(map(_plain_group, part))"),
              ("    layout, *plain = pickle.loads(pack.groups)\n", "    layout, *plain = TASK_LAYOUT, *pickle.loads(pack.groups)\n")],
    "other pack format": [('PACK_FORMAT = "', 'PACK_FORMAT = "another format, ')],
}


@pytest.mark.parametrize(("other", "top_file"), [("older", True), ("other pack format", True),
                                                 ("other pack format", False)])
def test_a_dask_worker_running_other_emcensus_code_stops_the_scan_in_one_line(other: str, top_file: bool,
                                                                               archive: Path, tmp_path: Path) -> None:
    """Packs the client made (files in a root's top folder) are refused by the worker; with none, the
    worker reads the packs it made itself, and the client refuses its survey instead."""
    import emcensus

    package = Path(emcensus.__file__).parent
    elsewhere = tmp_path / "worker-install"
    shutil.copytree(package, elsewhere / "emcensus", ignore=shutil.ignore_patterns("__pycache__"))
    code = elsewhere / "emcensus" / "scan" / "__init__.py"
    for before, after in OTHER_CODE[other]:
        assert code.read_text().count(before) == 1
        code.write_text(code.read_text().replace(before, after))
    if top_file:
        write_tiff(archive / "top.tif", seed=1)  # packed by the client (a root's top folder), read by the worker
    assert not [entry for entry in archive.iterdir() if entry.is_file()] or top_file
    catalog_path = tmp_path / "client" / "census.sqlite"
    catalog_path.parent.mkdir()
    with _running_cluster(tmp_path, workers=1, env={**os.environ, "PYTHONPATH": str(elsewhere)}) as running:
        client_scan = _emcensus(catalog_path, "scan", str(archive), "--dask", running.address, "--quiet")
        output, _ = client_scan.communicate(timeout=300)
    assert client_scan.returncode == 1, output
    assert "Traceback" not in output
    assert len(output.strip().splitlines()) == 1, output
    assert "install the same emcensus on every Dask worker" in output
    if other != "older":  # the worker that knows names itself: the install to fix
        assert f"runs other emcensus code than this one (on {socket.gethostname()}, {elsewhere / 'emcensus'})" in output
    with Catalog(catalog_path, readonly=True) as census:
        assert census.total(files=True, kind="all") == 0


#: Specimens and shots of each in the `figures index` archive: enough 640x480 frames for a worker to die mid-index.
SPECIMENS, SHOTS = 8, 30


@pytest.fixture
def textured_archive(tmp_path: Path) -> Path:
    """240 Hitachi TIFFs with sidecars: shots of procedural specimens, which ORB finds keypoints in."""
    from figures.match_support import scene, shot, write_archive_image

    root = tmp_path / "archive" / "SU8230"
    for specimen in range(SPECIMENS):
        pixels = scene(300 + specimen)
        for number in range(SHOTS):
            x, y = 20 * (number % 6), 25 * (number // 6)
            write_archive_image(root / f"group{specimen}" / "2019-01-02" / f"shot{number:02d}.tif",
                                shot(pixels, x, y, 1.0, seed=specimen * SHOTS + number), date="01/02/2019")
    return root


def _stored_index(catalog_path: Path) -> dict[str, tuple]:
    """What the visual index stores per image, by path: its state, keypoints and descriptors."""
    index = VisualIndex.load(index_folder(catalog_path))
    stored = {}
    for position, image in enumerate(index.images):
        points, descriptors = index.features_of(position)
        state = {key: value for key, value in image.items() if key not in ("id", "start")}
        stored[image["path"]] = (state, points.tobytes(), descriptors.tobytes())
    return stored


def _index_tasks_done(address: str) -> int:
    """How many of the pool's tasks (`figures index` batches: keys named after `pool._run`) the
    scheduler holds results of."""
    from distributed import Client

    def done(dask_scheduler) -> int:
        return sum(1 for key, task in dask_scheduler.tasks.items()
                   if str(key).startswith("_run-") and task.state == "memory")

    with Client(address, timeout=30) as client:
        return client.run_on_scheduler(done)


def test_figures_index_on_a_dask_cluster_survives_a_killed_worker(textured_archive: Path, tmp_path: Path,
                                                                   cluster: Cluster) -> None:
    catalogs = {name: tmp_path / name / "census.sqlite" for name in ("local", "client")}
    for path in catalogs.values():
        path.parent.mkdir()
        with Catalog(path) as catalog:
            scan(catalog, [RootSpec(str(textured_archive), "SU8230")], workers=0)
    with Catalog(catalogs["local"], readonly=True) as catalog:
        update_index(catalog, catalogs["local"], workers=0)
    expected = _stored_index(catalogs["local"])
    assert len(expected) == SPECIMENS * SHOTS
    assert all(state["count"] > 100 for state, _, _ in expected.values())

    client_index = _emcensus(catalogs["client"], "figures", "index", "--dask", cluster.address)
    _wait_for(lambda: client_index.poll() is not None or _index_tasks_done(cluster.address) > 0, 120,
              "the first images indexed on the cluster")
    killed_mid_index = client_index.poll() is None
    _stop(cluster.workers[0])  # kill -9 one worker (and its nanny) while the index is being built
    output, _ = client_index.communicate(timeout=300)
    assert client_index.returncode == 0, output
    assert "Traceback" not in output and "not indexed" not in output
    assert f"{SPECIMENS * SHOTS:,} image(s)" in output

    assert _stored_index(catalogs["client"]) == expected  # image for image, descriptor for descriptor
    if not killed_mid_index:
        pytest.skip("the index was built before a worker could be killed: the machine was too fast for this test")
    cluster.assert_workers_left_no_catalog()
