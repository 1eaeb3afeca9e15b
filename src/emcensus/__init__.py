"""emcensus: census of electron-microscopy archives and the data they lose.

    >>> import emcensus
    >>> record = emcensus.read_metadata("image.tif")      # one file, no catalog
    >>> catalog = emcensus.open_catalog("census.sqlite")  # the whole facility
    >>> catalog.count(year=2019, instrument="SU8230", detector_family="SE")
"""

from __future__ import annotations

from emcensus.errors import EmcensusError
from emcensus.readers import read_metadata
from emcensus.record import ImageRecord

__version__ = "0.1.0"


def open_catalog(path: str, *, readonly: bool = False):  # noqa: ANN201 - Catalog import is deferred
    """Open (or create) a catalog file; see `emcensus.catalog.Catalog`."""
    from emcensus.catalog import Catalog

    return Catalog(path, readonly=readonly)


__all__ = ["EmcensusError", "ImageRecord", "open_catalog", "read_metadata", "__version__"]
