"""The HTTP endpoint of the gateway's own store: ``GET /downloads/{link}``.

A signed, expiring link (``gateway.downloads.links``) names a prepared download; the
files decided at preparation are sent as a zip made while it streams (``zipstream-ng``,
in constant memory, with its exact ``Content-Length``), or, for a download of one file,
as the file itself. Both resume with ``Range``: a zip of the same files is the same bytes
(``gateway.downloads.store``), so the part asked for is cut from the zip made again. The
bytes before it are not sent, but their files are read again: each entry's CRC, written
after its bytes and again in the directory at the end, is known only from its whole
file. ``If-Range`` with the zip's ``ETag`` gives the whole zip if the files changed; a
request for several ranges gets the whole zip too (allowed by RFC 9110), one past the end
416. An altered or expired link is 403, files gone from the store since are 409 naming
them; every error body is JSON with a ``code``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from datetime import datetime

import anyio
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from werkzeug.datastructures import Range
from werkzeug.http import parse_range_header

from gateway.downloads.links import BadLink
from gateway.downloads.store import entry_names
from gateway.errors import DataMissing
from gateway.usecases.downloads import Downloads

PATH = "/downloads/{link}"


def download_route(
    downloads: Downloads, reads: AsyncEngine, clock: Callable[[], datetime]
) -> Route:
    """The route serving the store's links."""

    async def serve(request: Request) -> Response:
        store = downloads.store
        try:
            name, files = await downloads.open_link(reads, request.path_params["link"], clock())
        except BadLink as refused:
            return _error(403, "LINK_REFUSED", f"This download link is refused: {refused}.")
        if store is None or not files:
            return _error(404, "NOT_FOUND", "No such download.")
        try:
            if len(files) == 1:
                path = store.path_of(files[0].location)
                filename = entry_names(files)[files[0].datafile_id].rsplit("/", 1)[-1]
                return FileResponse(path, filename=filename)
            archive, tag = store.zip_of(files)
        except DataMissing as missing:
            return _error(409, missing.code, missing.message)
        size = len(archive)
        headers = {
            "Content-Disposition": f'attachment; filename="{name}.zip"',
            "Accept-Ranges": "bytes",
            "ETag": tag,
        }
        status, start, stop = 200, 0, size
        wanted = _single_range(request, tag)
        if wanted is not None:
            bounds = wanted.range_for_length(size)
            if bounds is None:
                headers["Content-Range"] = f"bytes */{size}"
                return Response(status_code=416, headers=headers)
            status, (start, stop) = 206, bounds
            headers["Content-Range"] = f"bytes {start}-{stop - 1}/{size}"
        headers["Content-Length"] = str(stop - start)
        if request.method == "HEAD":
            return Response(status_code=status, headers=headers, media_type="application/zip")
        return StreamingResponse(
            batches(cut(archive, start, stop)),
            status_code=status,
            media_type="application/zip",
            headers=headers,
        )

    return Route(PATH, serve, methods=["GET", "HEAD"])


def _single_range(request: Request, tag: str) -> Range | None:
    """The one byte range asked for, if it applies to this zip (no ``If-Range``, or
    ``If-Range`` with its tag); None for the whole zip."""
    if_range = request.headers.get("if-range")
    if if_range is not None and if_range != tag:
        return None
    wanted = parse_range_header(request.headers.get("range"))
    if wanted is None or len(wanted.ranges) != 1:
        return None
    return wanted


def cut(pieces: Iterable[bytes], start: int, stop: int) -> Iterator[bytes]:
    """The bytes ``start`` to ``stop`` (excluded) of a stream of pieces."""
    position = 0
    for piece in pieces:
        following = position + len(piece)
        if following > start:
            yield piece[max(start - position, 0) : stop - position]
        position = following
        if position >= stop:
            return


BATCH_BYTES = 1024 * 1024
"""Bytes of the zip read per hop to a worker thread (zipstream-ng yields 64 KiB pieces:
one hop each cost more than the reading)."""


async def batches(archive: Iterable[bytes]) -> AsyncIterator[bytes]:
    """The zip's bytes, read from the files in a worker thread about a MiB at a time (the
    reads block; the event loop must not)."""
    pieces = iter(archive)

    def next_batch() -> bytes:
        batch: list[bytes] = []
        size = 0
        for piece in pieces:
            batch.append(piece)
            size += len(piece)
            if size >= BATCH_BYTES:
                break
        return b"".join(batch)

    while batch := await anyio.to_thread.run_sync(next_batch):
        yield batch


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"code": code, "message": message}, status_code=status)
