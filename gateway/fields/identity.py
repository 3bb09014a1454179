"""Global ids: the type name and the ICAT id of an object, encoded (Relay's `id`).

Both paths make them: ``gateway.schema`` in Python, ``gateway.compiled.render`` in SQL
(``encode(convert_to('Type:' || id, 'UTF8'), 'base64')``), and the tests compare the two.
"""

from __future__ import annotations

import base64
import binascii

from gateway.errors import BadUserInput


def global_id(type_name: str, icat_id: int) -> str:
    """The global id of an ICAT row of a type."""
    return base64.b64encode(f"{type_name}:{icat_id}".encode()).decode()


MAX_ICAT_ID = 2**63 - 1
"""The largest ICAT id: ids are BIGINT columns (signed 64-bit) filled from sequences, so
every row's id lies in ``1 .. MAX_ICAT_ID``."""


def parse_global_id(value: str, *expected: str) -> tuple[str, int]:
    """The type name and ICAT id in a global id; BAD_USER_INPUT if malformed, not of an
    expected type, or naming an id no row can have.

    The id is checked against ``1 .. MAX_ICAT_ID`` here, before any statement binds it:
    PostgreSQL's and SQLite's drivers refuse a number beyond 64 bits (an internal error,
    not the client's), and zero or a negative number can never name a row. Every id the
    gateway hands out is in range, so only a made-up id is refused."""
    try:
        type_name, _, raw = base64.b64decode(value, validate=True).decode().partition(":")
        icat_id = int(raw)
    except (ValueError, UnicodeDecodeError, binascii.Error):
        raise BadUserInput(f"`{value}` is not a valid id.") from None
    if not 1 <= icat_id <= MAX_ICAT_ID:
        raise BadUserInput(
            f"`{value}` is not a valid id: ICAT ids lie between 1 and {MAX_ICAT_ID}."
        )
    if expected and type_name not in expected:
        raise BadUserInput(f"`{value}` is not the id of a {' or '.join(expected)}.")
    return type_name, icat_id
