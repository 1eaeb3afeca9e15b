"""Pseudonyms for people, groups, projects and folders: HMAC-SHA256 under a facility secret.

The same secret gives the same pseudonym in every export (a group can be followed across exports);
without the secret nobody can test a guessed name against a pseudonym, as one could against a plain
hash. The secret is read from a file or an environment variable and never written anywhere.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from emcensus.access import read_bounded
from emcensus.errors import ConfigError, UnreadableFileError

#: Environment variable holding the facility secret itself (else `--secret-file`).
SECRET_ENV = "EMCENSUS_SECRET"
#: A secret shorter than this is guessable: refused.
MIN_SECRET_BYTES = 16
_MAX_SECRET_FILE = 4096
#: Hex digits of a pseudonym: 64 bits, no collision among a facility's names.
_DIGITS = 16

#: Metadata keys that name the person who acquired an image (vendor spellings, compared folded):
#: Hitachi `UserName=`, FEI/Thermo `[User] User=`, Zeiss "User Name", generic "Operator".
_OPERATOR_KEYS = frozenset({"username", "user", "operator", "operatorname", "owner"})


def load_secret(secret_file: str | os.PathLike[str] | None = None, environ: Mapping[str, str] = os.environ) -> bytes:
    """The facility secret from `secret_file`, else from $EMCENSUS_SECRET; refused when absent or short."""
    if secret_file is not None:
        try:
            secret = read_bounded(secret_file, _MAX_SECRET_FILE, "secret file").strip()
        except UnreadableFileError as exc:
            raise ConfigError(f"cannot read the secret file {secret_file}: {exc}") from exc
        where = f"the secret file {secret_file}"
    elif environ.get(SECRET_ENV):
        secret, where = environ[SECRET_ENV].strip().encode(), f"${SECRET_ENV}"
    else:
        raise ConfigError(
            f"a facility secret is needed for pseudonyms: give --secret-file PATH, `secret_file` in the facility "
            f"file's [reuse] table, or set ${SECRET_ENV} (at least {MIN_SECRET_BYTES} random characters, e.g. from "
            "`openssl rand -hex 32`; keep it, the same secret gives the same pseudonyms in later exports)")
    if len(secret) < MIN_SECRET_BYTES:
        raise ConfigError(f"{where} holds {len(secret)} bytes; a secret needs at least {MIN_SECRET_BYTES}")
    return secret


def facility_secret_file(facility_file: str | os.PathLike[str]) -> Path | None:
    """`[reuse] secret_file` of a facility file, relative to it; None when the file names none."""
    from emcensus.config import read_facility_toml  # imported here: config pulls in the scanner

    path = Path(facility_file)
    table = read_facility_toml(path).get("reuse", {})
    value = table.get("secret_file") if isinstance(table, dict) else None
    if value is not None and (not isinstance(value, str) or not value):
        raise ConfigError(f"{path}: [reuse] secret_file must be a file path in quotes")
    return path.parent / value if value else None


class Pseudonyms:
    """`kind-<16 hex>` for a real name of a kind (group, project, operator, session, folder, ...)."""

    def __init__(self, secret: bytes):
        self._secret = secret

    def __call__(self, kind: str, value: Any) -> str | None:
        if value is None or value == "":
            return None
        digest = hmac.new(self._secret, f"{kind}\x00{value}".encode("utf-8", "surrogateescape"), hashlib.sha256)
        return f"{kind}-{digest.hexdigest()[:_DIGITS]}"

    def salt(self, label: str) -> bytes:
        """A key derived from the secret for `label` (the split order), never the secret itself."""
        return hmac.new(self._secret, f"salt\x00{label}".encode(), hashlib.sha256).digest()

    def __repr__(self) -> str:  # never shows the secret
        return "Pseudonyms(<secret>)"


def _fold(key: str) -> str:
    return re.sub(r"[\s_\-.]", "", key).casefold()


def _walk(value: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield str(key), item
            yield from _walk(item)
    elif isinstance(value, list):
        for item in value:
            yield from _walk(item)


def operator_of(original_metadata: Mapping[str, Any]) -> str | None:
    """The name of who acquired the image, from the vendor metadata; None when it names nobody."""
    for key, value in _walk(original_metadata):
        if _fold(key) in _OPERATOR_KEYS and isinstance(value, (str, int)) and str(value).strip():
            return str(value).strip()
    return None


def secret_outside(secret_file: str | os.PathLike[str] | None, out: Path) -> None:
    """Refuse a secret file inside the export folder (it would be published with it)."""
    if secret_file is not None and Path(os.path.realpath(secret_file)).is_relative_to(out):
        raise ConfigError(f"the secret file {secret_file} is inside the export folder {out}: keep it outside")
