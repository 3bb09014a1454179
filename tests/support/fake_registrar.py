"""An in-memory registrar for unit tests of the DOI saga: DataCite's rules
(gateway.doi.lifecycle), no I/O, and faults on demand.

:meth:`FakeRegistrar.fail` makes the next calls of an operation raise a registrar error,
before or after the change is applied ("DataCite published it, the answer was lost");
:meth:`FakeRegistrar.hold` makes them wait until the test lets them go, so a test can
line up concurrent calls without sleeping. ``calls`` records every call and ``created``
counts the DOIs made, so a test can assert that a retry made no second one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from gateway.doi.lifecycle import after_put, check_deletable, own_doi
from gateway.doi.registrar import RegisteredDoi, RegistrarError

Operation = Literal["put_draft", "publish", "get", "delete_draft"]
T = TypeVar("T")


@dataclass
class Hold:
    """Calls held until :meth:`release`; ``entered`` is set once one is waiting."""

    entered: asyncio.Event = field(default_factory=asyncio.Event)
    released: asyncio.Event = field(default_factory=asyncio.Event)

    def release(self) -> None:
        self.released.set()


@dataclass
class _Fault:
    operation: Operation
    doi: str | None
    times: int
    error: RegistrarError | None = None
    hold: Hold | None = None
    after_applying: bool = False


class FakeRegistrar:
    """A registrar holding its DOIs in a dict."""

    def __init__(self, prefix: str = "10.80001", *, registers: bool = True) -> None:
        self._prefix = prefix
        self.registers = registers
        self.dois: dict[str, RegisteredDoi] = {}
        self.calls: list[tuple[Operation, str]] = []
        self.created = 0
        self._faults: list[_Fault] = []

    @property
    def prefix(self) -> str:
        return self._prefix

    # -- faults -------------------------------------------------------------------------

    def fail(
        self,
        operation: Operation,
        error: RegistrarError,
        *,
        doi: str | None = None,
        times: int = 1,
        after_applying: bool = False,
    ) -> None:
        """Raise ``error`` from the next ``times`` calls of ``operation`` (on ``doi``)."""
        self._faults.append(
            _Fault(operation, doi and doi.lower(), times, error, None, after_applying)
        )

    def hold(self, operation: Operation, *, doi: str | None = None, times: int = 1) -> Hold:
        """Make the next ``times`` calls of ``operation`` wait for ``Hold.release``
        before they act."""
        hold = Hold()
        self._faults.append(_Fault(operation, doi and doi.lower(), times, None, hold))
        return hold

    # -- the registrar ------------------------------------------------------------------

    async def put_draft(self, doi: str, attributes: Mapping[str, Any]) -> RegisteredDoi:
        return await self._put("put_draft", doi, attributes, None, None)

    async def publish(self, doi: str, attributes: Mapping[str, Any], url: str) -> RegisteredDoi:
        return await self._put("publish", doi, attributes, "publish", url)

    async def get(self, doi: str) -> RegisteredDoi | None:
        doi = await self._enter("get", doi)
        return self._leave("get", doi, self.dois.get(doi))

    async def delete_draft(self, doi: str) -> None:
        doi = await self._enter("delete_draft", doi)
        held = self.dois.get(doi)
        if held is not None:
            check_deletable(held)
            del self.dois[doi]
        self._leave("delete_draft", doi, None)

    # -- plumbing -----------------------------------------------------------------------

    async def _put(
        self,
        operation: Operation,
        doi: str,
        attributes: Mapping[str, Any],
        event: str | None,
        url: str | None,
    ) -> RegisteredDoi:
        doi = await self._enter(operation, doi)
        held = self.dois.get(doi)
        result = after_put(held, doi, attributes, event=event, url=url)
        self.dois[doi] = result
        if held is None:
            self.created += 1
        return self._leave(operation, doi, result)

    async def _enter(self, operation: Operation, doi: str) -> str:
        self.calls.append((operation, doi))
        doi = own_doi(self._prefix, doi)
        fault = self._fault(operation, doi, after_applying=False)
        if fault is not None and fault.hold is not None:
            fault.hold.entered.set()
            await fault.hold.released.wait()
        elif fault is not None and fault.error is not None:
            raise fault.error
        return doi

    def _leave(self, operation: Operation, doi: str, result: T) -> T:
        fault = self._fault(operation, doi, after_applying=True)
        if fault is not None and fault.error is not None:
            raise fault.error
        return result

    def _fault(self, operation: Operation, doi: str, *, after_applying: bool) -> _Fault | None:
        for fault in self._faults:
            if (
                fault.operation == operation
                and fault.doi in (None, doi)
                and fault.times > 0
                and fault.after_applying == after_applying
            ):
                fault.times -= 1
                return fault
        return None
