"""Units of parameters: a range given in one unit matches values stored in another.

ICAT stores a parameter's value in the units of its PARAMETERTYPE (``UNITS``, free text:
``keV``, ``Å``, ``°C``, ``NA`` for none). SciCat converts every value to SI
(``valueSI``/``unitSI``); the gateway cannot add such a column to ICAT's tables, so it
converts the other way: a range's bounds are converted into each stored type's units, and
the database compares them with the stored values as they are, over the index on
(parameter type, value). pint reads the units; the few spellings of ICAT catalogues it
does not know are defined here.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import pint

from gateway.errors import BadUserInput

UNITLESS = frozenset({"", "na", "n/a", "none", "-", "1"})
"""What catalogues write for "no unit" (ICAT's UNITS is NOT NULL; the ESRF writes NA)."""

_DEFINITIONS = (
    "photon = count = photons",
    "electron_count = count = electrons",
)
"""Counted things that appear in catalogues' units (``photons/s``, ``electrons/Å²``)."""


@cache
def registry() -> pint.UnitRegistry:  # type: ignore[type-arg]
    """pint's registry, with the catalogues' extra names (built once: it is costly)."""
    units: pint.UnitRegistry = pint.UnitRegistry()  # type: ignore[type-arg]
    for definition in _DEFINITIONS:
        units.define(definition)
    return units


@cache
def parsed(units: str) -> pint.Unit | None:
    """The unit ICAT's text names, or None when it names none pint can read (unitless
    values, or a spelling of the facility's own)."""
    text = units.strip()
    if text.lower() in UNITLESS:
        return None
    try:
        return registry().parse_units(text)
    except (pint.errors.PintError, ValueError, TypeError, AttributeError, SyntaxError):
        return None


def requested_unit(units: str, argument: str = "parameters") -> pint.Unit:
    """The unit of a range a caller gave; BAD_USER_INPUT if pint does not know it."""
    unit = parsed(units)
    if unit is None:
        raise BadUserInput(
            f"Unknown unit `{units}`: give a unit such as keV, eV, Å, mm, K or °C.",
            argument=argument,
        )
    return unit


@dataclass(frozen=True)
class StoredBounds:
    """A range as the values of one parameter type are compared with it: in its units."""

    parameter_type_id: int
    minimum: float | None
    maximum: float | None
    units: str
    """The stored type's units, which the bounds are in."""


def bounds_in(
    parameter_type_id: int,
    stored_units: str,
    minimum: float | None,
    maximum: float | None,
    units: str | None,
) -> StoredBounds | None:
    """The range ``[minimum, maximum]`` given in ``units`` as bounds on values stored in
    ``stored_units``; None where no stored value can be in the range (a unit of another
    dimension, such as a length for an energy).

    Without ``units`` the bounds are compared as they are. A stored unit pint cannot read
    is compared as it is too (it cannot be converted, and may well be the caller's unit).
    Conversions between units are increasing (°C to K included), so the bounds keep their
    order.
    """
    if units is None:
        return StoredBounds(parameter_type_id, minimum, maximum, stored_units)
    wanted = requested_unit(units)
    stored = parsed(stored_units)
    if stored is None:
        return StoredBounds(parameter_type_id, minimum, maximum, stored_units)
    if wanted.dimensionality != stored.dimensionality:
        return None
    quantity = registry().Quantity

    def converted(value: float | None) -> float | None:
        if value is None:
            return None
        return float(quantity(value, wanted).to(stored).magnitude)

    return StoredBounds(parameter_type_id, converted(minimum), converted(maximum), stored_units)


def si_units(units: str) -> str | None:
    """The SI base units a value in ``units`` converts to (``keV`` -> ``kilogram * meter
    ** 2 / second ** 2``), or None when pint cannot read them."""
    unit = parsed(units)
    if unit is None:
        return None
    return str(registry().Quantity(1, unit).to_base_units().units)
