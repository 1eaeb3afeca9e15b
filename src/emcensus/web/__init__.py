"""The local web dashboard (`emcensus serve`): an ASGI app over a catalog, opened read-only."""

from emcensus.web.app import create_app

__all__ = ["create_app"]
