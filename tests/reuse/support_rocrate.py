"""RO-Crate validation offline: roc-validator's HTTP cache is given the JSON-LD context that the
`rocrate` package ships, so no check reaches for the network."""

from __future__ import annotations

import io
import json
from pathlib import Path

import requests
import rocrate
import urllib3


def validate_offline(crate: Path, cache: Path):
    from rocrate_validator import models, services
    from rocrate_validator.utils.http import HttpRequester

    shipped = Path(rocrate.__file__).parent / "data" / "ro-crate.jsonld"
    context = shipped.read_bytes()
    url = json.loads(context)["@id"]  # https://w3id.org/ro/crate/1.3/context
    requester = HttpRequester(cache_path=str(cache), offline=True)
    settings = services.ValidationSettings(rocrate_uri=str(crate), profile_identifier="ro-crate-1.3",
                                           requirement_severity=models.Severity.REQUIRED, offline=True,
                                           cache_path=cache)
    response = requests.Response()
    response.status_code, response._content, response.url, response.encoding = 200, context, url, "utf-8"
    response.headers["Content-Type"] = "application/ld+json"
    response.raw = urllib3.HTTPResponse(body=io.BytesIO(context), headers={"Content-Type": "application/ld+json"},
                                        status=200, preload_content=False, request_url=url)
    response.request = requests.Request("GET", url, headers={"Accept": "application/ld+json, application/json"}).prepare()
    requester.session.cache.save_response(response)
    return services.validate(settings)
