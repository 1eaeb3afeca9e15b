"""`emcensus watch`: keep the catalog up to date while instruments write (a thin layer over `emcensus.watch`)."""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import Any

import click

from emcensus.catalog import Catalog
from emcensus.cli.roots import root_options, root_specs


@click.command()
@root_options
@click.option("--interval", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Seconds between polls (default 60, or [watch] interval).")
@click.option("--sidecar-timeout", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Seconds a Hitachi/JEOL image waits for its sidecar before it is catalogued without (default 120).")
@click.option("--recent-days", type=click.IntRange(min=0, max=366), default=None,
              help="Date-named folders of the last N days are listed every poll (default 2).")
@click.option("--full-sweep-hour", type=click.IntRange(min=0, max=23), default=None,
              help="Local hour of the daily full sweep, the safety net under the hot folders (default 3).")
@click.option("--workers", type=click.IntRange(min=0), default=0, show_default=True,
              help="Reader processes (0: read in the watch's own process).")
@click.option("--file-timeout", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Seconds one file may take to read (default: 30).")
@click.option("--retry-unread", is_flag=True,
              help="Once, at the first full sweep: read again the files not read for a limit (memory cap, time "
                   "budget, a worker that died), unchanged as they are: after raising it.")
@click.option("--once", is_flag=True, help="Two polls --interval apart (a full sweep, then the changes), then exit: for cron.")
@click.option("--cycles", type=click.IntRange(min=1), default=None, help="Exit after N cycles.")
@click.option("--quiet", "-q", is_flag=True, help="One line per cycle (for logs), nothing else.")
@click.pass_context
def watch(ctx: click.Context, interval: float | None, sidecar_timeout: float | None, recent_days: int | None,
          full_sweep_hour: int | None, workers: int, file_timeout: float | None, retry_unread: bool, once: bool,
          cycles: int | None, quiet: bool, **root_arguments: Any) -> None:
    """Keep the catalog up to date with ROOTS (or the facility file's) while instruments write.

    Polls: each cycle lists the folders that changed, today's date folders and those with files
    still being written; a file is catalogued once it stopped changing and its sidecar arrived.
    SIGTERM or Ctrl-C stops after the commit in progress.
    """
    from emcensus.config import load_watch
    from emcensus.scan import FILE_TIMEOUT_S
    from emcensus.scan.pool import worker_memory
    from emcensus.watch import WatchSettings, stop_on_signals
    from emcensus.watch import watch as run_watch

    specs = root_specs(**root_arguments)
    given = load_watch(root_arguments["config_path"]) if root_arguments["config_path"] else {}
    options = {"interval": interval, "sidecar_timeout": sidecar_timeout, "recent_days": recent_days,
               "full_sweep_hour": full_sweep_hour}
    settings = replace(WatchSettings(), **{**given, **{k: v for k, v in options.items() if v is not None}})
    stop = threading.Event()
    with Catalog(ctx.find_root().obj["catalog"], archives=[spec.path for spec in specs]) as catalog, \
            stop_on_signals(stop):
        worker_memory(1)  # a cap refused (`ConfigError`) before the watch says it watches: one line
        if not quiet:
            click.echo(f"watching {len(specs)} root(s) every {settings.interval:g} s; SIGTERM or Ctrl-C stops")
        run_watch(catalog, specs, settings, stop=stop, log=click.echo, quiet=quiet, cycles=2 if once else cycles,
                  workers=workers, file_timeout=file_timeout or FILE_TIMEOUT_S, retry_unread=retry_unread)
