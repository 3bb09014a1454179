"""``database.is_deadlock``: the errors a transaction is run again for (the local
registrar's two workers inserting the same DOI at once, ``gateway.doi.local``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import exc

from gateway.catalogue.database import is_deadlock


class _Orig(Exception):
    def __init__(self, *args: Any, sqlstate: str | None = None) -> None:
        super().__init__(*args)
        self.sqlstate = sqlstate


def _error(orig: BaseException) -> exc.DBAPIError:
    return exc.OperationalError("INSERT ...", {}, orig)


def test_a_deadlock_victim_is_told_from_other_errors() -> None:
    # MariaDB/MySQL (asyncmy): (1213, 'Deadlock found when trying to get lock; ...').
    assert is_deadlock(_error(_Orig(1213, "Deadlock found when trying to get lock")))
    # PostgreSQL (asyncpg): SQLSTATE 40P01.
    assert is_deadlock(_error(_Orig("deadlock detected", sqlstate="40P01")))
    # Not a deadlock: a lock wait timeout, a duplicate key, a lost connection, no DBAPIError.
    assert not is_deadlock(_error(_Orig(1205, "Lock wait timeout exceeded")))
    assert not is_deadlock(_error(_Orig(1062, "Duplicate entry")))
    assert not is_deadlock(_error(_Orig("connection was closed", sqlstate="08006")))
    assert not is_deadlock(_error(_Orig()))
    assert not is_deadlock(RuntimeError(1213))
