"""Samples, techniques and typed parameters: detailed metadata (DATA class)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry

from gateway.schema.info import Info
from gateway.schema.node import Node, global_id, instance
from gateway.schema.scalars import ParameterValueKind


@strawberry.type(
    description="A measured or recorded value with its units (ICAT *PARAMETER and PARAMETERTYPE). "
    "Exactly one of the value fields is set, as `valueKind` says."
)
class Parameter:
    name: str = strawberry.field(description="Parameter name, e.g. InstrumentMonochromator_energy.")
    units: str | None = strawberry.field(description="Units symbol, e.g. keV.")
    units_full_name: str | None = strawberry.field(description="Units spelled out.")
    value_kind: ParameterValueKind = strawberry.field(description="Which value field is set.")
    numeric_value: float | None = strawberry.field(description="The value, if numeric.")
    string_value: str | None = strawberry.field(description="The value, if a string.")
    date_time_value: datetime | None = strawberry.field(
        description="The value, if a date and time."
    )
    error: float | None = strawberry.field(description="Uncertainty of a numeric value.")
    range_bottom: float | None = strawberry.field(description="Lower end of a range value.")
    range_top: float | None = strawberry.field(description="Upper end of a range value.")

    @staticmethod
    def from_row(row: Any) -> Parameter:
        values = row._mapping  # far cheaper than attribute access on a Row
        return instance(
            Parameter,
            name=values["name"],
            units=values["units"],
            units_full_name=values["units_full_name"],
            value_kind=ParameterValueKind(values["value_type"]),
            numeric_value=values["numeric_value"],
            string_value=values["string_value"],
            date_time_value=values["datetime_value"],
            error=values["error"],
            range_bottom=values["range_bottom"],
            range_top=values["range_top"],
        )


@strawberry.type(description="An experimental technique (ICAT TECHNIQUE), e.g. from PaNET.")
class Technique(Node):
    icat_id: int = strawberry.field(description="ICAT TECHNIQUE.ID.")
    name: str = strawberry.field(description="Name, e.g. macromolecular crystallography.")
    pid: str | None = strawberry.field(description="Persistent identifier (e.g. a PaNET IRI).")
    description: str | None = strawberry.field(description="Description.")

    @staticmethod
    def from_row(row: Any) -> Technique:
        values = row._mapping  # far cheaper than attribute access on a Row
        return instance(
            Technique,
            id=global_id("Technique", values["id"]),
            icat_id=values["id"],
            name=values["name"],
            pid=values["pid"],
            description=values["description"],
        )


@strawberry.type(description="A sample measured in a session (ICAT SAMPLE). DATA class.")
class Sample(Node):
    icat_id: int = strawberry.field(description="ICAT SAMPLE.ID.")
    name: str = strawberry.field(description="Sample name.")
    pid: str | None = strawberry.field(description="Persistent identifier of the sample.")
    type_name: str | None = strawberry.field(description="Sample type, e.g. protein crystal.")
    molecular_formula: str | None = strawberry.field(description="Molecular formula of the type.")

    @staticmethod
    def from_row(row: Any) -> Sample:
        values = row._mapping  # far cheaper than attribute access on a Row
        return instance(
            Sample,
            id=global_id("Sample", values["id"]),
            icat_id=values["id"],
            name=values["name"],
            pid=values["pid"],
            type_name=values["type_name"],
            molecular_formula=values["type_molecular_formula"],
        )

    @strawberry.field(description="The sample's parameters.")
    async def parameters(self, info: Info) -> list[Parameter]:
        rows = await info.context.loaders.parameters_of_sample.load(self.icat_id)
        return [Parameter.from_row(row) for row in rows]
