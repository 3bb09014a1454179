"""DataCite's REST API as a :class:`~gateway.doi.registrar.Registrar`, on httpx.

Why not the ``datacite`` package's ``DataCiteRESTClient`` (its schema validates our
metadata, gateway.doi.metadata): the saga must tell a failure that may pass from one that
will not, and that client cannot. It builds its exceptions from the status code alone,
and every code it does not list (405, 409, 422, 429 and every 5xx) becomes the same
``DataCiteServerError`` ("try later"), so a rejected record (422, permanent) and an outage
(503, transient) look alike; ``put_doi`` accepts only 200 and raises on 201, the answer to
a ``PUT`` that created the DOI, which is exactly the upsert the saga relies on; timeouts
and refused connections come as one ``HttpError``. It is also synchronous (``requests``),
so each call would hold a worker thread for up to the read timeout. The few requests the
saga needs are simpler to state here than to recover from those exceptions.

Every call is one request: ``PUT /dois/{doi}`` (JSON:API, ``application/vnd.api+json``,
Basic auth with the repository id) to create or update a draft and, with ``event:
publish`` and the landing URL, to make it findable; ``GET`` and ``DELETE`` the same path.
Status codes map to the registrar's two kinds of failure (see ``_failure``); DataCite's
``errors[].title`` go into the message, cut short. The password is only ever in the
``Authorization`` header: never in a message, a log line or ``repr``.

A DOI is minted a few times a day: each call opens its own connection (no client to keep
per event loop or to close at shutdown).
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import certifi
import httpx

from gateway.doi.metadata import normalise_doi
from gateway.doi.registrar import (
    DoiState,
    PermanentRegistrarError,
    RegisteredDoi,
    TransientRegistrarError,
)
from gateway.settings import Settings

__all__ = ["DataCiteRegistrar"]

log = logging.getLogger(__name__)

JSON_API = "application/vnd.api+json"
MAX_MESSAGE = 300
"""DataCite's error titles are cut to this many characters in a message."""

_TRANSIENT = frozenset({408, 425, 429})
"""4xx statuses that say "later", not "never"; every 5xx says so too."""

_FULL_ATTRIBUTES = {"affiliation": "true", "publisher": "true"}
"""Ask for affiliations and the publisher as objects (DataCite flattens them to names
otherwise), so what we read back is what we sent."""


