"""Batched loaders: one statement per relation per level of a request, never one per row.

Each loader collects the keys asked for in one tick of the event loop (aiodataloader) and
runs a single statement for all of them. Loaders are created per request: their caches
never outlive it, so nothing here is state another replica would need.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from aiodataloader import DataLoader
from sqlalchemy import Row, Select, SQLColumnExpression, func, select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql.elements import Label

from gateway.catalogue import queries
from gateway.catalogue.models import Investigation
from gateway.catalogue.pagination import (
    PageRequest,
    SortKey,
    paged_per_parent,
    supports_nulls_last,
)
from gateway.catalogue.relations import related_statement
from gateway.catalogue.visibility import Access
from gateway.fields.catalogue import TYPES
from gateway.fields.declaration import Relation
from gateway.settings import Settings


class Loader(DataLoader[Any, Any]):
    """A DataLoader whose futures survive the cancellation of one of their awaiters.

    The future of a key is shared by every field that asked for it (the facility of 60
    sessions). When an error propagates to a non-null parent, graphql-core cancels the
    sibling fields, and awaiting a future directly would cancel the shared future itself:
    the other awaiters would then get a CancelledError, which escapes graphql-core's error
    handling and fails the whole request.
    """

    def load(self, key: Any) -> Any:
        return asyncio.shield(super().load(key))


async def fetch_all(
    engine: AsyncEngine, statement: Select[Any], parameters: Mapping[str, Any] | None = None
) -> Sequence[Row[Any]]:
    """Run one statement on a connection of its own (loaders of a level run concurrently);
    ``parameters``: values for its bind parameters of those names (a statement built once
    and kept, ``gateway.schema.kept``)."""
    async with engine.connect() as connection:
        return (await connection.execute(statement, parameters)).all()


def grouped_loader(engine: AsyncEngine, build: Callable[[list[Any]], Select[Any]]) -> Loader:
    """Many rows per key: the statement selects the key as ``_key``."""

    async def load(keys: list[Any]) -> list[list[Row[Any]]]:
        groups: dict[Any, list[Row[Any]]] = defaultdict(list)
        for row in await fetch_all(engine, build(sorted(set(keys)))):
            groups[row._mapping["owner_key"]].append(row)
        return [groups.get(key, []) for key in keys]

    return Loader(load)


def single_loader(engine: AsyncEngine, build: Callable[[list[Any]], Select[Any]]) -> Loader:
    """At most one row per id: the statement selects the row's ``id``."""

    async def load(keys: list[Any]) -> list[Row[Any] | None]:
        found = {
            row._mapping["id"]: row for row in await fetch_all(engine, build(sorted(set(keys))))
        }
        return [found.get(key) for key in keys]

    return Loader(load)


@dataclass(frozen=True)
class ChildPageKey:
    """A page of one parent's children: parents asked with the same page share a query."""

    parent_id: Any
    """The parent's key: its id (a DOI for the versions under a DOI)."""
    page: PageRequest
    order: Hashable = None


@dataclass(frozen=True)
class ChildListing:
    """How to list the children of many parents: a base statement, the parent column and
    the sort keys for each ordering a client may ask for."""

    statement: Callable[[], Select[Any]]
    parent: SQLColumnExpression[Any]
    keys: Callable[[Any], Sequence[SortKey]]


def child_page_loader(
    engine: AsyncEngine,
    listing: ChildListing,
    computed: Callable[[Mapping[str, Any]], tuple[Sequence[Label[Any]], bool]] | None = None,
) -> Loader:
    """One windowed statement per distinct page request, for every parent at once
    (``computed``: columns computed from each row of the pages, see ``paged_per_parent``)."""

    async def load(keys: list[ChildPageKey]) -> list[list[Row[Any]]]:
        by_request: dict[tuple[PageRequest, Hashable], set[int]] = defaultdict(set)
        for key in keys:
            by_request[(key.page, key.order)].add(key.parent_id)
        pages: dict[ChildPageKey, list[Row[Any]]] = {}
        for (page, order), parent_ids in by_request.items():
            sort_keys = listing.keys(order)
            statement = listing.statement().where(listing.parent.in_(sorted(parent_ids)))
            statement = statement.add_columns(
                *(key.expression.label(f"_k{i}") for i, key in enumerate(sort_keys))
            )
            groups: dict[Any, list[Row[Any]]] = defaultdict(list)
            paged = paged_per_parent(
                statement,
                listing.parent,
                sort_keys,
                page,
                native_nulls=supports_nulls_last(engine.dialect.name),
                single_parent=len(parent_ids) == 1,
                computed=computed,
            )
            for row in await fetch_all(engine, paged):
                groups[row._mapping["parent_key"]].append(row)
            for parent_id in parent_ids:
                pages[ChildPageKey(parent_id, page, order)] = groups.get(parent_id, [])
        return [pages[key] for key in keys]

    return Loader(load)


