"""An ICAT Data Service stand-in on loopback, speaking ids.server's REST protocol
(``IdsService``, base ``/ids/``) as far as downloads use it.

- ``POST prepareData`` (form-encoded ``sessionId``, ``investigationIds``, ``datasetIds``,
  ``datafileIds`` comma-separated, ``zip``, ``compress``): a plain-text prepared id (a
  UUID). Every id is checked with the session's rights (``readable``), as IDS asks ICAT.
- ``GET isPrepared?preparedId=``: ``true``/``false``; data "on tape" (``archived``) are
  restored by the first ask, ready from the second, as two-level storage does.
- ``GET getStatus`` and ``GET getSize`` (``sessionId`` and ids): ``ONLINE``/``RESTORING``/
  ``ARCHIVED``, and the files' bytes.
- ``GET getData?preparedId=&outname=``: the zip with ``Content-Disposition: attachment;
  filename="<outname>.zip"``; ``Range: bytes=N-`` resumes (206, ``Content-Range``); not
  checked against ICAT again. 503 ``DataNotOnlineException`` while restoring.
- Errors are JSON ``{"code", "message"}``: 400 ``BadRequestException``, 403
  ``InsufficientPrivilegesException``, 404 ``NotFoundException``, 503
  ``DataNotOnlineException``. ``fail_next(status, code)`` answers one for the next calls.
"""

from __future__ import annotations

import io
import re
import threading
import uuid
import zipfile
from dataclasses import dataclass, field
from urllib.parse import parse_qs

from tests.support.icat_server import ICATServer
from tests.support.loopback import LoopbackServer, Reply, Request

READER_SESSION = "reader-session-0001"

_RANGE = re.compile(r"bytes=(\d+)-")
_ZIP_TIME = (2024, 1, 1, 0, 0, 0)


@dataclass
class StoredFile:
    datafile_id: int
    dataset_id: int
    name: str
    content: bytes


@dataclass
class Prepared:
    files: list[StoredFile]
    asks: int = 0


@dataclass
class Fault:
    status: int
    code: str
    times: int


