"""`emcensus watch`: the census kept up to date while instruments write, by polling (see `watch.loop`)."""

from emcensus.watch.loop import WatchSettings, stop_on_signals, watch

__all__ = ["WatchSettings", "stop_on_signals", "watch"]
