"""Facilities, their beamlines (ICAT instruments) and session types. All LANDING class."""

from __future__ import annotations

from typing import TYPE_CHECKING

import strawberry

from gateway.fields.catalogue import FACILITY, INSTRUMENT, INVESTIGATION_TYPE
from gateway.schema.declared import Declared, declared
from gateway.schema.keys import keys_of
from gateway.schema.node import Node

if TYPE_CHECKING:
    pass


@strawberry.federation.type(keys=keys_of("Facility"), description=FACILITY.description)
@declared(FACILITY)
class Facility(Node, Declared):
    pass


@strawberry.federation.type(keys=keys_of("Instrument"), description=INSTRUMENT.description)
@declared(INSTRUMENT)
class Instrument(Node, Declared):
    pass


@strawberry.type(description=INVESTIGATION_TYPE.description)
@declared(INVESTIGATION_TYPE)
class InvestigationType(Declared):
    pass
