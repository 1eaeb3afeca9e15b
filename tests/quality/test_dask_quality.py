"""`emcensus quality --dask ADDRESS` on a real cluster (`dask scheduler` + two `dask worker` processes
on loopback, each in its own folder, without the catalog): the metrics, percentiles, flags and
duplicate groups are those of a local run, and the workers write nothing beside the catalog."""

from __future__ import annotations

from pathlib import Path

import pytest

from emcensus.catalog import Catalog
from emcensus.quality.runner import BATCH, update_quality
from emcensus.scan import RootSpec, scan
from quality.quality_support import frame, measured_rows, write_frame
from scan.test_dask_cluster import Cluster, _emcensus, cluster  # noqa: F401 - `cluster` is the fixture

pytestmark = pytest.mark.slow


def test_quality_on_a_dask_cluster_measures_what_a_local_run_measures(tmp_path: Path, cluster: Cluster) -> None:
    root = tmp_path / "archive" / "SU8230"
    for index in range(2 * BATCH + 4):  # several tasks, so both workers take some
        write_frame(root / f"day{index % 2}" / f"img{index:02d}", frame("fibres", index, index, 256, 192),
                    date=f"01/0{2 + index % 2}/2019", exports=(".jpg",) if index % 9 == 0 else ())
    local_path, client_path = tmp_path / "local.sqlite", tmp_path / "client" / "census.sqlite"
    client_path.parent.mkdir()
    for path in (local_path, client_path):
        with Catalog(path) as catalog:
            scan(catalog, [RootSpec(str(root), "SU8230")], workers=0)
    with Catalog(local_path) as local:
        update_quality(local, workers=0)
        expected = measured_rows(local)
    process = _emcensus(client_path, "quality", "--dask", cluster.address)
    output, _ = process.communicate(timeout=600)
    assert process.returncode == 0, output
    assert "Traceback" not in output and "could not be measured" not in output
    with Catalog(client_path, readonly=True) as census:
        assert measured_rows(census) == expected
        assert sum(row["grouped"] for row in expected) == 2 * 4  # each tif with its jpg export
    cluster.assert_workers_left_no_catalog()
