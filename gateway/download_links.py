"""The HTTP endpoint of the gateway's own store: ``GET /downloads/{link}``.

A signed, expiring link (``gateway.downloads.links``) names a prepared download; the
files decided at preparation are sent as a zip made while it streams (``zipstream-ng``,
in constant memory, with its exact ``Content-Length``), or, for a download of one file,
as the file itself, which ``Range`` resumes. An altered or expired link is 403, files gone
from the store since are 409 naming them; every error body is JSON with a ``code``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable
from datetime import datetime

import anyio
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route

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
            archive = store.zip_of(files)
        except DataMissing as missing:
            return _error(409, missing.code, missing.message)
        headers = {
            "Content-Disposition": f'attachment; filename="{name}.zip"',
            "Content-Length": str(len(archive)),
        }
        if request.method == "HEAD":
            return Response(headers=headers, media_type="application/zip")
        return StreamingResponse(batches(archive), media_type="application/zip", headers=headers)

    return Route(PATH, serve, methods=["GET", "HEAD"])


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
