"""emcensus: census of electron-microscopy archives and the data they lose.

    >>> import emcensus
    >>> record = emcensus.read_metadata("image.tif")      # one file, no catalog
    >>> catalog = emcensus.open_catalog("census.sqlite")  # the whole facility
    >>> catalog.total(year=2019, instrument="SU8230", detector="SE")
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from emcensus.errors import EmcensusError
from emcensus.lazy import lazy_names

if TYPE_CHECKING:
    from emcensus.catalog import Catalog
    from emcensus.readers import read_metadata
    from emcensus.record import ImageRecord

#: Public names imported on first use (PEP 562): `emcensus count` does not load every reader,
#: tifffile and numpy just to start.
_LAZY = {"read_metadata": "emcensus.readers", "ImageRecord": "emcensus.record"}

__version__ = "0.1.0"


def open_catalog(path: str | os.PathLike[str], *, readonly: bool = False, create: bool = False) -> Catalog:
    """Open an existing catalog file (a missing one is an error unless `create=True`): a typo in a
    path should not leave an empty catalog behind. See `emcensus.catalog.Catalog`."""
    from emcensus.catalog import Catalog

    return Catalog(path, readonly=readonly, create=create)


__getattr__ = lazy_names(__name__, _LAZY)


__all__ = ["EmcensusError", "ImageRecord", "open_catalog", "read_metadata", "__version__"]
