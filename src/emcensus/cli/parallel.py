"""Where per-image work runs (`scan`, `quality`, `figures index`): one set of options and one way to
reach a Dask scheduler, so the commands agree on names, defaults and errors."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from typing import Any

import click

from emcensus.errors import ConfigError


def parallel_options(verb: str, file_timeout: tuple[str, str] | None = None
                     ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """`--workers`, `--dask ADDRESS`, `--dask-timeout` and, with `file_timeout` (what a file takes,
    what it is not when too slow: ("read and measure", "measured")), `--file-timeout`; `verb` says
    what the cluster does ("read", "measure")."""
    options = [
        workers_option("Reader processes"),
        click.option("--dask", "dask_address", metavar="ADDRESS",
                     help=f"{verb.capitalize()} on a Dask cluster (scheduler address) instead of local processes."),
        click.option("--dask-timeout", type=click.FloatRange(min=0, min_open=True), default=10, show_default=True,
                     help="Seconds to wait for the Dask scheduler before giving up."),
    ]
    if file_timeout:
        work, done = file_timeout
        options.append(click.option(
            "--file-timeout", type=click.FloatRange(min=0, min_open=True), default=None,
            help=f"Seconds one file may take to {work} (default: 30); a slower one is listed as not {done}."))

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        for option in reversed(options):
            command = option(command)
        return command

    return decorate


def workers_option(what: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """`--workers N`: how many processes do the work (`what` they are), all cores by default."""
    return click.option("--workers", type=click.IntRange(min=0), default=None,
                        help=f"{what} (default: all cores; 0: in this process).")


def dask_client(address: str | None, timeout: float, *, exits_on_failure: bool = False) -> Any:
    """A Dask client (a context manager) for `address`, or a one-line error naming the address
    within `timeout` seconds; without an address, a context holding None. `exits_on_failure`: a command
    whose process ends when the block fails (`_quiet_when_failed`)."""
    if not address:
        return contextlib.nullcontext()
    from distributed import Client

    try:
        return _quiet_when_failed(Client(address, timeout=timeout), exits_on_failure)
    except (OSError, ValueError, TimeoutError) as exc:
        raise ConfigError(f"cannot use the Dask scheduler at {address}: {exc}") from exc


@contextlib.contextmanager
def _quiet_when_failed(client: Any, exits_on_failure: bool) -> Iterator[Any]:
    """`client` for the command's block; when the command failed (its one line is on its way), the
    client's close is not told in distributed's and tornado's logs too (tasks still running are let
    go: "Couldn't gather", a cancelled future's traceback). Their levels are as before once it is closed:
    a program that calls `dask_client` goes on with its own logging; but a command that exits on the failure
    keeps them raised, since the loop thread may still log the close's last callbacks after it."""
    loggers = _dask_loggers()
    levels, failed = [logger.level for logger in loggers], False
    try:
        with client:
            try:
                yield client
            except BaseException:
                failed = True
                for logger in loggers:
                    logger.setLevel(logging.CRITICAL)
                raise
    finally:
        if not (failed and exits_on_failure):
            for logger, level in zip(loggers, levels, strict=True):
                logger.setLevel(level)


def _dask_loggers() -> list[logging.Logger]:
    """distributed's and tornado's loggers that decide their own level: the two roots and every child
    given one (distributed's config sets `tornado.application` to ERROR, so quieting `tornado` alone
    let a cancelled gather's traceback through)."""
    roots = ("distributed", "tornado")
    children = [logger for name, logger in list(logging.root.manager.loggerDict.items())
                if isinstance(logger, logging.Logger) and name.split(".")[0] in roots and name not in roots
                and logger.level != logging.NOTSET]
    return [logging.getLogger(name) for name in roots] + children


__all__ = ["dask_client", "parallel_options", "workers_option"]