class DataCiteRegistrar:
    """A DataCite repository (client): its prefix, id and password, at ``api_url``."""

    registers = True

    def __init__(
        self,
        *,
        api_url: str,
        prefix: str,
        repository_id: str,
        password: str,
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
    ) -> None:
        self._api_url = api_url.rstrip("/")
        self._prefix = prefix
        self._auth = httpx.BasicAuth(repository_id, password)
        self._repository_id = repository_id
        self._timeout = httpx.Timeout(read_timeout, connect=connect_timeout)
        # Made once: loading the CA bundle costs ~90 ms, which each call's client paid.
        self._tls = ssl.create_default_context(cafile=certifi.where())

    @classmethod
    def from_settings(cls, settings: Settings) -> DataCiteRegistrar:
        """The registrar ``ICAT_GATEWAY_DATACITE_*`` and ``ICAT_GATEWAY_DOI_PREFIX`` name."""
        if not settings.datacite_repository_id or not settings.datacite_password:
            raise ValueError("DataCite needs a repository id and a password")
        return cls(
            api_url=settings.datacite_api_url,
            prefix=settings.doi_prefix,
            repository_id=settings.datacite_repository_id,
            password=settings.datacite_password,
            connect_timeout=settings.datacite_connect_timeout,
            read_timeout=settings.datacite_read_timeout,
        )

    def __repr__(self) -> str:
        return f"DataCiteRegistrar({self._api_url!r}, {self._repository_id!r}, {self._prefix!r})"

    @property
    def prefix(self) -> str:
        return self._prefix

    async def put_draft(self, doi: str, attributes: Mapping[str, Any]) -> RegisteredDoi:
        """``PUT`` without an event: creates a draft (201) or updates the DOI's metadata
        (200). A DOI published already stays findable: the answer's state says so."""
        body = {key: value for key, value in attributes.items() if key != "event"}
        return await self._put(doi, body)

    async def publish(self, doi: str, attributes: Mapping[str, Any], url: str) -> RegisteredDoi:
        """``PUT`` with ``event: publish`` and the URL: a draft becomes findable; a findable
        DOI takes the new metadata and stays findable."""
        return await self._put(doi, {**attributes, "url": url, "event": "publish"})

    async def get(self, doi: str) -> RegisteredDoi | None:
        response = await self._send("GET", doi)
        if response.status_code == 404:
            return None
        return self._registered(response, "GET", doi)

    async def delete_draft(self, doi: str) -> None:
        response = await self._send("DELETE", doi)
        if response.status_code in (204, 200, 404):  # 404: gone already
            return
        raise self._failure(response, "DELETE", doi)

    # -- HTTP -----------------------------------------------------------------------------

    async def _put(self, doi: str, attributes: Mapping[str, Any]) -> RegisteredDoi:
        doi = self._own(doi)
        body = {"data": {"type": "dois", "attributes": {**attributes, "doi": doi}}}
        response = await self._send("PUT", doi, body)
        return self._registered(response, "PUT", doi)

    def _own(self, doi: str) -> str:
        normal = normalise_doi(doi)
        if not normal.startswith(self._prefix.lower() + "/"):
            raise PermanentRegistrarError(
                f"{doi} is not under this repository's prefix {self._prefix}"
            )
        return normal

    async def _send(
        self, method: str, doi: str, body: Mapping[str, Any] | None = None
    ) -> httpx.Response:
        doi = self._own(doi)
        url = f"{self._api_url}/dois/{quote(doi, safe='/')}"
        headers = {"Accept": JSON_API}
        if body is not None:
            headers["Content-Type"] = JSON_API
        try:
            async with httpx.AsyncClient(
                timeout=self._timeout, auth=self._auth, verify=self._tls
            ) as client:
                response = await client.request(
                    method, url, params=_FULL_ATTRIBUTES, json=body, headers=headers
                )
        except httpx.TimeoutException as exc:
            log.warning(
                "DataCite did not answer %s %s in time (%s)", method, doi, type(exc).__name__
            )
            raise TransientRegistrarError(
                f"DataCite did not answer {method} {doi} in time"
            ) from exc
        except httpx.TransportError as exc:
            log.warning("DataCite unreachable for %s %s: %s", method, doi, type(exc).__name__)
            raise TransientRegistrarError(
                f"DataCite could not be reached for {method} {doi} ({type(exc).__name__})"
            ) from exc
        log.info("DataCite %s %s: %d", method, doi, response.status_code)
        return response

    def _registered(self, response: httpx.Response, method: str, doi: str) -> RegisteredDoi:
        if response.status_code not in (200, 201):
            raise self._failure(response, method, doi)
        try:
            data = response.json()["data"]
            attributes = dict(data["attributes"])
            return RegisteredDoi(
                doi=str(attributes.get("doi") or data["id"]).lower(),
                state=DoiState(attributes["state"]),
                url=attributes.get("url"),
                attributes=attributes,
            )
        except (ValueError, KeyError, TypeError) as exc:
            # A 200 that is not DataCite's document: a proxy's page, a half answer.
            raise TransientRegistrarError(
                f"DataCite's answer to {method} {doi} was not a DOI document",
                status=response.status_code,
            ) from exc

    def _failure(
        self, response: httpx.Response, method: str, doi: str
    ) -> TransientRegistrarError | PermanentRegistrarError:
        status = response.status_code
        message = f"DataCite answered {method} {doi} with {status}"
        reasons = _titles(response)
        if reasons:
            message += f": {reasons}"
        if status >= 500 or status in _TRANSIENT:
            return TransientRegistrarError(message, status=status)
        # 401/403 credentials, 405 a state that forbids it (deleting a findable DOI), 409,
        # 422 metadata DataCite rejects, any other 4xx, and 3xx (a wrong api_url).
        return PermanentRegistrarError(message, status=status)


def _titles(response: httpx.Response) -> str:
    try:
        errors = response.json().get("errors") or []
        titles = [
            f"{error['source']}: {error['title']}" if error.get("source") else str(error["title"])
            for error in errors
            if isinstance(error, dict) and error.get("title")
        ]
    except (ValueError, AttributeError, TypeError):
        titles = []
    text = "; ".join(titles)
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "…"
