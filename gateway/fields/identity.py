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


def parse_global_id(value: str, *expected: str) -> tuple[str, int]:
    """The type name and ICAT id in a global id; BAD_USER_INPUT if malformed or not of an
    expected type."""
    try:
        type_name, _, raw = base64.b64decode(value, validate=True).decode().partition(":")
        icat_id = int(raw)
    except (ValueError, UnicodeDecodeError, binascii.Error):
        raise BadUserInput(f"`{value}` is not a valid id.") from None
    if expected and type_name not in expected:
        raise BadUserInput(f"`{value}` is not the id of a {' or '.join(expected)}.")
    return type_name, icat_id
