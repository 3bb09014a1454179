"""Parsed and validated documents, kept by the hash of their text and bounded by size.

A cache keyed by the full text keeps every distinct text alive as its key; a cache
bounded by entries keeps 512 documents of any size. This one is keyed by the SHA-256 of
the text, holds no text, and is bounded by an estimate of the bytes its documents hold
(a parsed AST is some tens of times its text); a document too big for a sixty-fourth of
the budget is parsed each time and never kept. With the body limit and the token limit
in front of it, no request can make it grow past its budget.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from graphql import DocumentNode, GraphQLError

AST_BYTES_PER_CHARACTER = 40
"""A generous estimate of an AST's memory per character of its text (no locations)."""


def digest(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()


@dataclass
class Entry:
    """A parsed document and what the gate learnt about it (valid or not, its limits)."""

    document: DocumentNode
    size: int
    """Estimated bytes held."""
    errors: list[GraphQLError] | None = None
    """Validation errors once validated ([] when valid)."""
    facts: dict[Any, Any] = field(default_factory=dict)


class Documents:
    """Least-recently-used documents, bounded by their estimated size in bytes."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.held = 0
        self._entries: OrderedDict[bytes, Entry] = OrderedDict()

    def get(self, key: bytes) -> Entry | None:
        entry = self._entries.get(key)
        if entry is not None:
            self._entries.move_to_end(key)
        return entry

    def put(self, key: bytes, entry: Entry) -> None:
        if entry.size * 64 > self.budget:
            return  # too big to keep: parsed again next time
        previous = self._entries.pop(key, None)
        if previous is not None:
            self.held -= previous.size
        self._entries[key] = entry
        self.held += entry.size
        while self.held > self.budget and self._entries:
            _, dropped = self._entries.popitem(last=False)
            self.held -= dropped.size

    def __len__(self) -> int:
        return len(self._entries)
