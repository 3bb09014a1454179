"""Datasets by their numeric parameters, in whatever units the caller gives.

A range names a parameter (``InstrumentMonochromator_energy``) and, optionally, the units
its bounds are in. Several PARAMETERTYPE rows may share the name with different units
(``keV`` and ``eV``); the bounds are converted into each one's units
(``gateway.catalogue.units``) and the database compares the stored values as they are,
over the index on (parameter type, value), one ``EXISTS`` per range.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any, Protocol

from sqlalchemy import ColumnElement, and_, case, false, func, or_, select
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.catalogue.models import Dataset, DatasetParameter, ParameterType
from gateway.catalogue.units import StoredBounds, bounds_in, requested_unit
from gateway.catalogue.visibility import Access, listed_by_rules, lookup_by_rules
from gateway.errors import BadUserInput
from gateway.fields.catalogue import TYPES

NUMERIC = 1
"""``PARAMETERTYPE.VALUETYPE`` of numeric parameters."""
MAX_RANGES = 10
"""Ranges one filter may give: each is an ``EXISTS`` of its own."""


class Range(Protocol):
    """A numeric parameter within a range (``gateway.schema.inputs.ParameterRange``)."""

    @property
    def name(self) -> str: ...

    @property
    def units(self) -> str | None: ...

    @property
    def min(self) -> float | None: ...

    @property
    def max(self) -> float | None: ...


async def stored_bounds(engine: AsyncEngine, ranges: Sequence[Range]) -> list[list[StoredBounds]]:
    """Each range as bounds on the stored values of each numeric type of its name (a
    lookup of the few PARAMETERTYPE rows named); BAD_USER_INPUT for units pint does not
    know, and for more than ``MAX_RANGES`` ranges."""
    if len(ranges) > MAX_RANGES:
        raise BadUserInput(
            f"A filter gives at most {MAX_RANGES} parameter ranges.", argument="parameters"
        )
    for range_ in ranges:
        if range_.units is not None:
            requested_unit(range_.units)
    if not ranges:
        return []
    types: dict[str, list[tuple[int, str]]] = defaultdict(list)
    statement = (
        select(ParameterType.id, ParameterType.name, ParameterType.units)
        .where(
            ParameterType.name.in_(sorted({r.name for r in ranges})),
            ParameterType.value_type == NUMERIC,
        )
        .order_by(ParameterType.id)
    )
    async with engine.connect() as connection:
        for id_, name, units in await connection.execute(statement):
            types[name].append((id_, units))
    return [
        [
            bounds
            for id_, units in types[r.name]
            if (bounds := bounds_in(id_, units, r.min, r.max, r.units)) is not None
        ]
        for r in ranges
    ]


def datasets_within_all(
    access: Access, bounds: Sequence[Sequence[StoredBounds]]
) -> ColumnElement[bool]:
    """The dataset has, for every range, a parameter of one of its types within the bounds
    converted into that type's units, found only where ``Dataset.parameters`` would list
    it with its type (under ICAT's rules the DATASETPARAMETER rows' own rules,
    ``visibility.listed_by_rules``, and the PARAMETERTYPE's, ``lookup_by_rules``).

    One subquery whatever the number of ranges: the parameters of the named types (read by
    GW_DATASETPARAMETER_TYPE_DATASET), grouped by dataset, keeping the datasets where each
    range matched a row. One EXISTS per range was the obvious statement, and MariaDB
    flattens each into a semi-join: its optimizer weighs every order of those joins, and
    10 ranges did not answer within the 10 s timeout (8 took 1.8 s)."""
    conditions = [_within(each) for each in bounds]
    matched = select(DatasetParameter.dataset_id)
    ruled = listed_by_rules(access, "Dataset", "parameters")
    (lookup,) = TYPES["Parameter"].lookups
    typed = lookup_by_rules(access, DatasetParameter, lookup)
    if typed is not None:
        matched = matched.join(
            ParameterType, ParameterType.id == DatasetParameter.parameter_type_id
        )
        ruled.append(typed)
    matched = (
        matched.where(or_(*conditions), *ruled)
        .group_by(DatasetParameter.dataset_id)
        .having(and_(*(func.max(case((c, 1), else_=0)) == 1 for c in conditions)))
    )
    return Dataset.id.in_(matched)


def _within(bounds: Sequence[StoredBounds]) -> ColumnElement[bool]:
    """One DATASETPARAMETER row is of one of these types and within its bounds."""
    if not bounds:
        return false()
    alternatives: list[ColumnElement[bool]] = []
    for bound in bounds:
        conditions: list[ColumnElement[Any]] = [
            DatasetParameter.parameter_type_id == bound.parameter_type_id
        ]
        if bound.minimum is not None:
            conditions.append(DatasetParameter.numeric_value >= bound.minimum)
        if bound.maximum is not None:
            conditions.append(DatasetParameter.numeric_value <= bound.maximum)
        alternatives.append(and_(*conditions))
    return or_(*alternatives)