@dataclass
class IDSServer(LoopbackServer):
    """The stand-in. ``add_file`` fills it; ``sessions`` maps a session id to the ids it
    may read (None: everything, as a reader account)."""

    files: dict[int, StoredFile] = field(default_factory=dict)
    sessions: dict[str, set[int] | None] = field(default_factory=dict)
    archived: set[int] = field(default_factory=set)
    """Datasets on tape only: prepared ones are ready from the second ``isPrepared``."""
    prepared: dict[str, Prepared] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)
    icat: ICATServer | None = None
    """Where sessions not in ``sessions`` are checked (read everything), as IDS asks ICAT."""

    def __post_init__(self) -> None:
        super().__init__()
        self.sessions.setdefault(READER_SESSION, None)
        self._state = threading.Lock()

    @property
    def ids_url(self) -> str:
        return self.base_url + "/ids"

    def add_file(self, datafile_id: int, dataset_id: int, name: str, content: bytes) -> None:
        self.files[datafile_id] = StoredFile(datafile_id, dataset_id, name, content)

    def fail_next(self, status: int, code: str, times: int = 1) -> None:
        """Answer the next ``times`` calls with this IDS error."""
        with self._state:
            self.faults.append(Fault(status, code, times))

    # -- protocol ------------------------------------------------------------------------

    def handle(self, request: Request) -> Reply:
        with self._state:
            fault = self.faults[0] if self.faults else None
            if fault is not None:
                fault.times -= 1
                if fault.times <= 0:
                    self.faults.pop(0)
        if fault is not None:
            return _error(fault.status, fault.code, "simulated")
        if not request.path.startswith("/ids/"):
            return _error(404, "NotFoundException", "no such call")
        call = request.path.removeprefix("/ids/")
        params = {k: v[-1] for k, v in request.query.items()}
        if request.method == "POST":
            if not request.headers.get("content-type", "").startswith(
                "application/x-www-form-urlencoded"
            ):
                return _error(400, "BadRequestException", "form-encoded body expected")
            params = {k: v[-1] for k, v in parse_qs(request.body.decode()).items()}
        try:
            if request.method == "POST" and call == "prepareData":
                return self._prepare(params)
            if request.method == "GET" and call == "isPrepared":
                return self._is_prepared(params)
            if request.method == "GET" and call == "getStatus":
                files = self._selected(params)
                archived = {f.dataset_id for f in files} & self.archived
                return _text("ARCHIVED" if archived else "ONLINE")
            if request.method == "GET" and call == "getSize":
                return _text(str(sum(len(f.content) for f in self._selected(params))))
            if request.method == "GET" and call == "getData":
                return self._data(params, request.headers.get("range"))
            if request.method == "GET" and call == "ping":
                return _text("IdsOK")
        except _IdsError as error:
            return _error(error.status, error.code, error.message)
        return _error(404, "NotFoundException", f"no call {call}")

    def _selected(self, params: dict[str, str]) -> list[StoredFile]:
        session = params.get("sessionId")
        if session is not None and self.icat is not None and self.icat.knows(session):
            self.sessions.setdefault(session, None)
        elif session is not None and self.icat is not None:
            self.sessions.pop(session, None)  # logged out or timed out in ICAT
        if session is None or session not in self.sessions:
            raise _IdsError(403, "InsufficientPrivilegesException", "session not valid")
        try:
            datasets = _ids(params.get("datasetIds"))
            datafiles = _ids(params.get("datafileIds"))
        except ValueError:
            raise _IdsError(400, "BadRequestException", "ids are comma-separated numbers") from None
        if params.get("investigationIds"):
            raise _IdsError(400, "BadRequestException", "the stand-in holds no investigations")
        if not datasets and not datafiles:
            raise _IdsError(400, "BadRequestException", "no ids given")
        known_datasets = {f.dataset_id for f in self.files.values()}
        for dataset in datasets:
            if dataset not in known_datasets:
                raise _IdsError(404, "NotFoundException", f"Dataset {dataset} not found")
        for datafile in datafiles:
            if datafile not in self.files:
                raise _IdsError(404, "NotFoundException", f"Datafile {datafile} not found")
        readable = self.sessions[session]
        if readable is not None and not (set(datasets) | set(datafiles)) <= readable:
            raise _IdsError(403, "InsufficientPrivilegesException", "not allowed to read")
        return [
            f
            for f in sorted(self.files.values(), key=lambda f: f.datafile_id)
            if f.dataset_id in datasets or f.datafile_id in datafiles
        ]

    def _prepare(self, params: dict[str, str]) -> Reply:
        files = self._selected(params)
        prepared_id = str(uuid.uuid4())
        with self._state:
            self.prepared[prepared_id] = Prepared(files)
        return _text(prepared_id)

    def _lookup(self, params: dict[str, str]) -> Prepared:
        prepared_id = params.get("preparedId")
        if not prepared_id:
            raise _IdsError(400, "BadRequestException", "preparedId missing")
        with self._state:
            prepared = self.prepared.get(prepared_id)
        if prepared is None:
            raise _IdsError(404, "NotFoundException", "The preparedId is not known")
        return prepared

    def _ready(self, prepared: Prepared) -> bool:
        on_tape = any(f.dataset_id in self.archived for f in prepared.files)
        return not on_tape or prepared.asks > 1

    def _is_prepared(self, params: dict[str, str]) -> Reply:
        prepared = self._lookup(params)
        with self._state:
            prepared.asks += 1
        return _text("true" if self._ready(prepared) else "false")

    def _data(self, params: dict[str, str], range_header: str | None) -> Reply:
        prepared = self._lookup(params)
        if not self._ready(prepared):
            raise _IdsError(503, "DataNotOnlineException", "restoration requested")
        outname = params.get("outname") or "ids"
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
            for file in prepared.files:
                # The same bytes at every request, as a resumed (Range) download needs: a
                # fixed time, not the clock's (writestr by name stamps the current second).
                entry = zipfile.ZipInfo(f"ids/{file.dataset_id}/{file.name}", _ZIP_TIME)
                archive.writestr(entry, file.content)
        payload = buffer.getvalue()
        headers = {
            "Content-Type": "application/zip",
            "Content-Disposition": f'attachment; filename="{outname}.zip"',
            "Accept-Ranges": "bytes",
        }
        if range_header is None:
            return Reply(200, payload, headers)
        match = _RANGE.fullmatch(range_header)
        if match is None:
            raise _IdsError(400, "BadRequestException", "The range must match bytes=(\\d+)-")
        offset = int(match.group(1))
        headers["Content-Range"] = f"bytes {offset}-{len(payload) - 1}/{len(payload)}"
        return Reply(206, payload[offset:], headers)


class _IdsError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _ids(raw: str | None) -> list[int]:
    return [int(part) for part in (raw or "").split(",") if part.strip()]


def _text(body: str) -> Reply:
    return Reply(200, body.encode(), {"Content-Type": "text/plain"})


def _error(status: int, code: str, message: str) -> Reply:
    return Reply(status, {"code": code, "message": message})
