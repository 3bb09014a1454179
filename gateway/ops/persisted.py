"""Persisted queries: Apollo's automatic persisted queries (APQ) and an allow-list.

A client sends ``extensions.persistedQuery = {"version": 1, "sha256Hash": ...}``. If the
gateway knows the hash it runs that query; if not it answers ``PERSISTED_QUERY_NOT_FOUND``
and the client sends the query again with its text, which the gateway remembers under the
hash after checking that the hash is the text's. The store is Redis when configured (every
worker and replica sees every query), else a per-process store bounded by bytes.

In ``registered`` mode only the operations registered beforehand (``icat-gateway
register-operations``: a frontend's ``.graphql`` files or its persisted-query manifest)
run, sent by hash or as their exact text (and by ``documentId``, the manifest's own id,
where the request's members reach this module with it: the gate passes ``query`` and
``extensions`` only so far); nothing is learnt from requests. Registered operations live
in Redis without expiry.

Codes (``extensions.code``) and HTTP statuses (for ``application/graphql-response+json``;
legacy ``application/json`` clients get 200) follow Apollo's server and router:
``PERSISTED_QUERY_NOT_FOUND`` (404; the client retries with the text),
``PERSISTED_QUERY_HASH_MISMATCH`` and ``PERSISTED_QUERY_NOT_SUPPORTED`` (400),
``PERSISTED_QUERY_NOT_IN_LIST`` (404) and ``QUERY_NOT_IN_SAFELIST`` (403).
"""

from __future__ import annotations

import hashlib
import re
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import orjson

from gateway.settings import Settings

if TYPE_CHECKING:  # redis is imported where a client is made (shared_redis)
    import redis.asyncio as aioredis

_SHA256 = re.compile(r"[0-9a-f]{64}")
_DOCUMENT_ID = re.compile(r"[A-Za-z0-9_.:-]{1,128}")


def query_hash(query: str) -> str:
    """The SHA-256 of a query's text, in hex: what APQ clients send."""
    return hashlib.sha256(query.encode()).hexdigest()


class PersistedQueryRefusal(Exception):
    """The request's persisted query cannot run: a GraphQL error with this code and status."""

    def __init__(self, code: str, message: str, status: int) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


class QueryStore(Protocol):
    """Query texts by key (a hash or a registered document id)."""

    async def get(self, key: str) -> str | None: ...

    async def put(self, key: str, query: str) -> None: ...


