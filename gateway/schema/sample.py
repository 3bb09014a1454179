"""Samples, techniques and typed parameters: detailed metadata (DATA class)."""

from __future__ import annotations

import strawberry

from gateway.catalogue.units import si_units
from gateway.fields.catalogue import PARAMETER, PARAMETER_TYPE, SAMPLE, TECHNIQUE
from gateway.schema.declared import Declared, declared
from gateway.schema.keys import keys_of
from gateway.schema.node import Node


@strawberry.type(description=PARAMETER.description)
@declared(PARAMETER)
class Parameter(Declared):
    pass


@strawberry.type(description=PARAMETER_TYPE.description)
@declared(PARAMETER_TYPE)
class ParameterType(Declared):
    @strawberry.field
    def si_units(self) -> str | None:
        return si_units(self._row["units"])


@strawberry.federation.type(keys=keys_of("Technique"), description=TECHNIQUE.description)
@declared(TECHNIQUE)
class Technique(Node, Declared):
    pass


@strawberry.type(description=SAMPLE.description)
@declared(SAMPLE)
class Sample(Node, Declared):
    pass
