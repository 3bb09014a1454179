"""A DataCite stand-in on loopback speaking its REST API (``/dois``), as lupo answers it.

- JSON:API bodies ``{"data": {"type": "dois", "attributes": {...}}}`` in and out,
  ``application/vnd.api+json``; errors as ``{"errors": [{"status", "title", "source"}]}``.
- Basic auth with the repository id and password: 401 on bad credentials; a GET without
  credentials sees findable and registered DOIs only (a draft is 404 to the public).
- ``PUT /dois/{doi}`` creates (201) or updates (200), merging the attributes it is given
  into those it holds (an attribute left out keeps its value). ``event`` moves the state:
  ``publish`` (draft or registered → findable), ``register`` (draft → registered),
  ``hide`` (findable → registered); an event the state does not allow changes nothing, as
  lupo's state machine (``whiny_transitions: false``) does.
- Metadata is validated with the ``datacite`` package's kernel-4.5 schema when a DOI
  leaves the draft state, and a registered or findable DOI needs a URL: 422 otherwise.
  Drafts may be incomplete, as in DataCite. A DOI outside the account's prefix is 422.
- ``GET /dois/{doi}`` 200/404; ``DELETE /dois/{doi}`` 204 for a draft, 405 for the others,
  404 for none.
- Attributes come back as DataCite gives them: ``publisher`` as its name and
  ``affiliation`` as names, unless asked for with ``?publisher=true`` / ``?affiliation=true``.

Faults for the tests: :meth:`fail` answers a status, :meth:`hang` holds the answer until
:meth:`release` (or ``stop``), each for the next N calls of a method (and DOI), before
or after the change is applied: "DataCite created the draft, then the answer was lost".
``calls(method, doi)`` and ``created`` count what happened, so a test can assert that no
second DOI was made.
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from datacite import schema45

from tests.support.loopback import LoopbackServer, Reply, Request

DOIS = "/dois/"
JSON_API = "application/vnd.api+json; charset=utf-8"
TEST_PREFIX = "10.80001"
"""The stand-in's prefix; like a facility's DataCite test account, not 10.5072."""

_EVENTS: dict[str, dict[str, str]] = {
    "publish": {"draft": "findable", "registered": "findable"},
    "register": {"draft": "registered"},
    "hide": {"findable": "registered"},
}
"""For each event, the states it leaves and where to."""


@dataclass
class StoredDoi:
    """A DOI as the stand-in holds it."""

    doi: str
    state: str
    attributes: dict[str, Any]
    created: str
    updated: str


@dataclass
class Fault:
    """What to do instead of, or after, answering."""

    method: str
    doi: str | None
    times: int
    status: int | None = None
    hang: bool = False
    after_applying: bool = False
    seen: int = 0
    released: threading.Event = field(default_factory=threading.Event)


class DataCiteServer(LoopbackServer):
    """The DataCite stand-in; ``base_url`` is the registrar's ``api_url``."""

    def __init__(
        self,
        *,
        prefix: str = TEST_PREFIX,
        repository_id: str = "ESRF.TEST",
        password: str = "s3cret-passw0rd",
        hang_limit_seconds: float = 30.0,
    ) -> None:
        super().__init__()
        self.prefix = prefix
        self.repository_id = repository_id
        self.password = password
        self.hang_limit_seconds = hang_limit_seconds
        self._store_lock = threading.Lock()
        self._dois: dict[str, StoredDoi] = {}
        self._faults: list[Fault] = []
        self._calls: Counter[tuple[str, str]] = Counter()
        self.created = 0
        """How many DOIs were created (a PUT that answered 201, or would have)."""

    # -- state, for the tests -----------------------------------------------------------

    def doi(self, doi: str) -> StoredDoi | None:
        """The DOI as held, None if there is none."""
        with self._store_lock:
            return self._dois.get(doi.lower())

    def dois(self) -> dict[str, str]:
        """Every DOI held and its state."""
        with self._store_lock:
            return {doi: stored.state for doi, stored in self._dois.items()}

    def calls(self, method: str, doi: str) -> int:
        """How many requests of ``method`` named ``doi`` (faulty ones included)."""
        with self._store_lock:
            return self._calls[(method, doi.lower())]

    def seed(self, doi: str, state: str, attributes: dict[str, Any] | None = None) -> None:
        """Hold ``doi`` in ``state`` already (made by someone else, or earlier)."""
        now = _now()
        with self._store_lock:
            self._dois[doi.lower()] = StoredDoi(
                doi.lower(), state, {"doi": doi.lower(), **(attributes or {})}, now, now
            )

    # -- faults -------------------------------------------------------------------------

    def fail(
        self,
        method: str,
        status: int = 500,
        *,
        doi: str | None = None,
        times: int = 1,
        after_applying: bool = False,
    ) -> Fault:
        """Answer ``status`` to the next ``times`` requests of ``method`` (for ``doi`` only
        when given); with ``after_applying`` the change is made first and its answer
        replaced (the client cannot know it worked)."""
        fault = Fault(method, doi and doi.lower(), times, status, False, after_applying)
        with self._store_lock:
            self._faults.append(fault)
        return fault

    def hang(
        self,
        method: str,
        *,
        doi: str | None = None,
        times: int = 1,
        after_applying: bool = False,
    ) -> Fault:
        """Hold the answer to the next ``times`` requests of ``method`` until
        :meth:`release`, ``stop`` or ``hang_limit_seconds``: longer than the client's
        read timeout, so the client gives up first."""
        fault = Fault(method, doi and doi.lower(), times, None, True, after_applying)
        with self._store_lock:
            self._faults.append(fault)
        return fault

    def release(self) -> None:
        """Let every held answer go (later hangs hold again)."""
        with self._store_lock:
            faults = [fault for fault in self._faults if fault.hang]
        for fault in faults:
            fault.released.set()

    def clear_faults(self) -> None:
        """Answer normally from now on (held answers go)."""
        self.release()
        with self._store_lock:
            self._faults.clear()

    def stop(self) -> None:
        self.release()
        super().stop()

    # -- HTTP ---------------------------------------------------------------------------

    def handle(self, request: Request) -> Reply:
        if not request.path.startswith(DOIS):
            return _errors(404, "The resource you are looking for doesn't exist.")
        doi = request.path.removeprefix(DOIS).lower()
        with self._store_lock:
            self._calls[(request.method, doi)] += 1
            fault = self._next_fault(request.method, doi)
        if fault is not None and not fault.after_applying:
            return self._fault_reply(fault)
        reply = self._answer(request, doi)
        if fault is not None:
            return self._fault_reply(fault, reply)
        return reply

    def _next_fault(self, method: str, doi: str) -> Fault | None:
        for fault in self._faults:
            if fault.method == method and fault.doi in (None, doi) and fault.times > 0:
                fault.times -= 1
                fault.seen += 1
                return fault
        return None

    def _fault_reply(self, fault: Fault, reply: Reply | None = None) -> Reply:
        if fault.hang:
            fault.released.wait(self.hang_limit_seconds)
            return reply or _errors(503, "The service is temporarily unavailable.")
        assert fault.status is not None
        return _errors(fault.status, "Simulated failure.")

    def _answer(self, request: Request, doi: str) -> Reply:
        authenticated = self._authenticated(request)
        if authenticated is False or (authenticated is None and request.method != "GET"):
            return _errors(401, "Bad credentials.")
        if request.method == "GET":
            return self._get(request, doi, public=authenticated is None)
        if request.method == "PUT":
            return self._put(request, doi)
        if request.method == "DELETE":
            return self._delete(doi)
        return _errors(405, "Method not allowed")

    def _authenticated(self, request: Request) -> bool | None:
        """None without credentials, else whether they are the account's."""
        header = request.headers.get("authorization")
        if header is None:
            return None
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        return user.upper() == self.repository_id.upper() and password == self.password

    def _get(self, request: Request, doi: str, *, public: bool) -> Reply:
        with self._store_lock:
            stored = self._dois.get(doi)
            if stored is None or (public and stored.state == "draft"):
                return _errors(404, "The resource you are looking for doesn't exist.")
            return _document(stored, request, 200)

    def _delete(self, doi: str) -> Reply:
        with self._store_lock:
            stored = self._dois.get(doi)
            if stored is None:
                return _errors(404, "The resource you are looking for doesn't exist.")
            if stored.state != "draft":
                return _errors(405, "Method not allowed")
            del self._dois[doi]
        return Reply(204, None)

    def _put(self, request: Request, doi: str) -> Reply:
        try:
            body = json.loads(request.body)
            attributes = dict(body["data"]["attributes"])
        except (ValueError, KeyError, TypeError):
            return _errors(400, "You need to provide a payload following the JSONAPI spec")
        if not doi.startswith(self.prefix + "/"):
            return _errors(
                422, f"Prefix {doi.partition('/')[0]} is not assigned to this repository", "doi"
            )
        event = attributes.pop("event", None)
        if event is not None and event not in _EVENTS:
            return _errors(422, f"Event {event} is not allowed", "event")
        with self._store_lock:
            stored = self._dois.get(doi)
            state = "draft" if stored is None else stored.state
            merged = {**(stored.attributes if stored else {}), **attributes, "doi": doi}
            new_state = _EVENTS[event].get(state, state) if event else state
            if new_state != "draft":
                problems = _problems(merged)
                if problems:
                    return Reply(422, {"errors": problems}, {"Content-Type": JSON_API})
            now = _now()
            if stored is None:
                stored = StoredDoi(doi, new_state, merged, now, now)
                self._dois[doi] = stored
                self.created += 1
                status = 201
            else:
                stored.attributes, stored.state, stored.updated = merged, new_state, now
                status = 200
            return _document(stored, request, status)