class MemoryQueryStore:
    """Least recently used out once the texts held pass ``capacity`` bytes: many distinct
    large queries cannot grow a worker (a text larger than the whole store is not kept)."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.size = 0
        self._texts: OrderedDict[str, str] = OrderedDict()

    async def get(self, key: str) -> str | None:
        text = self._texts.get(key)
        if text is not None:
            self._texts.move_to_end(key)
        return text

    async def put(self, key: str, query: str) -> None:
        cost = len(query.encode())
        if cost > self.capacity:
            return
        old = self._texts.pop(key, None)
        if old is not None:
            self.size -= len(old.encode())
        self._texts[key] = query
        self.size += cost
        while self.size > self.capacity:
            _, evicted = self._texts.popitem(last=False)
            self.size -= len(evicted.encode())


class RedisQueryStore:
    """Texts in Redis under ``<prefix><namespace><key>``; ``ttl`` None keeps them."""

    def __init__(self, client: aioredis.Redis, prefix: str, ttl: int | None) -> None:
        self.client = client
        self.prefix = prefix
        self.ttl = ttl

    async def get(self, key: str) -> str | None:
        value = await self.client.get(self.prefix + key)
        if value is None:
            return None
        return value.decode() if isinstance(value, bytes) else str(value)

    async def put(self, key: str, query: str) -> None:
        await self.client.set(self.prefix + key, query.encode(), ex=self.ttl)


def automatic_store(settings: Settings, client: aioredis.Redis | None) -> QueryStore:
    if client is None:
        return MemoryQueryStore(settings.persisted_query_cache_bytes)
    return RedisQueryStore(client, settings.redis_key_prefix + "apq:", settings.persisted_query_ttl)


def registered_store(settings: Settings, client: aioredis.Redis) -> RedisQueryStore:
    return RedisQueryStore(client, settings.redis_key_prefix + "operation:", None)


@dataclass
class PersistedQueries:
    """Turns a request's persisted-query reference into its query text."""

    mode: str
    automatic: QueryStore | None
    registered: QueryStore | None

    @classmethod
    def create(cls, settings: Settings, client: aioredis.Redis | None) -> PersistedQueries:
        registered = registered_store(settings, client) if client is not None else None
        automatic = None
        if settings.persisted_queries == "automatic":
            automatic = automatic_store(settings, client)
        return cls(settings.persisted_queries, automatic, registered)

    async def resolve(self, payload: dict[str, Any]) -> dict[str, Any]:
        """The request with its ``query`` filled in and the reference removed (so that an
        operation plan can answer it like any other), or a refusal."""
        reference = _reference(payload)
        query = payload.get("query")
        if reference is None:
            if self.mode == "registered" and isinstance(query, str):
                await self._require_registered(query)
            return payload
        if self.mode == "off":
            raise PersistedQueryRefusal(
                "PERSISTED_QUERY_NOT_SUPPORTED", "Persisted queries are not supported here.", 400
            )
        kind, key = reference
        resolved = {k: v for k, v in payload.items() if k not in ("extensions", "documentId")}
        extensions = _extensions(payload)
        rest = {k: v for k, v in extensions.items() if k != "persistedQuery"}
        if rest:
            resolved["extensions"] = rest
        if isinstance(query, str) and query:
            if kind == "documentId":
                raise PersistedQueryRefusal(
                    "BAD_REQUEST", "Send either a documentId or a query, not both.", 400
                )
            if query_hash(query) != key:
                raise PersistedQueryRefusal(
                    "PERSISTED_QUERY_HASH_MISMATCH", "The sha256Hash is not the query's.", 400
                )
            if self.mode == "registered":
                await self._require_registered(query)
            elif self.automatic is not None:
                await self.automatic.put(key, query)
            return resolved
        text = await self._lookup(key)
        if text is None:
            if self.mode == "registered" or kind == "documentId":
                raise PersistedQueryRefusal(
                    "PERSISTED_QUERY_NOT_IN_LIST", "No operation is registered with that id.", 404
                )
            raise PersistedQueryRefusal("PERSISTED_QUERY_NOT_FOUND", "PersistedQueryNotFound", 404)
        resolved["query"] = text
        return resolved

    async def _lookup(self, key: str) -> str | None:
        if self.registered is not None and (text := await self.registered.get(key)) is not None:
            return text
        if self.automatic is not None:
            return await self.automatic.get(key)
        return None

    async def _require_registered(self, query: str) -> None:
        if self.registered is None or await self.registered.get(query_hash(query)) is None:
            raise PersistedQueryRefusal(
                "QUERY_NOT_IN_SAFELIST", "Only registered operations run on this gateway.", 403
            )


def _extensions(payload: dict[str, Any]) -> dict[str, Any]:
    extensions = payload.get("extensions")
    if isinstance(extensions, str):  # GET: the extensions are JSON in the query string
        try:
            extensions = orjson.loads(extensions)
        except orjson.JSONDecodeError:
            raise PersistedQueryRefusal(
                "BAD_REQUEST", "The extensions parameter is not JSON.", 400
            ) from None
    if extensions is None:
        return {}
    if not isinstance(extensions, dict):
        raise PersistedQueryRefusal("BAD_REQUEST", "extensions must be an object.", 400)
    return extensions


def _reference(payload: dict[str, Any]) -> tuple[str, str] | None:
    """("sha256Hash", hash) for APQ, ("documentId", id) for a registered document's id."""
    document_id = payload.get("documentId")
    if document_id is not None:
        if not isinstance(document_id, str) or not _DOCUMENT_ID.fullmatch(document_id):
            raise PersistedQueryRefusal("BAD_REQUEST", "documentId is malformed.", 400)
        return "documentId", document_id
    persisted = _extensions(payload).get("persistedQuery")
    if persisted is None:
        return None
    if not isinstance(persisted, dict) or persisted.get("version") != 1:
        raise PersistedQueryRefusal(
            "PERSISTED_QUERY_NOT_SUPPORTED", "Only persistedQuery version 1 is supported.", 400
        )
    digest = persisted.get("sha256Hash")
    if not isinstance(digest, str) or not _SHA256.fullmatch(digest):
        raise PersistedQueryRefusal(
            "BAD_REQUEST", "persistedQuery.sha256Hash must be 64 lower-case hex digits.", 400
        )
    return "sha256Hash", digest