def child_count_loader(
    engine: AsyncEngine, statement: Callable[[], Select[Any]], parent: SQLColumnExpression[Any]
) -> Loader:
    """How many visible children each parent has: one GROUP BY for all parents."""

    async def load(keys: list[int]) -> list[int]:
        counted: Select[Any] = (
            statement()
            .with_only_columns(parent.label("owner_key"), func.count().label("n"))
            .where(parent.in_(sorted(set(keys))))
            .group_by(parent)
        )
        counts = {
            row._mapping["owner_key"]: row._mapping["n"] for row in await fetch_all(engine, counted)
        }
        return [counts.get(key, 0) for key in keys]

    return Loader(load)


class Loaders:
    """The loaders of one request, created on first use."""

    def __init__(self, engine: AsyncEngine, access: Access, settings: Settings) -> None:
        self.engine = engine
        self.access = access
        self.settings = settings

    def reference(self, kind: str, *, named_by_caller: bool = False) -> Loader:
        """A small reference table by id (facility, instrument, user, types...), as the
        caller may read it (under ICAT's rules, the rows they open). ``named_by_caller``:
        the row the caller named in a mutation's input and is answered about (a grant's
        grantee: access grants follow the built-in rights, see the README), read whatever
        the rules say."""
        cache: dict[tuple[str, bool], Loader] = self.__dict__.setdefault("_reference", {})
        if (kind, named_by_caller) not in cache:
            model: Any = queries.REFERENCE_MODELS[kind]
            rows = (
                select(*queries.columns_of(model))
                if named_by_caller
                else queries.reference_rows(self.access, model)
            )
            cache[kind, named_by_caller] = single_loader(
                self.engine, lambda ids: rows.where(model.id.in_(ids))
            )
        return cache[kind, named_by_caller]

    def grouped(self, build: Callable[[list[Any], Access], Select[Any]]) -> Loader:
        """Rows of a relation by owner, one statement per batch (the relations of
        ``gateway.catalogue.details``): one loader per statement builder per request."""
        cache: dict[Callable[[list[Any], Access], Select[Any]], Loader] = self.__dict__.setdefault(
            "_grouped", {}
        )
        if build not in cache:
            cache[build] = grouped_loader(self.engine, lambda ids: build(ids, self.access))
        return cache[build]

    @cached_property
    def investigation(self) -> Loader:
        return single_loader(
            self.engine,
            lambda ids: queries.investigations(self.access).where(Investigation.id.in_(ids)),
        )

    @cached_property
    def session_of_dataset(self) -> Loader:
        """A dataset's session, as ICAT's step ``Dataset.investigation`` reaches it."""
        return single_loader(
            self.engine,
            lambda ids: queries.investigations_reached(
                self.access, "Dataset", "investigation"
            ).where(Investigation.id.in_(ids)),
        )

    @cached_property
    def dataset(self) -> Loader:
        return single_loader(self.engine, lambda ids: queries.datasets_by_id(self.access, ids))

    @cached_property
    def datafile(self) -> Loader:
        return single_loader(self.engine, lambda ids: queries.datafiles_by_id(self.access, ids))

    @cached_property
    def download_size_of_dataset(self) -> Loader:
        """Each dataset's bytes as a download holds them: its files' sizes added up (the
        datasets asked for are those the caller already sees)."""
        from gateway.catalogue.downloads import dataset_download_sizes

        async def load(ids: list[int]) -> list[int]:
            rows = await fetch_all(
                self.engine, dataset_download_sizes(self.access, sorted(set(ids)))
            )
            sizes = {int(row[0]): int(row[1]) for row in rows}
            return [sizes.get(i, 0) for i in ids]

        return Loader(load)

    @cached_property
    def sample(self) -> Loader:
        from gateway.catalogue.models import Sample

        return single_loader(
            self.engine,
            lambda ids: queries.samples_of_datasets(self.access).where(Sample.id.in_(ids)),
        )

    @cached_property
    def data_publication(self) -> Loader:
        from gateway.catalogue.models import DataPublication

        return single_loader(
            self.engine,
            lambda ids: queries.data_publications(self.access).where(DataPublication.id.in_(ids)),
        )

    @cached_property
    def users_by_orcid(self) -> Loader:
        """People by bare ORCID iD: every USER_ row holding it (ICAT does not make it
        unique), oldest first."""
        from gateway.catalogue.orcid import orcid_key, users_by_orcid

        async def load(orcids: list[str]) -> list[list[Row[Any]]]:
            groups: dict[str, list[Row[Any]]] = defaultdict(list)
            for row in await fetch_all(self.engine, users_by_orcid(sorted(set(orcids)))):
                key = orcid_key(row._mapping["orcid_id"])
                if key is not None:
                    groups[key].append(row)
            return [groups.get(orcid, []) for orcid in orcids]

        return Loader(load)

    @cached_property
    def memberships_of_investigation(self) -> Loader:
        """Every membership of a session, for the gateway's own answers about the caller
        and the grants it makes (``myRoles``, a grant's payload)."""
        return grouped_loader(self.engine, queries.team_by_investigation)

    def related(self, type_name: str, field_name: str) -> Loader:
        """The children of a declared relation (``gateway.fields``): one statement for
        every parent of a level (``relations.related_statement``), rows grouped by the
        parent's key; a relation to one object gets a list of at most one row."""
        cache: dict[tuple[str, str], Loader] = self.__dict__.setdefault("_related", {})
        key = (type_name, field_name)
        if key not in cache:
            relation = TYPES[type_name].field(field_name)
            if not isinstance(relation, Relation):
                raise TypeError(f"{type_name}.{field_name} is not a declared relation")
            cache[key] = grouped_loader(
                self.engine, lambda ids: related_statement(relation, ids, self.access)
            )
        return cache[key]

    @cached_property
    def publication_record(self) -> Loader:
        """A data publication's record for its DataCite metadata, with what its saga keeps
        (its licence): ``(record, request)``, or None."""
        from gateway.catalogue.publications import load_records, saga_requests

        async def load(ids: list[int]) -> list[Any]:
            async with self.engine.connect() as connection:
                records = await load_records(connection, ids)
                requests = await saga_requests(connection, [r.doi for r in records.values()])
            return [
                (records[i], requests.get(records[i].doi.lower(), {})) if i in records else None
                for i in ids
            ]

        return Loader(load)

    @cached_property
    def doi_chain(self) -> Loader:
        """The chain of versions (``doi_versions.Chain``) a DOI is in, by lower-case DOI;
        None for a DOI that is no version."""
        from gateway.catalogue.doi_versions import chains, concepts_of

        async def load(dois: list[str]) -> list[Any]:
            async with self.engine.connect() as connection:
                concepts = await concepts_of(connection, dois)
                found = await chains(connection, list(concepts.values()))
            return [found.get(concepts.get(doi, "")) for doi in dois]

        return Loader(load)

    @cached_property
    def session_landing(self) -> Loader:
        """A session's landing facts for its DOI's metadata, or None (no DOI)."""
        from gateway.catalogue.publications import load_session_landings

        async def load(ids: list[int]) -> list[Any]:
            async with self.engine.connect() as connection:
                found = await load_session_landings(connection, ids, self.access.now)
            return [found.get(i) for i in ids]

        return Loader(load)

    # Nested connections: a page of children per parent, and their totals. ----------

    def child_pages(
        self,
        name: str,
        listing: ChildListing,
        computed: Callable[[Mapping[str, Any]], tuple[Sequence[Label[Any]], bool]] | None = None,
    ) -> Loader:
        """Pages of children; loaders with other ``computed`` columns need other names."""
        cache: dict[str, Loader] = self.__dict__.setdefault("_child_pages", {})
        if name not in cache:
            cache[name] = child_page_loader(self.engine, listing, computed)
        return cache[name]

    def child_counts(
        self, name: str, statement: Callable[[], Select[Any]], parent: SQLColumnExpression[Any]
    ) -> Loader:
        cache: dict[str, Loader] = self.__dict__.setdefault("_child_counts", {})
        if name not in cache:
            cache[name] = child_count_loader(self.engine, statement, parent)
        return cache[name]