def _problems(attributes: dict[str, Any]) -> list[dict[str, str]]:
    problems = [
        {
            "status": "422",
            "source": "/".join(str(p) for p in error.absolute_path) or "metadata",
            "title": error.message,
        }
        for error in schema45.validator.iter_errors(attributes)
    ]
    if not attributes.get("url"):
        problems.append({"status": "422", "source": "url", "title": "Url can't be blank"})
    return problems


def _document(stored: StoredDoi, request: Request, status: int) -> Reply:
    attributes = json.loads(json.dumps(stored.attributes))
    prefix, _, suffix = stored.doi.partition("/")
    if request.query.get("publisher") != ["true"] and isinstance(attributes.get("publisher"), dict):
        attributes["publisher"] = attributes["publisher"].get("name")
    if request.query.get("affiliation") != ["true"]:
        for person in [*attributes.get("creators", []), *attributes.get("contributors", [])]:
            person["affiliation"] = [a.get("name") for a in person.get("affiliation", [])]
    attributes |= {
        "doi": stored.doi,
        "prefix": prefix,
        "suffix": suffix,
        "state": stored.state,
        "url": stored.attributes.get("url"),
        "isActive": stored.state == "findable",
        "created": stored.created,
        "updated": stored.updated,
    }
    data = {"id": stored.doi, "type": "dois", "attributes": attributes, "relationships": {}}
    return Reply(status, {"data": data}, {"Content-Type": JSON_API})


def _errors(status: int, title: str, source: str | None = None) -> Reply:
    error: dict[str, str] = {"status": str(status), "title": title}
    if source is not None:
        error["source"] = source
    return Reply(status, {"errors": [error]}, {"Content-Type": JSON_API})


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
