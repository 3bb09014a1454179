"""Persisted queries: APQ's protocol, the allow-list, the byte-bounded store, manifests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from gateway.ops.persisted import (
    MemoryQueryStore,
    PersistedQueries,
    PersistedQueryRefusal,
    query_hash,
)
from gateway.ops.registration import (
    RegistrationError,
    check_documents,
    read_documents,
    register,
)

QUERY = "{ investigations(first: 1) { totalCount } }"


def apq(query: str | None, digest: str | None = None) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "extensions": {"persistedQuery": {"version": 1, "sha256Hash": digest or query_hash(QUERY)}}
    }
    if query is not None:
        payload["query"] = query
    return payload


async def refusal(queries: PersistedQueries, payload: dict[str, Any]) -> PersistedQueryRefusal:
    with pytest.raises(PersistedQueryRefusal) as caught:
        await queries.resolve(payload)
    return caught.value


async def test_apq_not_found_then_registered_then_found() -> None:
    queries = PersistedQueries("automatic", MemoryQueryStore(1 << 20), None)
    missing = await refusal(queries, apq(None))
    assert (missing.code, missing.status) == ("PERSISTED_QUERY_NOT_FOUND", 404)
    assert missing.message == "PersistedQueryNotFound"  # Apollo Client matches the message too
    sent = await queries.resolve({**apq(QUERY), "variables": {"a": 1}})
    assert sent == {"query": QUERY, "variables": {"a": 1}}
    found = await queries.resolve({**apq(None), "operationName": None})
    assert found == {"query": QUERY, "operationName": None}


async def test_a_hash_that_is_not_its_querys_is_refused_and_not_stored() -> None:
    store = MemoryQueryStore(1 << 20)
    queries = PersistedQueries("automatic", store, None)
    forged = await refusal(queries, apq("{ facilities { nodes { name } } }"))
    assert (forged.code, forged.status) == ("PERSISTED_QUERY_HASH_MISMATCH", 400)
    assert await store.get(query_hash(QUERY)) is None


async def test_malformed_references() -> None:
    queries = PersistedQueries("automatic", MemoryQueryStore(1 << 20), None)
    assert (await refusal(queries, apq(None, "ABC"))).code == "BAD_REQUEST"
    wrong_version = {"extensions": {"persistedQuery": {"version": 2, "sha256Hash": "0" * 64}}}
    assert (await refusal(queries, wrong_version)).code == "PERSISTED_QUERY_NOT_SUPPORTED"
    assert (await refusal(queries, {"extensions": "{not json"})).code == "BAD_REQUEST"
    assert (await refusal(queries, {"documentId": "x" * 500})).code == "BAD_REQUEST"
    # GET sends extensions as JSON text
    get = {"extensions": orjson.dumps(apq(QUERY)["extensions"]).decode(), "query": QUERY}
    assert (await queries.resolve(get))["query"] == QUERY


async def test_off_refuses_references_and_passes_plain_queries() -> None:
    queries = PersistedQueries("off", None, None)
    assert (await refusal(queries, apq(QUERY))).code == "PERSISTED_QUERY_NOT_SUPPORTED"
    assert await queries.resolve({"query": QUERY}) == {"query": QUERY}


async def test_registered_mode_runs_only_registered_operations() -> None:
    registry = MemoryQueryStore(1 << 20)
    await registry.put(query_hash(QUERY), QUERY)
    await registry.put("portal-my-data", QUERY)
    queries = PersistedQueries("registered", None, registry)
    assert (await queries.resolve({"query": QUERY}))["query"] == QUERY
    assert (await queries.resolve(apq(None)))["query"] == QUERY
    assert (await queries.resolve({"documentId": "portal-my-data"}))["query"] == QUERY
    other = "{ facilities { nodes { name } } }"
    freeform = await refusal(queries, {"query": other})
    assert (freeform.code, freeform.status) == ("QUERY_NOT_IN_SAFELIST", 403)
    # An APQ client cannot register its way in.
    learning = await refusal(queries, apq(other, query_hash(other)))
    assert freeform.code == learning.code
    unknown = await refusal(queries, apq(None, "1" * 64))
    assert (unknown.code, unknown.status) == ("PERSISTED_QUERY_NOT_IN_LIST", 404)


async def test_the_memory_store_is_bounded_by_bytes() -> None:
    store = MemoryQueryStore(capacity=1000)
    for n in range(50):
        await store.put(f"k{n}", "x" * 100)
    assert store.size <= 1000
    assert await store.get("k0") is None and await store.get("k49") is not None
    await store.put("huge", "y" * 5000)  # larger than the store: not kept, nothing evicted
    assert await store.get("huge") is None and store.size == 1000
    await store.get("k40")  # used: kept over k41
    await store.put("new", "z" * 100)
    assert await store.get("k40") is not None and await store.get("k41") is None


async def test_manifests_and_files_are_read_and_checked(tmp_path: Path, schema: Any) -> None:
    apollo = tmp_path / "apollo.json"
    operation = {"id": query_hash(QUERY), "name": "Count", "type": "query", "body": QUERY}
    apollo.write_bytes(
        orjson.dumps(
            {"format": "apollo-persisted-query-manifest", "version": 1, "operations": [operation]}
        )
    )
    relay = tmp_path / "relay.json"
    relay.write_bytes(orjson.dumps({"abc123": "{ facilities { nodes { name } } }"}))
    (tmp_path / "ops").mkdir()
    (tmp_path / "ops" / "me.graphql").write_text("query Me { me { userName } }")
    documents = read_documents([apollo, relay, tmp_path / "ops"])
    assert [d.ids for d in documents] == [
        (query_hash(QUERY),),
        ("abc123", query_hash("{ facilities { nodes { name } } }")),
        (query_hash("query Me { me { userName } }"),),
    ]
    check_documents(schema._schema, documents)
    store = MemoryQueryStore(1 << 20)
    assert await register(store, documents) == 3
    assert await store.get("abc123") == "{ facilities { nodes { name } } }"

    (tmp_path / "bad.graphql").write_text("{ investigations { nosuchfield } }")
    with pytest.raises(RegistrationError, match="nosuchfield"):
        check_documents(schema._schema, read_documents([tmp_path / "bad.graphql"]))
    (tmp_path / "other.json").write_text("[1, 2]")
    with pytest.raises(RegistrationError, match="neither"):
        read_documents([tmp_path / "other.json"])
