"""The ICAT Data Service (ids.server's ``IdsService``) as the gateway uses it.

The gateway decides who may download (its own policy, in SQL), then prepares with a
reader session and hands out IDS's ``getData?preparedId=`` link, as TopCAT's DOI plugin
does: ``getData`` by prepared id does not check ICAT again, so the link can be handed on.

A small async client over httpx rather than python-icat's ``IDSClient``: that one is
synchronous (urllib), so every call would hold a thread of the server, and the gateway
never streams the data through itself (it hands out the link), which leaves five short
calls. IDS's errors are JSON ``{"code", "message"}``; they map onto the gateway's codes
here, in one place.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlencode

import httpx

from gateway.downloads.reader import ReaderSession
from gateway.errors import DataMissing, GatewayError, UpstreamRefused, UpstreamUnavailable

STATUSES = ("ONLINE", "RESTORING", "ARCHIVED")
"""What ``getStatus`` answers: on disk, coming back from tape, on tape only."""


class DataService(Protocol):
    """The calls of the ICAT Data Service the downloads need."""

    async def prepare(self, dataset_ids: Sequence[int], datafile_ids: Sequence[int]) -> str:
        """Prepare a zip of these datasets and files; IDS's prepared id."""
        ...

    async def is_prepared(self, prepared_id: str) -> bool:
        """Whether the prepared data can be fetched now (on tape storage, asking starts
        the restore)."""
        ...

    async def size(self, dataset_ids: Sequence[int], datafile_ids: Sequence[int]) -> int:
        """Bytes of the files (before zipping)."""
        ...

    async def status(self, dataset_ids: Sequence[int], datafile_ids: Sequence[int]) -> str:
        """``ONLINE``, ``RESTORING`` or ``ARCHIVED``."""
        ...

    def data_url(self, prepared_id: str, outname: str) -> str:
        """The link that fetches the prepared data as ``<outname>.zip``."""
        ...


def ids_error(status: int, body: bytes) -> GatewayError:
    """The gateway's error for an answer of IDS that is not a success.

    503 (``DataNotOnlineException`` and outages), other 5xx and anything unparseable
    that is not 4xx: ``UPSTREAM_UNAVAILABLE``, worth retrying. 404 (``NotFoundException``):
    ``DATA_MISSING``. 400 and 403 (``BadRequestException``,
    ``InsufficientPrivilegesException``: the reader account lacks a right) and other 4xx:
    ``UPSTREAM_REFUSED``, which a retry does not change.
    """
    code, message = _code_and_message(body)
    said = f"{code}: {message}" if code else f"HTTP {status}"
    if status == 404:
        return DataMissing(f"The data service does not hold the data ({said}).", upstream=code)
    if 400 <= status < 500:
        return UpstreamRefused(f"The data service refused ({said}).", upstream=code)
    return UpstreamUnavailable(f"The data service is unavailable ({said}).", upstream=code)


def _code_and_message(body: bytes) -> tuple[str | None, str]:
    try:
        parsed = json.loads(body)
    except ValueError:
        return None, ""
    if not isinstance(parsed, dict):
        return None, ""
    code = parsed.get("code")
    message = parsed.get("message")
    return (
        str(code)[:80] if code is not None else None,
        str(message)[:200] if message is not None else "",
    )


@dataclass(frozen=True)
class HttpDataService:
    """IDS over HTTP at ``base_url`` (``https://host/ids``), with a reader session; a
    session IDS refuses (403: timed out) is renewed once where it can be (a login)."""

    base_url: str
    reader: ReaderSession
    http: httpx.AsyncClient

    def _url(self, call: str) -> str:
        return f"{self.base_url.rstrip('/')}/{call}"

    async def _call(self, method: str, call: str, **data: str) -> str:
        try:
            if method == "POST":
                response = await self.http.post(self._url(call), data=data)
            else:
                response = await self.http.get(self._url(call), params=data)
        except httpx.HTTPError as error:
            raise UpstreamUnavailable(
                f"The data service did not answer ({type(error).__name__})."
            ) from error
        if response.status_code != 200:
            raise ids_error(response.status_code, response.content)
        return response.text.strip()

    @staticmethod
    def _selection(dataset_ids: Sequence[int], datafile_ids: Sequence[int]) -> dict[str, str]:
        """The ids, as IDS takes them (comma-separated)."""
        selection = {}
        if dataset_ids:
            selection["datasetIds"] = ",".join(str(i) for i in dataset_ids)
        if datafile_ids:
            selection["datafileIds"] = ",".join(str(i) for i in datafile_ids)
        return selection

    async def _as_reader(self, method: str, call: str, **data: str) -> str:
        """A call with the reader's session, renewed once if IDS refuses it."""
        session = await self.reader.current()
        try:
            return await self._call(method, call, sessionId=session, **data)
        except UpstreamRefused as refused:
            if refused.extensions.get("upstream") != "InsufficientPrivilegesException":
                raise
            renewed = await self.reader.renew(session)
            if renewed is None or renewed == session:
                raise
            return await self._call(method, call, sessionId=renewed, **data)

    async def prepare(self, dataset_ids: Sequence[int], datafile_ids: Sequence[int]) -> str:
        form = {**self._selection(dataset_ids, datafile_ids), "zip": "true", "compress": "false"}
        prepared = await self._as_reader("POST", "prepareData", **form)
        if not prepared or len(prepared) > 64 or not prepared.replace("-", "").isalnum():
            raise UpstreamUnavailable("The data service answered no prepared id.")
        return prepared

    async def is_prepared(self, prepared_id: str) -> bool:
        answer = await self._call("GET", "isPrepared", preparedId=prepared_id)
        return answer.lower() == "true"

    async def size(self, dataset_ids: Sequence[int], datafile_ids: Sequence[int]) -> int:
        answer = await self._as_reader(
            "GET", "getSize", **self._selection(dataset_ids, datafile_ids)
        )
        try:
            return int(answer)
        except ValueError as error:
            raise UpstreamUnavailable("The data service answered no size.") from error

    async def status(self, dataset_ids: Sequence[int], datafile_ids: Sequence[int]) -> str:
        answer = await self._as_reader(
            "GET", "getStatus", **self._selection(dataset_ids, datafile_ids)
        )
        if answer not in STATUSES:
            raise UpstreamUnavailable("The data service answered no status.")
        return answer

    def data_url(self, prepared_id: str, outname: str) -> str:
        return (
            self._url("getData") + "?" + urlencode({"preparedId": prepared_id, "outname": outname})
        )
