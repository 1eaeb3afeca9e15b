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
from emcensus.readers import read_metadata
from emcensus.record import ImageRecord

if TYPE_CHECKING:
    from emcensus.catalog import Catalog

__version__ = "0.1.0"


def open_catalog(path: str | os.PathLike[str], *, readonly: bool = False, create: bool = False) -> Catalog:
    """Open an existing catalog file (a missing one is an error unless `create=True`): a typo in a
    path should not leave an empty catalog behind. See `emcensus.catalog.Catalog`."""
    from emcensus.catalog import Catalog

    return Catalog(path, readonly=readonly, create=create)


__all__ = ["EmcensusError", "ImageRecord", "open_catalog", "read_metadata", "__version__"]
