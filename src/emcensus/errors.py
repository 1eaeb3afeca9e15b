"""One exception root so that the CLI and the web app can turn any of them into a clear message."""

from __future__ import annotations


class EmcensusError(Exception):
    """Root of every error emcensus raises on purpose; its message is meant for people."""


class UnreadableFileError(EmcensusError):
    """A file could not be read or decoded. The scan records it and goes on."""


class OutOfMemoryError(UnreadableFileError):
    """Reading a file needed more memory than this process may take: not the file's damage."""


class ConfigError(EmcensusError):
    """A facility file, option or argument makes no sense."""


class QueryError(EmcensusError):
    """A filter or grouping names an unknown field or an impossible value."""


class CatalogError(EmcensusError):
    """The catalog file is missing, from a newer emcensus, or not an emcensus catalog."""


class NotFoundError(EmcensusError):
    """An image, article or other object asked for by id does not exist."""


class LedgerError(EmcensusError):
    """A publication ledger or bibliography cannot be used: unreadable, wrong columns, or rows refused."""


class OutputError(EmcensusError):
    """An output (export, report, cache) could not be written: permissions, a full disk."""


class UnreachableError(EmcensusError):
    """An archive root did not answer (a share that is down or unmounted): nothing was marked missing."""
