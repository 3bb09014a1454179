"""Units of parameter ranges (gateway.catalogue.units): conversions, ICAT's spellings,
refusals."""

from __future__ import annotations

import pytest

from gateway.catalogue.units import bounds_in, parsed, si_units
from gateway.errors import BadUserInput


def test_a_range_in_kev_becomes_bounds_in_ev() -> None:
    bounds = bounds_in(7, "eV", 10, 12, "keV")
    assert bounds is not None
    assert (bounds.parameter_type_id, bounds.units) == (7, "eV")
    assert bounds.minimum == pytest.approx(10_000) and bounds.maximum == pytest.approx(12_000)


def test_offset_units_convert_with_their_offset() -> None:
    bounds = bounds_in(1, "K", -10, 25, "°C")
    assert bounds is not None
    assert bounds.minimum == pytest.approx(263.15) and bounds.maximum == pytest.approx(298.15)


@pytest.mark.parametrize("units", ["Å", "μm", "µm", "nm", "mm", "%", "deg", "photons/s", "a"])
def test_icat_spellings_are_read(units: str) -> None:
    assert parsed(units) is not None


@pytest.mark.parametrize("units", ["NA", "", " n/a ", "no-such-unit"])
def test_unitless_or_unreadable_stored_units_compare_as_they_are(units: str) -> None:
    assert parsed(units) is None
    assert bounds_in(3, units, 1.5, 2.5, "keV") == bounds_in(3, units, 1.5, 2.5, None)


def test_another_dimension_never_matches_and_unknown_units_are_refused() -> None:
    assert bounds_in(3, "mm", 1, 2, "keV") is None
    with pytest.raises(BadUserInput, match="furlongz"):
        bounds_in(3, "mm", 1, 2, "furlongz")


def test_open_ends_stay_open() -> None:
    bounds = bounds_in(2, "m", None, 5, "mm")
    assert bounds is not None and bounds.minimum is None
    assert bounds.maximum == pytest.approx(0.005)


def test_si_units() -> None:
    assert si_units("keV") == si_units("eV") == "kilogram * meter ** 2 / second ** 2"
    assert si_units("NA") is None
