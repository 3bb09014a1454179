"""Values completed already: JSON the database rendered, passed through by the executor."""

from __future__ import annotations

from typing import Any

import orjson


class Completed:
    """A value completed already: the JSON of an object rendered by the database
    (``gateway.compiled``). The executor returns it as it is, without resolving its fields.
    ``text`` is the JSON text when ``value`` is it wrapped for orjson (``orjson.Fragment``
    keeps it out of reach): lists of such values are joined into one.
    """

    __slots__ = ("text", "value")

    def __init__(self, value: Any, text: str | None = None) -> None:
        self.value = value
        self.text = text


def completed_list(items: list[Any]) -> Completed | None:
    """A list whose items are all :class:`Completed`, completed as one value (the
    executor would otherwise complete them one by one: a page of 1,000 files is 1,000
    calls); None if any item is not."""
    if not items or not all(type(item) is Completed for item in items):
        return None
    texts = [item.text for item in items]
    if all(text is not None for text in texts):
        return Completed(orjson.Fragment("[" + ",".join(texts) + "]"))
    return Completed([item.value for item in items])
