"""Registering a frontend's operations for the allow-list (``registered`` mode).

Sources: ``.graphql`` files (each file one document, registered under the SHA-256 of its
exact text) and persisted-query manifests: Apollo's (``{"format":
"apollo-persisted-query-manifest", "operations": [{"id", "name", "type", "body"}]}``) and
Relay's (``{"<id>": "<text>"}``), registered under their own id and the text's SHA-256.
Every document is validated against the gateway's schema first: a typo is found at
deploy time, not when a user clicks.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from graphql import GraphQLSchema, parse, validate
from graphql.error import GraphQLError

from gateway.ops.persisted import QueryStore, query_hash


class RegistrationError(ValueError):
    """A source that is not a document or a manifest, or a document the schema refuses."""


@dataclass(frozen=True)
class Document:
    """One operation document to register and the ids it answers to."""

    body: str
    ids: tuple[str, ...]
    source: str


def read_documents(paths: Iterable[Path]) -> list[Document]:
    documents: list[Document] = []
    for path in paths:
        if path.is_dir():
            documents += read_documents(sorted(path.rglob("*.graphql")))
        elif path.suffix == ".json":
            documents += _manifest(path)
        else:
            body = path.read_text()
            documents.append(Document(body, (query_hash(body),), str(path)))
    return documents


def _manifest(path: Path) -> list[Document]:
    try:
        data: Any = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as error:
        raise RegistrationError(f"{path}: not JSON ({error})") from None
    if isinstance(data, dict) and data.get("format") == "apollo-persisted-query-manifest":
        operations = data.get("operations")
        if not isinstance(operations, list):
            raise RegistrationError(f"{path}: an Apollo manifest without operations")
        found = []
        for entry in operations:
            if not (isinstance(entry, dict) and isinstance(entry.get("body"), str)):
                raise RegistrationError(f"{path}: an operation without a body")
            body = entry["body"]
            ids = dict.fromkeys([str(entry.get("id") or query_hash(body)), query_hash(body)])
            found.append(Document(body, tuple(ids), f"{path}: {entry.get('name') or '?'}"))
        return found
    if isinstance(data, dict) and all(
        isinstance(k, str) and isinstance(v, str) for k, v in data.items()
    ):
        return [
            Document(body, tuple(dict.fromkeys([key, query_hash(body)])), f"{path}: {key}")
            for key, body in data.items()
        ]
    raise RegistrationError(f"{path}: neither an Apollo nor a Relay persisted-query manifest")


def check_documents(schema: GraphQLSchema, documents: Iterable[Document]) -> None:
    """Every document parses and is valid against the schema, or a RegistrationError that
    lists each problem."""
    problems: list[str] = []
    for document in documents:
        try:
            errors = validate(schema, parse(document.body))
        except GraphQLError as error:
            errors = [error]
        problems += [f"{document.source}: {error.message}" for error in errors]
    if problems:
        raise RegistrationError("\n".join(problems))


async def register(store: QueryStore, documents: Iterable[Document]) -> int:
    """Store each document under each of its ids; the number of documents stored."""
    count = 0
    for document in documents:
        for key in document.ids:
            await store.put(key, document.body)
        count += 1
    return count
