"""A fake ICAT Data Service for the use cases' tests: in memory, with faults on demand.
The real client is tested against the loopback stand-in (``tests/support/ids_server.py``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from gateway.errors import GatewayError


@dataclass
class FakeDataService:
    """Prepares anything; ``sizes`` gives each dataset's and file's bytes."""

    base_url: str = "https://ids.example.org/ids"
    sizes: dict[int, int] = field(default_factory=dict)
    prepared: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = field(default_factory=dict)
    restoring: set[str] = field(default_factory=set)
    on_tape: bool = False
    """Every prepared id is being restored (``is_prepared`` false) while set."""
    failure: GatewayError | None = None
    """Raised by the next call, then forgotten."""

    def _fail(self) -> None:
        failure, self.failure = self.failure, None
        if failure is not None:
            raise failure

    async def prepare(self, dataset_ids: Sequence[int], datafile_ids: Sequence[int]) -> str:
        self._fail()
        prepared_id = f"prepared-{len(self.prepared) + 1}"
        self.prepared[prepared_id] = (tuple(dataset_ids), tuple(datafile_ids))
        return prepared_id

    async def is_prepared(self, prepared_id: str) -> bool:
        self._fail()
        return not self.on_tape and prepared_id not in self.restoring

    async def size(self, dataset_ids: Sequence[int], datafile_ids: Sequence[int]) -> int:
        self._fail()
        return sum(self.sizes.get(i, 0) for i in (*dataset_ids, *datafile_ids))

    async def status(self, dataset_ids: Sequence[int], datafile_ids: Sequence[int]) -> str:
        self._fail()
        return "ONLINE"

    def data_url(self, prepared_id: str, outname: str) -> str:
        return f"{self.base_url}/getData?preparedId={prepared_id}&outname={outname}"
