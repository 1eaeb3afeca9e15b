"""`emcensus serve`: the local web dashboard over the catalog."""

from __future__ import annotations

import ipaddress
import os

import click

from emcensus.errors import ConfigError

LOOPBACK_HOSTS = ["127.0.0.1", "localhost", "::1", "[::1]"]


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on. Anything but loopback needs --token.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option("--token", envvar="EMCENSUS_TOKEN",
              help="Access token every request must carry (Authorization: Bearer, or ?token= once). Also $EMCENSUS_TOKEN.")
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, token: str | None) -> None:
    """Web dashboard over the catalog: overview charts, explore with filters and thumbnails, audit
    lists; JSON API documented at /docs. Works while a scan is writing. Its only change to the
    catalog is linking images to articles (and unlinking); the archive is never written."""
    import uvicorn

    from emcensus.web import create_app

    loopback = is_loopback(host)
    if not loopback and not token:
        raise ConfigError(f"--host {host} is reachable from other machines: give --token (or $EMCENSUS_TOKEN)")
    # On loopback without a token, a Host check stops web pages elsewhere from reading it (DNS rebinding).
    app = create_app(ctx.obj["catalog"], token=token, allowed_hosts=None if token else LOOPBACK_HOSTS)
    suffix = f"?token={token}" if token else ""
    shown = f"[{host}]" if ":" in host else host
    click.echo(f"emcensus dashboard on http://{shown}:{port}/{suffix}  (catalog {os.path.abspath(ctx.obj['catalog'])}; Ctrl-C stops)")
    uvicorn.run(app, host=host, port=port, log_level="warning")
