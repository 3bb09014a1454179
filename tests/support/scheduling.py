"""How the suite's two xdist workers share the work.

A unit of work is one test file on one database (``--dist loadfile`` would send a file
with all three databases to one worker). The units go out database by database, SQLite's
first, because the demo catalogue is a session fixture of the database: a worker that
goes from one database to another and back seeds it again. Within a database the units go
out longest first (``tests/durations.json``, seconds a unit took in a measured run;
a unit not in it counts a second a test), so that the last to finish is a short one.

Rewrite the durations from a run's JUnit report::

    .venv/bin/python -m pytest -n 2 --dist loadfile --junitxml=/tmp/run.xml
    .venv/bin/python -m tests.support.scheduling /tmp/run.xml
"""

from __future__ import annotations

import json
import sys
import xml.etree.ElementTree as ElementTree
from collections import OrderedDict, defaultdict
from pathlib import Path
from typing import Any

from xdist.scheduler import LoadScopeScheduling

BACKENDS = ("sqlite", "postgresql", "mariadb")
DURATIONS = Path(__file__).parent.parent / "durations.json"


def unit_of(nodeid: str) -> str:
    """``tests/x/test_y.py::test_z[postgresql-esrf/pi1]`` -> ``tests/x/test_y.py::postgresql``;
    a test of no database is a unit of its file alone."""
    path = nodeid.split("::", 1)[0]
    parameters = nodeid.partition("[")[2].removesuffix("]").split("-")
    backend = next((name for name in BACKENDS if name in parameters), None)
    return f"{path}::{backend}" if backend else path


def _backend_rank(unit: str) -> int:
    backend = unit.rpartition("::")[2]
    return BACKENDS.index(backend) if backend in BACKENDS else -1


class _UnitQueue(OrderedDict[str, dict[str, bool]]):
    """xdist's work queue, which hands out the unit first in our order, whatever order
    the units were put in (xdist pops the first with ``popitem(last=False)``)."""

    def __init__(self, durations: dict[str, float]) -> None:
        super().__init__()
        self.durations = durations

    def _order(self, unit: str) -> tuple[int, float]:
        weight = self.durations.get(unit, float(len(self[unit])))
        return _backend_rank(unit), -weight

    def popitem(self, last: bool = True) -> tuple[str, dict[str, bool]]:
        unit = min(self, key=self._order)
        return unit, self.pop(unit)


class DatabaseUnitScheduling(LoadScopeScheduling):
    """xdist's scope scheduling with :func:`unit_of` as the scope and the order above."""

    def __init__(self, config: Any, log: Any = None) -> None:
        super().__init__(config, log)
        durations = json.loads(DURATIONS.read_text()) if DURATIONS.exists() else {}
        self.workqueue = _UnitQueue(durations)

    def _split_scope(self, nodeid: str) -> str:
        return unit_of(nodeid)


def durations_from_junit(report: Path) -> dict[str, float]:
    """Seconds per unit: the sum of its tests' times (setup and teardown included)."""
    seconds: dict[str, float] = defaultdict(float)
    for case in ElementTree.parse(report).iter("testcase"):
        module = case.get("classname", "").split(".")
        name = case.get("name", "")
        # classname "tests.e2e.test_x" (or "tests.e2e.test_x.Class") -> its file
        for end in range(len(module), 0, -1):
            path = Path(*module[:end]).with_suffix(".py")
            if path.exists():
                break
        seconds[unit_of(f"{path}::{name}")] += float(case.get("time", 0))
    return {unit: round(value, 1) for unit, value in sorted(seconds.items())}


if __name__ == "__main__":
    DURATIONS.write_text(json.dumps(durations_from_junit(Path(sys.argv[1])), indent=1) + "\n")
    print(f"wrote {DURATIONS}")
