"""The gateway's executor (``gateway.schema.execution``) leaves no coroutine unawaited.

graphql-core makes a coroutine per async field before it runs them together; a request
cancelled at the wrong moment (the gate's budget, a client gone) drops some unstarted, and
Python warns about each whenever the collector finds it: in CI that warning failed an
unrelated test (``test_compiled_and_standard_answers_are_identical_with_lookups_hidden``).
"""

from __future__ import annotations

import asyncio
import gc
import warnings

import pytest
import strawberry

from gateway.schema.execution import FastLeafExecutionContext


@strawberry.type
class Item:
    n: int

    @strawberry.field
    async def double(self) -> int:
        await asyncio.sleep(0)
        return 2 * self.n


@strawberry.type
class Query:
    @strawberry.field
    async def items(self) -> list[Item]:
        await asyncio.sleep(0)
        return [Item(n=n) for n in range(5)]

    @strawberry.field
    async def later(self) -> int:
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        raise ValueError("no")


SCHEMA = strawberry.Schema(Query, execution_context_class=FastLeafExecutionContext)


def _unawaited(caught: list[warnings.WarningMessage]) -> list[str]:
    return [str(w.message) for w in caught if "was never awaited" in str(w.message)]


@pytest.mark.parametrize("steps", range(8))
async def test_a_cancelled_request_leaves_no_coroutine_unawaited(steps: int) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        task = asyncio.ensure_future(SCHEMA.execute("{ items { double } a: items { double } }"))
        for _ in range(steps):
            await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        for _ in range(3):  # background work settles
            await asyncio.sleep(0)
        del task
        gc.collect()
    assert not _unawaited(caught), _unawaited(caught)


async def test_an_error_beside_pending_fields_leaves_no_coroutine_unawaited() -> None:
    """A field's error while its siblings are pending: the answer is the usual one."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = await SCHEMA.execute("{ items { double } later }")
        for _ in range(3):
            await asyncio.sleep(0)
        gc.collect()
    assert result.data is None and result.errors is not None
    assert [e.message for e in result.errors] == ["no"]
    assert not _unawaited(caught), _unawaited(caught)


async def test_a_whole_answer_is_unchanged() -> None:
    result = await SCHEMA.execute("{ items { n double } }")
    assert result.errors is None
    assert result.data == {"items": [{"n": n, "double": 2 * n} for n in range(5)]}
