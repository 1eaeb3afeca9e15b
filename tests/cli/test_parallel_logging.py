"""`cli.parallel.dask_client` for a command that fails quiets distributed's and tornado's logs while its
client closes (the command's one line says it all), then gives them back their levels: a program calling
it goes on logging as it set up. On a real scheduler and worker (in this process)."""

from __future__ import annotations

import contextlib
import logging

import pytest

from emcensus.cli.parallel import dask_client


@pytest.fixture(scope="module")
def scheduler():
    from distributed import LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        yield cluster.scheduler_address


@pytest.mark.parametrize("fails", [True, False])
def test_the_log_levels_are_given_back_after_the_client_closes(scheduler: str, fails: bool) -> None:
    # tornado.application has a level of its own (ERROR, from distributed's config): quieting "tornado"
    # alone let a gather cancelled by the close log its traceback
    loggers = [logging.getLogger(name) for name in ("distributed", "tornado", "tornado.application")]
    before = [logger.level for logger in loggers]
    seen: list[list[int]] = []
    try:
        for logger, level in zip(loggers, (logging.DEBUG, logging.WARNING, logging.ERROR), strict=True):
            logger.setLevel(level)
        with pytest.raises(RuntimeError, match="the command's own error") if fails else contextlib.nullcontext():
            with dask_client(scheduler, 10) as client:
                assert client.submit(sum, [1, 2]).result() == 3
                close = client.close

                def noting_the_levels(*args, **kwargs):
                    seen.append([logger.level for logger in loggers])
                    return close(*args, **kwargs)

                client.close = noting_the_levels
                if fails:
                    raise RuntimeError("the command's own error")
        levels = [logging.DEBUG, logging.WARNING, logging.ERROR]
        assert seen == [[logging.CRITICAL] * 3 if fails else levels]  # while it closes
        assert [logger.level for logger in loggers] == levels  # after
    finally:
        for logger, level in zip(loggers, before, strict=True):
            logger.setLevel(level)
