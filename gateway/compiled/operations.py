"""Whole operations compiled to one statement, kept, and run straight on the driver.

``gateway.compiled`` renders what a query asks of objects inside the statements the root
resolvers send. What is left per request is the machinery around them: strawberry's and
graphql-core's execution, building the root statement and its SQLAlchemy cache key,
result rows. For a small lookup (a DOI) that is most of the time and the reason a worker
serves a few hundred requests a second instead of a thousand.

An *operation plan* removes it. The first time an operation runs (the standard way, with
its answer checked: no errors), its root fields are compiled into one statement (in the
database's JSON dialect: PostgreSQL, MariaDB, SQLite) that returns the whole ``data``
object as JSON, with the request's values (clock, user
name, the arguments that name one object: ``doi``, ``id``, and the texts of the
variables: search words, proposals) as bind parameters. The
SQL text is kept; later requests of the same operation bind their values and run it
through SQLAlchemy's connection (``exec_driver_sql``: no statement to build), and the
JSON goes into the response as it is.

A plan is kept per operation (the SHA-256 of its text, and its name), per caller shape
(anonymous, a user, staff) and per *shape* of its variables: which fields of an input
object are given, and the values that change the statement itself (booleans, page
sizes, enums such as an ordering). Texts are never part of the key: a plan is made with
a sentinel word in place of each text, and every bind parameter that holds the sentinel
(or its search pattern) takes the request's text; a text the statement cannot bind (an
id to decode) makes that shape's plans per value instead. The document is the request
gate's (parsed once per text).

The plan answers only where its answer is exactly the standard one. Everything else is
declined, and the request runs the standard way:

- root fields other than ``investigations`` (its pages, cursors included, are planned;
  with free text, its first page without ICAT's rules, see below),
  ``investigation(id:)``, ``dataset(id:)``, ``datafile(id:)``,
  ``doi`` (when it names a session) and ``__typename``; anything under them that
  ``gateway.compiled`` does not render; ``edges`` of the root list;
- a search's words of another shape than the plan's (``text_search.text_shape``:
  PostgreSQL's trigrams, MariaDB's indexed words), or a text that is no search;
- a cursor of another list, ordering or pattern of NULLs than the plan's, and a page
  past either end of the list;
- arguments that do not convert (a malformed id, an id no row can have, an empty DOI):
  the standard path reports the error;
- a root field whose answer is NULL (not found, a row whose DATA fields the caller may
  not read): the statement returns no row, and the standard path says why;
- on MariaDB, a statement that warned: a value was cut (a list longer than
  ``group_concat_max_len``, or a row's JSON longer than the bounded text a plan
  aggregates it as, ``dialects.MariaDBJson``; such a plan is made again at once without
  the bound, and answers).

A search's plan is made for the free-text index's state the request read
(``Operations.learn``'s ``text_index``): its words are bind parameters
(``text_search.text_binds``), and a plan of another state of the index (built since,
trigrams gone) is dropped and made again; before the index is built nothing is planned.

A plan that declines most of the time is dropped, and one the database refuses to run.
Mutations, subscriptions, batched requests, reviewer links' callers and databases without
a JSON dialect (``gateway.compiled.dialects``) always run the standard way.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any, Generic, TypeVar

import orjson
from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    GraphQLObjectType,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    VariableNode,
    parse,
    value_from_ast_untyped,
    visit,
)
from graphql.execution.values import VariableValues, get_argument_values, get_variable_values
from graphql.language import Visitor
from sqlalchemy import (
    BigInteger,
    ColumnElement,
    DateTime,
    String,
    Text,
    and_,
    bindparam,
    case,
    cast,
    exc,
    false,
    func,
    literal,
    null,
    or_,
    select,
    true,
)
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.util import greenlet_spawn

from gateway.auth.policy import Caller
from gateway.catalogue import queries
from gateway.catalogue.database import is_database_unavailable, is_statement_timeout
from gateway.catalogue.gateway_tables import translate_map
from gateway.catalogue.models import Investigation as InvestigationRow
from gateway.catalogue.ordering import NEWEST_FIRST, RELEVANCE, investigation_keys, relevance_keys
from gateway.catalogue.pages import JSON_COLUMN, TOTAL_COLUMN, page_statement, select_rendered
from gateway.catalogue.pagination import (
    PageRequest,
    SortKey,
    cursor_listing,
    decode_cursor,
    encode_cursor,
    keyset_condition,
    order_terms,
    page_request,
)
from gateway.catalogue.text_search import (
    TEXT_BIND,
    TextIndex,
    search_terms,
    session_text_match,
    text_binds,
    text_index,
    text_shape,
)
from gateway.catalogue.visibility import Access, member_investigation_ids
from gateway.compiled.dialects import WARNING_DRIVERS, JsonDialect, compiles_on, json_dialect
from gateway.compiled.items import renderer_for
from gateway.compiled.selection import Field, Request, Unsupported, collect, gather
from gateway.errors import GatewayError
from gateway.settings import Settings

logger = logging.getLogger("gateway.compiled")


class WithheldValues(logging.Filter):
    """asyncmy logs each warning of a statement (it runs ``SHOW WARNINGS`` itself) on the
    ``asyncmy`` logger. A bounded plan's cut text warns "Truncated incorrect CHAR(512)
    value: '...'" with the start of the caller's answer: data, not for the operator's log.
    The warning is kept, its value withheld."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if message.startswith("Truncated incorrect") and " value: " in message:
            record.msg = message.split(" value: ", 1)[0] + " value: (withheld)"
            record.args = ()
        return True


def _withhold_cut_values() -> None:
    """Add :class:`WithheldValues` to asyncmy's logger, once."""
    driver_logger = logging.getLogger("asyncmy")
    if not any(isinstance(f, WithheldValues) for f in driver_logger.filters):
        driver_logger.addFilter(WithheldValues())


K = TypeVar("K")
V = TypeVar("V")

NOW = "gw_now"
USER = "gw_user"

LOOKUPS: Mapping[str, str] = {
    "doi": "doi",
    "investigation": "id",
    "dataset": "id",
    "datafile": "id",
}
"""Root fields whose argument names one object: its value is a bind parameter of the
plan, not part of the plan's key."""

DECLINE_LIMIT = 32
"""A plan that declined more than half of its first this-many uses is dropped."""

GIVE_UP = 8

UNBOUNDED_LIMIT = 4096
"""Shapes remembered as planned without bounded JSON texts (``Plan.bounded``)."""

AST_BYTES_PER_CHARACTER = 40
"""A generous estimate of a syntax tree's memory per character of its text."""

ENTRY_BYTES = 4096
"""What an entry of either cache holds beside its text (objects, dictionaries, keys)."""


class LRU(Generic[K, V]):
    """A least-recently-used map bounded by the bytes its values hold (as ``weigh``
    estimates them), not by their number: 512 entries of a 250 kB operation each were a
    quarter of a gigabyte per worker. A value heavier than a sixty-fourth of the budget is
    never kept."""

    def __init__(self, budget: int, weigh: Callable[[V], int]) -> None:
        self.budget = budget
        self.held = 0
        self._weigh = weigh
        self._items: OrderedDict[K, tuple[V, int]] = OrderedDict()

    def get(self, key: K) -> V | None:
        item = self._items.get(key)
        if item is None:
            return None
        self._items.move_to_end(key)
        return item[0]

    def put(self, key: K, value: V) -> None:
        weight = self._weigh(value)
        previous = self._items.pop(key, None)
        if previous is not None:
            self.held -= previous[1]
        if weight * 64 > self.budget:
            return
        self._items[key] = (value, weight)
        self.held += weight
        while self.held > self.budget and self._items:
            _, (_, dropped) = self._items.popitem(last=False)
            self.held -= dropped

    def pop(self, key: K) -> None:
        item = self._items.pop(key, None)
        if item is not None:
            self.held -= item[1]

    def __len__(self) -> int:
        return len(self._items)


@dataclass(frozen=True)
class Parameter:
    """A bind parameter of a plan: a request's value (a variable, or a literal of the
    document) converted as the resolver would; a conversion that raises declines."""

    bind: str
    variable: str | None
    literal: Any
    convert: Callable[[Any], Any]
    path: tuple[str | int, ...] = ()
    """Where in the variable's value (an input object, a list) the value is."""


@dataclass(frozen=True)
class CursorField:
    """A ``startCursor``/``endCursor`` of a planned page: the statement gives the page's
    rows' sort keys there, and the cursor is encoded as the standard path encodes it."""

    path: tuple[str, ...]
    name: str
    listing: str
    datetimes: tuple[int, ...]
    """Positions of the sort keys that are date-times (ISO text in the JSON)."""

    def write(self, data: dict[str, Any]) -> None:
        holder = data
        for step in self.path[:-1]:
            holder = holder[step]
        rows = holder[self.path[-1]]
        if not rows:
            holder[self.path[-1]] = None
            return
        values = list(rows[0] if self.name == "startCursor" else rows[-1])
        for position in self.datetimes:
            if values[position] is not None:
                values[position] = datetime.fromisoformat(values[position])
        holder[self.path[-1]] = encode_cursor(self.listing, values)


@dataclass
class Plan:
    sql: str
    binds: tuple[str, ...]
    """Bind parameter names in the statement's positional order."""
    constants: dict[str, Any]
    parameters: tuple[Parameter, ...]
    processors: dict[str, Callable[[Any], Any]] = field(default_factory=dict)
    """The dialect's conversions of request values (arrays), by bind name."""
    cursors: tuple[CursorField, ...] = ()
    text_index: tuple[Any, ...] | None = None
    """What of the free-text index the plan's search was built for (``_index_shape``),
    None without free text: a plan of another state of the index is planned again."""
    entries: tuple[tuple[str, int | str], ...] | None = None
    """Where the statement selects each root field's answer as a column of its own
    (``JsonDialect.root_tables`` off): the response key of each field and its column, or
    the literal text of a ``__typename``. None: the statement's one value is ``data``."""
    checked: bool = False
    """The statement's warnings are checked (MariaDB): an answer whose statement warned
    (a value cut, by ``group_concat_max_len`` or to a bounded text) is declined."""
    bounded: bool = False
    """Made with ``JsonDialect.checked``'s statements (rows' JSON aggregated as bounded
    text): when one warns, the shape is planned again without the bound."""
    answered: int = 0
    declined: int = 0

    def arguments(self, variables: Mapping[str, Any], access: Access) -> list[Any]:
        values = dict(self.constants)
        values[NOW] = access.now
        values[USER] = access.caller.user_name
        for parameter in self.parameters:
            raw: Any = (
                variables.get(parameter.variable)
                if parameter.variable is not None
                else parameter.literal
            )
            for step in parameter.path:
                raw = raw[step]
            values[parameter.bind] = parameter.convert(raw)
        for name, process in self.processors.items():
            values[name] = process(values[name])
        return [values[name] for name in self.binds]

    @property
    def worth_keeping(self) -> bool:
        uses = self.answered + self.declined
        return uses < DECLINE_LIMIT or self.declined * 2 <= uses


@dataclass
class Document:
    """An operation of a document, parsed, with what keys its plans."""

    operation: OperationDefinitionNode
    fragments: dict[str, FragmentDefinitionNode]
    structural: tuple[str, ...]
    """Variables whose values shape the statement (all but the lookups' arguments)."""
    weight: int = 0
    """Estimated bytes its syntax tree holds."""
    cursors: frozenset[str] = frozenset()
    """Variables that are a cursor (used nowhere else): bound per value of the cursor's
    sort keys, not as a text."""
    nested_cursors: frozenset[str] = frozenset()
    """Those of them that are the ``after`` of a nested page (not of a root field)."""
    planned: int = 0
    failed: int = 0
    """Shapes planned, and shapes that could not be: a document that never could, after
    ``GIVE_UP`` tries (a cursor in a variable makes every request a new shape), is no
    longer tried."""


class Unplanned:
    """Marks a shape that has no plan (it cannot be compiled, or was dropped)."""


UNPLANNED = Unplanned()
_NO_DOCUMENT = object()


class Outcome:
    """What :meth:`Operations.answer` did: answered (``text``), or not and why."""

    __slots__ = ("learn", "text")

    def __init__(self, text: str | None = None, learn: bool = False) -> None:
        self.text = text
        self.learn = learn


DECLINED = Outcome()
UNKNOWN = Outcome(learn=True)


class Operations:
    """The operation plans of one endpoint (per process: each worker learns its own)."""

    def __init__(self, schema: Any, settings: Settings, dialect: Dialect) -> None:
        self._strawberry = schema
        self._schema: GraphQLSchema = schema._schema
        self._settings = settings
        self._dialect = dialect
        # Keyed by the text's hash: a key holds no request's text (a 256 kB query each).
        budget = settings.plan_cache_bytes // 2
        self._documents: LRU[tuple[bytes, str | None], Any] = LRU(budget, _document_weight)
        self._plans: LRU[tuple[Any, ...], Plan | Unplanned | ByValue] = LRU(budget, _plan_weight)
        checks = json_dialect(dialect.name, checked=True)
        self._checked = bool(checks and checks.checked and dialect.driver in WARNING_DRIVERS)
        """Whether plans' statements' warnings are read (``Plan.checked``)."""
        if self._checked:
            _withhold_cut_values()
        self._unbounded: set[tuple[Any, ...]] = set()
        """Shapes whose bounded statement warned: planned without the bound."""
        self.answered = 0
        """Requests answered by a plan (a figure for tests and operators)."""

    @property
    def kept(self) -> int:
        """Plans kept (and shapes marked unplanned or planned per value): a figure for
        tests and operators."""
        return len(self._plans)

    @staticmethod
    def applies(settings: Settings, engine: AsyncEngine) -> bool:
        return bool(settings.compiled_sql) and compiles_on(engine.dialect.name)

    # ----------------------------------------------------------------------------------
    # Answering
    # ----------------------------------------------------------------------------------

    async def answer(
        self,
        engine: AsyncEngine,
        query: str,
        operation_name: str | None,
        variables: Mapping[str, Any] | None,
        access: Access,
        *,
        document: DocumentNode | None = None,
        coerced: Mapping[str, Any] | None = None,
    ) -> Outcome:
        """The ``data`` of the operation as JSON text, from its plan, if it has one that
        answers; ``learn`` when it should be planned after it ran the standard way.

        ``document`` is the query's text parsed (the request gate's): given, the text is
        not parsed again; ``coerced``: its variables as the gate coerced them (graphql-core's
        ``get_variable_values`` of the same operation), not coerced again."""
        shaped = self._shape(query, operation_name, variables, access, document, coerced)
        if shaped is None:
            return DECLINED
        read, coerced, key = shaped
        plan = self._plans.get(key)
        if plan is BY_VALUE:
            key = _by_value(key, read, coerced)
            plan = self._plans.get(key)
        if plan is None:
            return UNKNOWN
        if not isinstance(plan, Plan):
            return DECLINED
        index = await text_index(engine) if plan.text_index is not None else None
        if plan.text_index is not None and _index_shape(index) != plan.text_index:
            # The index was built, or its trigrams came or went, since: planned again
            # after the standard path answers.
            self._plans.pop(key)
            return UNKNOWN
        try:
            arguments = plan.arguments(coerced, access)
        except (GatewayError, ValueError, TypeError, AttributeError, KeyError, IndexError):
            return DECLINED  # the standard path reports the bad argument
        try:
            row, cut = await _fetch(engine, plan.sql, arguments, plan.checked)
        except exc.DBAPIError as error:
            if is_statement_timeout(error) or is_database_unavailable(error):
                raise  # the request's budget, the database's state: as the standard path
            # The database would not run the plan's statement (SQLite's parser refuses a
            # selection nested deeper than it allows): the plan is dropped, and this
            # request and the next run the standard way.
            logger.warning("an operation plan was refused by the database: %s", error.orig)
            self._plans.put(key, UNPLANNED)
            return DECLINED
        if cut:
            # A value was cut (a row's JSON longer than the bound, a list longer than
            # group_concat_max_len): not this answer. A bounded plan is made again
            # without the bound, at once, and answers (its statement warning too, the
            # standard path does).
            if not plan.bounded:
                row = None
            else:
                if len(self._unbounded) >= UNBOUNDED_LIMIT:
                    self._unbounded.clear()
                self._unbounded.add(key)
                self._plans.pop(key)
                self.learn(
                    query, operation_name, variables, access, document=document, text_index=index
                )
                return await self.answer(
                    engine, query, operation_name, variables, access, document=document
                )
        text = _data(plan.entries, row)
        if text is None:
            plan.declined += 1
            if not plan.worth_keeping:
                self._plans.put(key, UNPLANNED)
            return DECLINED
        plan.answered += 1
        self.answered += 1
        if plan.cursors:
            data = orjson.loads(text)
            for cursor in plan.cursors:
                cursor.write(data)
            text = orjson.dumps(data).decode()
        return Outcome(text)

    def learn(
        self,
        query: str,
        operation_name: str | None,
        variables: Mapping[str, Any] | None,
        access: Access,
        *,
        document: DocumentNode | None = None,
        text_index: TextIndex | None = None,
    ) -> None:
        """Plan the operation for this shape: call after it ran the standard way without
        errors (so it parsed, validated and its arguments were accepted). ``text_index``:
        the free-text index's state as that run read it (a search is planned only with
        it)."""
        shaped = self._shape(query, operation_name, variables, access, document)
        if shaped is None:
            return
        read, coerced, key = shaped
        known = self._plans.get(key)
        if known is BY_VALUE:
            key = _by_value(key, read, coerced)
            known = self._plans.get(key)
        if known is not None:
            return
        plan: Plan | Unplanned = UNPLANNED
        try:
            # Planned once per shape: the text the variables hold (search words,
            # proposals, beamlines) is a bind parameter of the statement.
            texts = _Texts(coerced, tuple(n for n in read.structural if n not in read.cursors))
            texts.text_index = text_index
            try:
                plan = self._plan(
                    read, texts.coerced, access, texts, text_index, self._bounded(key)
                )
            except (Unsupported, GatewayError, ValueError, TypeError) as error:
                if not texts.sentinels:
                    raise
                # A text that is not a value in the statement (an id to decode, a text
                # that shapes it): planned for this request's values alone.
                logger.debug("operation planned by value: %r", error)
                by_value = _by_value(key, read, coerced)
                plan = self._plan(read, coerced, access, None, text_index, self._bounded(by_value))
                self._plans.put(key, BY_VALUE)
                key = by_value
            read.planned += 1
        except _NotYet as reason:
            logger.debug("operation not planned yet: %s", reason)
            return  # planned by a later request (nothing is kept)
        except (Unsupported, GatewayError, ValueError, TypeError) as error:
            logger.debug("operation not planned: %r", error)
            plan = UNPLANNED
            read.failed += 1
        except Exception:  # a plan is an optimisation: never fail a request over one
            logger.exception("could not plan an operation; it runs the standard way")
            plan = UNPLANNED
            read.failed = GIVE_UP
        self._plans.put(key, plan)
        if read.failed >= GIVE_UP and not read.planned:
            self._documents.put((_digest(query), operation_name), _NO_DOCUMENT)

    def _shape(
        self,
        query: str,
        operation_name: str | None,
        variables: Mapping[str, Any] | None,
        access: Access,
        parsed: DocumentNode | None = None,
        given: Mapping[str, Any] | None = None,
    ) -> tuple[Document, dict[str, Any], tuple[Any, ...]] | None:
        """The request's operation, its coerced variables and the key of its plan: the
        operation, the kind of caller and the variables that shape the statement. None
        when it cannot have a plan (not a query, variables that do not coerce, a reviewer
        link's caller: the standard path answers those, see ``items.renderer_for``)."""
        if access.caller.reviewer_link is not None:
            return None
        text_digest = _digest(query)
        document = self._document(query, text_digest, operation_name, parsed)
        if document is None:
            return None
        coerced = dict(given) if given is not None else self._coerce(document, variables)
        if coerced is None:
            return None
        # The shape of the structural values, by its hash: a key holds no request's values
        # (a filter of a few hundred kB), only its plan does (and is weighed for it).
        structure = _digest(
            repr(tuple(_value_shape(coerced.get(name)) for name in document.structural))
        )
        key = (text_digest, operation_name, _shape(access), structure)
        return document, coerced, key

    def _document(
        self,
        query: str,
        text_digest: bytes,
        operation_name: str | None,
        parsed: DocumentNode | None,
    ) -> Document | None:
        key = (text_digest, operation_name)
        document = self._documents.get(key)
        if document is None:
            document = _read(query, operation_name, parsed) or _NO_DOCUMENT
            self._documents.put(key, document)
        return document if isinstance(document, Document) else None

    def _coerce(
        self, document: Document, variables: Mapping[str, Any] | None
    ) -> dict[str, Any] | None:
        definitions = document.operation.variable_definitions
        if not definitions:
            return {}
        coerced = get_variable_values(self._schema, definitions, dict(variables or {}))
        if isinstance(coerced, list):
            return None  # errors: the standard path reports them
        return coerced.coerced

    # ----------------------------------------------------------------------------------
    # Planning
    # ----------------------------------------------------------------------------------

    def _plan(
        self,
        document: Document,
        coerced: dict[str, Any],
        access: Access,
        texts: _Texts | None,
        text_index: TextIndex | None = None,
        bounded: bool = False,
    ) -> Plan:
        user = (
            bindparam(USER, None, type_=String()) if access.caller.user_name is not None else None
        )
        planned_access = Access(
            caller=Caller(user_name=user, is_staff=access.is_staff),  # type: ignore[arg-type]
            now=bindparam(NOW, None, type_=DateTime()),  # type: ignore[arg-type]
            rules=access.rules,
        )
        mine = member_investigation_ids(planned_access) if access.rules is None else None
        if mine is not None:
            # The caller's sessions once, for every place that asks (PostgreSQL would plan
            # and hash the same subquery at each of them).
            mine = mine.cte("mine")
            planned_access = dataclasses.replace(planned_access, member_ids=select(mine.c[0]))
        cursors_marked: list[_Cursor] = []
        coerced = _marked_cursors(document, coerced, cursors_marked)
        planning = _Planning(
            request=Request(self._schema, document.fragments, VariableValues({}, coerced)),
            access=planned_access,
            settings=self._settings,
            dialect=self._dialect,
            strawberry=self._strawberry,
            cursors=cursors_marked,
            text_index=text_index,
            checked=bounded,
        )
        query_type = self._schema.query_type
        assert query_type is not None
        entries: list[tuple[str, Any]] = []
        answers: list[ColumnElement[Any]] = []
        cursors: list[CursorField] = []
        for key, nodes in gather(planning.request, query_type, document.operation.selection_set):
            name = nodes[0].name.value
            if name == "__typename":
                entries.append((key, literal(query_type.name)))
                continue
            build = _ROOTS.get(name)
            if build is None:
                raise Unsupported(name)
            entries.append((key, len(answers)))
            written = len(planning.cursor_fields)
            answers.append(build(planning, query_type, nodes).label(f"r{len(answers)}"))
            listing, datetimes = planning.page_keys
            cursors += [
                CursorField((key, *path), name, listing, datetimes)
                for path, name in planning.cursor_fields[written:]
            ]
        if not answers:
            raise Unsupported("nothing to read")
        json = planning.json
        assembled: tuple[tuple[str, int | str], ...] | None = None
        if json.root_tables:
            # Each root field's answer once (a materialised CTE: a subquery would be
            # inlined and every answer computed twice); no row if any of them is NULL.
            inner = select(*answers).cte("answers")
            if json.materialize is not None:
                inner = inner.prefix_with(json.materialize)
            pairs: list[Any] = []
            for key, value in entries:
                pairs += [
                    literal(key),
                    json.column(inner.c[f"r{value}"]) if isinstance(value, int) else value,
                ]
            statement = (
                select(cast(json.object(pairs), Text))
                .select_from(inner)
                .where(and_(*(column.is_not(None) for column in inner.c)))
            )
        else:
            # Each root field's answer a column (its JSON as text); the executor writes
            # the object around them, and declines if any is NULL (``_data``).
            statement = select(*(cast(answer, Text).label(answer.name) for answer in answers))
            assembled = tuple(
                (key, value if isinstance(value, int) else query_type.name)
                for key, value in entries
            )
        # The plan runs as raw SQL: the gateway's own tables (a grant's expiry, which the
        # visibility filters join) are named by their configured schema here, not at
        # execution as the engines' ``schema_translate_map`` would.
        compiled = statement.compile(
            dialect=self._dialect,
            schema_translate_map=translate_map(self._settings.gateway_schema),
            render_schema_translate=True,
        )
        sql = str(compiled)
        if "POSTCOMPILE" in sql:
            raise Unsupported("expanding parameters")
        binds = tuple(compiled.positiontup or ())
        processors: dict[str, Any] = dict(compiled._bind_processors)
        bound = compiled.construct_params()
        for cursor in planning.cursors:
            planning.parameters += cursor.parameters(bound)
        if texts is not None:
            cursor_binds = {p.bind for p in planning.parameters}
            planning.parameters += texts.parameters(
                sql, {n: v for n, v in bound.items() if n not in cursor_binds}
            )
        request_binds = planning.request_binds
        constants = {
            name: processors[name](value) if name in processors else value
            for name, value in bound.items()
            if name not in request_binds
        }
        held = [bound[name] for name in constants if bound[name] is not None]
        if any(cursor.holds(value) for cursor in planning.cursors for value in held):
            raise Unsupported("a cursor's value in a constant")
        request_processors = {
            name: processors[name] for name in request_binds if name in processors
        }
        return Plan(
            sql,
            binds,
            constants,
            tuple(planning.parameters),
            request_processors,
            cursors=tuple(cursors),
            text_index=_index_shape(text_index) if planning.searched else None,
            entries=assembled,
            checked=self._checked,
            bounded=bounded,
        )

    def _bounded(self, key: tuple[Any, ...]) -> bool:
        """Whether this shape is planned with bounded JSON texts (``Plan.bounded``)."""
        return self._checked and key not in self._unbounded


def _document_weight(document: Any) -> int:
    return ENTRY_BYTES + (document.weight if isinstance(document, Document) else 0)


def _plan_weight(plan: Plan | Unplanned | ByValue) -> int:
    if not isinstance(plan, Plan):
        return ENTRY_BYTES
    literals = sum(len(repr(p.literal)) for p in plan.parameters if p.literal is not None)
    constants = sum(len(repr(value)) for value in plan.constants.values())
    return ENTRY_BYTES + 2 * len(plan.sql) + literals + constants


def _digest(query: str) -> bytes:
    return hashlib.sha256(query.encode("utf-8", "surrogatepass")).digest()


def _shape(access: Access) -> str:
    caller = access.caller
    kind = "anonymous" if caller.user_name is None else "staff" if caller.is_staff else "user"
    return kind if access.rules is None else f"{kind}:{access.rules.key}"


class ByValue:
    """Marks a shape whose plans are kept per value of its variables (a text of them
    could not be a bind parameter)."""


BY_VALUE = ByValue()


def _value_shape(value: Any) -> Any:
    """What of a variable's value keys a plan: its structure (which fields of an input
    are given, how long a list is), and the values that shape the statement (booleans,
    numbers such as page sizes, enums, dates); never a text, which is bound."""
    if _is_text(value):
        return str
    if isinstance(value, Mapping):
        return tuple(sorted((name, _value_shape(item)) for name, item in value.items()))
    if isinstance(value, list | tuple):
        return tuple(_value_shape(item) for item in value)
    return repr(value)


def _is_text(value: Any) -> bool:
    """A text of a variable: a string, not an enum's value (which may be a ``str`` too:
    an ordering changes the statement, it keys the plan)."""
    return isinstance(value, str) and not isinstance(value, Enum)


def _by_value(key: tuple[Any, ...], document: Document, coerced: Mapping[str, Any]) -> Any:
    return (*key, tuple(repr(coerced.get(name)) for name in document.structural))


class _Texts:
    """The texts of a request's variables, replaced by sentinels to plan with.

    Each text of the structural variables (at any depth of an input object) becomes a
    unique word; after planning, each bind parameter whose value is a sentinel, or a
    value made from one by a known conversion (the search's LIKE pattern), becomes a
    parameter of the plan: the request's text, converted the same way. A sentinel that
    is anywhere else (in the SQL text, in part of a value) fails the planning: then the
    operation is planned per value."""

    def __init__(self, coerced: Mapping[str, Any], structural: tuple[str, ...]) -> None:
        self.text_index: TextIndex | None = None
        """The free-text index a search's words are bound for (``_search_words``)."""
        self.sentinels: dict[str, tuple[str, tuple[str | int, ...]]] = {}
        replaced = dict(coerced)
        for name in structural:
            replaced[name] = self._replace(coerced.get(name), name, ())
        self.coerced = replaced

    def _replace(self, value: Any, variable: str, path: tuple[str | int, ...]) -> Any:
        if _is_text(value):
            # Mixed case and padded, so that a statement holding the text folded, upper-cased
            # or stripped (filters that ignore case or spaces) is told apart from one
            # holding it as given: each gets the request's text converted the same way.
            sentinel = f" GwText{len(self.sentinels)}Sentinel "
            self.sentinels[sentinel] = (variable, path)
            return sentinel
        if isinstance(value, Mapping):
            return {k: self._replace(v, variable, (*path, k)) for k, v in value.items()}
        if isinstance(value, list):
            return [self._replace(v, variable, (*path, i)) for i, v in enumerate(value)]
        return value

    def parameters(self, sql: str, bound: Mapping[str, Any]) -> list[Parameter]:
        found: list[Parameter] = []
        for name, value in bound.items():
            if not isinstance(value, str) or "sentinel" not in value.lower():
                continue
            for sentinel, (variable, path) in self.sentinels.items():
                convert: Callable[[str], str] | None
                if name.startswith(TEXT_BIND):
                    # A search's words (one of their values may look like a plain
                    # conversion of the text, its words lower-cased, and is not one).
                    convert = (
                        None
                        if self.text_index is None
                        else _search_words(self.text_index, name, sentinel)
                    )
                    if convert is not None and convert(sentinel) != value:
                        convert = None
                else:
                    convert = next((c for c in _DERIVED if c(sentinel) == value), None)
                if convert is not None:
                    found.append(Parameter(name, variable, None, convert, path))
                    break
            else:
                raise Unsupported(f"a text in part of a value: {name}")
        if any(sentinel.strip().lower() in sql.lower() for sentinel in self.sentinels):
            raise Unsupported("a text in the SQL")
        return found


def _same(text: str) -> str:
    return text


def _like(text: str) -> str:
    from gateway.catalogue.search import like_pattern

    return like_pattern(text)


def _stripped(text: str) -> str:
    return text.strip()


def _folded(text: str) -> str:
    return text.strip().lower()  # as the filters that ignore case bind it (catalogue.search)


def _upper(text: str) -> str:
    return text.strip().upper()


def _search_words(index: TextIndex, name: str, planned: str) -> Callable[[str], str]:
    """The value of the search's bind parameter ``name`` for a request's text
    (``text_search.text_binds``), where its words have the shape of the ``planned`` text's
    (else ``ValueError``: the plan declines, the standard path answers; a text that is no
    search, ``BAD_USER_INPUT``, is the standard path's to report)."""
    shape = text_shape(index, search_terms(planned))

    def convert(text: str) -> str:
        terms = search_terms(text)
        if text_shape(index, terms) != shape:
            raise ValueError("words of another shape than the plan's")
        return text_binds(index, terms)[name]

    return convert


def _index_shape(index: TextIndex | None) -> tuple[Any, ...] | None:
    """What of the free-text index a search's statement depends on."""
    return None if index is None else (index.dialect, index.built, index.trigrams)


class _NotYet(Exception):
    """An operation that cannot be planned now but may be later (a search before its
    index's state is known or built): nothing is kept for its shape."""


_DERIVED: tuple[Callable[[str], str], ...] = (_same, _stripped, _folded, _upper, _like)
"""What a statement may hold for a text: the text, stripped, folded to lower or upper case
(the spellings an index equality tries), or its LIKE pattern."""


async def _fetch(
    engine: AsyncEngine, sql: str, arguments: list[Any], check: bool = False
) -> tuple[Any, bool]:
    """The statement's one row (None: none), sent as the standard path's are: through
    SQLAlchemy's connection, so that what applies to every statement applies to it (the
    request's budget and its cancellation, SQLite's deadline and write lock, the trace's
    span, the statement's metrics), on every database alike. The same connection's
    checkout, statement and return run in one greenlet: through AsyncConnection each of
    the three was a greenlet of its own, and a DOI lookup's 0.26 ms of client CPU for the
    statement fell to 0.19 (the raw asyncpg connection of 18dca3e: 0.11). ``check``:
    also whether the statement warned (:func:`warned`)."""
    return await greenlet_spawn(_fetch_sync, engine.sync_engine, sql, tuple(arguments), check)


def _fetch_sync(
    engine: Engine, sql: str, arguments: tuple[Any, ...], check: bool
) -> tuple[Any, bool]:
    with engine.connect() as connection:
        result = connection.exec_driver_sql(sql, arguments)
        warnings = check and warned(result.cursor)
        return result.first(), warnings


def warned(cursor: Any) -> bool:
    """Whether the statement just run on this cursor (SQLAlchemy's adapter of an asyncmy
    or aiomysql cursor: ``dialects.WARNING_DRIVERS``) warned: its result's warning count,
    which the server sends with the result (no round trip). A cursor whose count cannot
    be read counts as warned: the plan declines, and the standard path answers."""
    driver_cursor = getattr(cursor, "_cursor", cursor)
    count = getattr(getattr(driver_cursor, "_result", None), "warning_count", None)
    return not isinstance(count, int) or count > 0


def _data(entries: tuple[tuple[str, int | str], ...] | None, row: Any) -> str | None:
    """The ``data`` object's JSON text from a plan's row (see ``Plan.entries``), None
    when the plan does not answer: no row, or a root field's answer NULL."""
    if row is None:
        return None
    if entries is None:
        data: str | None = row[0]
        return data
    parts = []
    for key, value in entries:
        if isinstance(value, int):
            answer = row[value]
            if answer is None:
                return None
        else:
            answer = orjson.dumps(value).decode()
        parts.append(f"{orjson.dumps(key).decode()}:{answer}")
    return "{" + ",".join(parts) + "}"


def _read(query: str, operation_name: str | None, parsed: DocumentNode | None) -> Document | None:
    """The operation to plan, or None (not a query, not found, does not parse). The text
    is parsed only when no parsed document is given (the gate gives its own)."""
    document = parsed
    if document is None:
        try:
            document = parse(query, no_location=True)
        except Exception:  # the standard path reports syntax errors
            return None
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is not None:
        operations = [o for o in operations if o.name and o.name.value == operation_name]
    if len(operations) != 1 or operations[0].operation != OperationType.QUERY:
        return None
    operation = operations[0]
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    weight = len(query) * AST_BYTES_PER_CHARACTER
    structural, cursors, nested = _structural(operation, fragments)
    return Document(
        operation, fragments, structural, weight=weight, cursors=cursors, nested_cursors=nested
    )


def _structural(
    operation: OperationDefinitionNode, fragments: Mapping[str, FragmentDefinitionNode]
) -> tuple[tuple[str, ...], frozenset[str], frozenset[str]]:
    """The variables whose values shape the plan: all, but those used once, as the whole
    value of a lookup's argument on a root field of the operation itself; those of them
    used once, as a root field's cursor or a nested page's ``after``; and the latter."""
    uses: dict[str, int] = {}
    afters: set[str] = set()

    class Uses(Visitor):
        def enter_variable(self, node: VariableNode, *_: Any) -> None:
            uses[node.name.value] = uses.get(node.name.value, 0) + 1

        def enter_argument(self, node: Any, *_: Any) -> None:
            if node.name.value == "after" and isinstance(node.value, VariableNode):
                afters.add(node.value.name.value)

    for node in [operation.selection_set, *fragments.values()]:
        visit(node, Uses())
    lookups = set()
    cursors = set()
    for selection in operation.selection_set.selections:
        if isinstance(selection, FieldNode):
            for argument in selection.arguments or ():
                value = argument.value
                if argument.name.value in ("after", "before") and isinstance(value, VariableNode):
                    cursors.add(value.name.value)
        if isinstance(selection, FieldNode) and selection.name.value in LOOKUPS:
            for argument in selection.arguments or ():
                value = argument.value
                if argument.name.value == LOOKUPS[selection.name.value] and isinstance(
                    value, VariableNode
                ):
                    lookups.add(value.name.value)
    names = [d.variable.name.value for d in operation.variable_definitions or ()]
    structural = tuple(sorted(n for n in names if not (n in lookups and uses.get(n) == 1)))
    nested = frozenset(n for n in afters - cursors if uses.get(n) == 1)
    return structural, frozenset(n for n in cursors if uses.get(n) == 1) | nested, nested


# --------------------------------------------------------------------------------------
# Root fields
# --------------------------------------------------------------------------------------


@dataclass
class _Planning:
    request: Request
    access: Access
    settings: Settings
    dialect: Dialect
    strawberry: Any
    parameters: list[Parameter] = field(default_factory=list)
    cursors: list[_Cursor] = field(default_factory=list)
    """The cursors of the pages planned, whose values are bind parameters."""
    cursor_fields: list[tuple[tuple[str, ...], str]] = field(default_factory=list)
    """Where the plan's answer holds a page's sort keys to encode as a cursor."""
    page_keys: tuple[str, tuple[int, ...]] = ("", ())
    """The listing of the page planned, and which of its sort keys are date-times."""
    tables: int = 0
    text_index: TextIndex | None = None
    """The free-text index's state as the request read it (``Operations.learn``)."""
    searched: bool = False
    """Whether the plan searches free text (its ``text_index`` is then part of it)."""
    checked: bool = False
    """Statements for an executor that checks their warnings (``JsonDialect.checked``)."""

    def table(self, statement: Any, name: str) -> Any:
        """A statement as a CTE of the plan (with a name of its own), where a subquery
        would be nested: every CTE is written at the top of the statement, so the items'
        JSON is no deeper in the plan than in the page's statement. Nested, SQLite's
        parser refused the whole selection of a session list (``parser stack
        overflow``)."""
        self.tables += 1
        return statement.cte(f"{name}_{self.tables}")

    @property
    def json(self) -> JsonDialect:
        json = json_dialect(self.dialect.name, checked=self.checked)
        assert json is not None  # Operations.applies
        return json

    @property
    def request_binds(self) -> set[str]:
        return {NOW, USER, *(p.bind for p in self.parameters)}

    def parameter(
        self, node: FieldNode, argument: str, type_: Any, convert: Callable[[Any], Any]
    ) -> Any:
        """A bind parameter for a lookup's argument (a variable or a literal)."""
        name = f"gw_p{len(self.parameters)}"
        for given in node.arguments or ():
            if given.name.value == argument:
                value = given.value
                variable = value.name.value if isinstance(value, VariableNode) else None
                break
        else:
            raise Unsupported(f"{argument} not given")
        literal_value = value_from_ast_untyped(value) if variable is None else None
        self.parameters.append(Parameter(name, variable, literal_value, convert))
        return bindparam(name, None, type_=type_)

    def arguments(self, parent: GraphQLObjectType, node: FieldNode) -> dict[str, Any]:
        """The field's arguments as the resolver gets them (strawberry's input types)."""
        from strawberry.types.arguments import convert_arguments

        definition = parent.fields[node.name.value]
        coerced = get_argument_values(definition, node, self.request.variables)
        strawberry_field = definition.extensions["strawberry-definition"]
        converter = self.strawberry.schema_converter
        return convert_arguments(
            coerced,
            strawberry_field.arguments,
            scalar_registry=converter.scalar_registry,
            config=self.strawberry.config,
        )

    def fields(self, type_name: str, nodes: list[FieldNode]) -> tuple[Field, ...]:
        parent = self.request.schema.get_type(type_name)
        assert isinstance(parent, GraphQLObjectType)
        return collect(self.request, parent, [n.selection_set for n in nodes if n.selection_set])

    def renderer(self, type_name: str, fields: tuple[Field, ...]) -> Any:
        render = renderer_for(
            type_name, fields, self.settings, self.access, self.dialect, checked=self.checked
        )
        if render is None:
            raise Unsupported(type_name)
        return render


def _one(
    planning: _Planning,
    type_name: str,
    nodes: list[FieldNode],
    statement: Any,
    key: Mapping[str, Any] | None = None,
) -> ColumnElement[Any]:
    """The rendered JSON of the first row of a statement (NULL: none, or not rendered);
    ``key``: the values of its columns that the statement selects the row by (see
    ``items.ItemRenderer.keyed``)."""
    render = planning.renderer(type_name, planning.fields(type_name, nodes))
    if key is not None:
        render = render.keyed(key)
    rendered = select_rendered(statement, render)
    if rendered is None:
        raise Unsupported(type_name)
    if not planning.json.root_tables:
        # The row's JSON as the statement's column (see ``JsonDialect.root_tables``).
        answer: ColumnElement[Any] = rendered.limit(1).scalar_subquery()
        return answer
    # A CTE, not a subquery: see ``_Planning.table``.
    row = planning.table(rendered.limit(1), "one")
    json: ColumnElement[Any] = select(row.c[JSON_COLUMN]).scalar_subquery()
    return json


def _global_id(type_name: str) -> Callable[[Any], int]:
    from gateway.fields.identity import parse_global_id

    def convert(value: Any) -> int:
        return parse_global_id(value, type_name)[1]

    return convert


def _by_id(
    type_name: str, statement: Callable[[Access, Any], Any]
) -> Callable[[_Planning, GraphQLObjectType, list[FieldNode]], ColumnElement[Any]]:
    def build(
        planning: _Planning, parent: GraphQLObjectType, nodes: list[FieldNode]
    ) -> ColumnElement[Any]:
        given = {a.name.value for a in nodes[0].arguments or ()}
        if given != {"id"} or len(nodes) != 1:
            raise Unsupported("only by id")
        icat_id = planning.parameter(nodes[0], "id", BigInteger(), _global_id(type_name))
        return _one(
            planning, type_name, nodes, statement(planning.access, icat_id), {"id": icat_id}
        )

    return build


def _doi(
    planning: _Planning, parent: GraphQLObjectType, nodes: list[FieldNode]
) -> ColumnElement[Any]:
    if len(nodes) != 1:
        raise Unsupported("doi twice")

    def variants(doi: Any) -> list[str]:
        if not isinstance(doi, str) or not doi.strip():
            raise ValueError("empty DOI")
        normalised = queries.normalise_doi(doi)
        return [normalised, normalised.upper(), normalised.lower()]

    # Each spelling ``doi_variants`` tries, a bind parameter of its own: an index
    # equality on every database (no array parameter).
    dois = [planning.parameter(nodes[0], "doi", String(), _variant(variants, i)) for i in range(3)]
    # As ``find_by_doi``: sessions first; anything else (a dataset's DOI, none) declines.
    statement = queries.investigations(planning.access).where(InvestigationRow.doi.in_(dois))
    return _one(planning, "Investigation", nodes, statement)


def _variant(variants: Callable[[Any], list[str]], index: int) -> Callable[[Any], str]:
    def convert(doi: Any) -> str:
        return variants(doi)[index]

    return convert


CONNECTION_FIELDS = frozenset({"totalCount", "pageInfo", "nodes", "__typename"})
PAGE_INFO_FIELDS = frozenset(
    {"hasNextPage", "hasPreviousPage", "startCursor", "endCursor", "__typename"}
)


def _investigations(
    planning: _Planning, parent: GraphQLObjectType, nodes: list[FieldNode]
) -> ColumnElement[Any]:
    from gateway.catalogue.search import investigation_conditions

    if len(nodes) != 1:
        raise Unsupported("investigations twice")
    arguments = planning.arguments(parent, nodes[0])
    search, order = arguments.get("filter"), arguments.get("order_by")
    access = planning.access
    text = search.search if search is not None else None
    match = None if text is None else _text_match(planning, access, text, arguments)
    if match is None and order is not None and order.field.value == RELEVANCE:
        raise Unsupported("RELEVANCE without free text")  # the standard path refuses it
    searching = (RELEVANCE, True) if match is not None else NEWEST_FIRST
    ordering = order.key() if order is not None else searching
    field, descending = ordering
    keys = (
        relevance_keys(match.relevance, descending)
        if match is not None and field == RELEVANCE
        else investigation_keys(field, descending, access)
    )
    page = _page(planning, nodes[0], arguments, cursor_listing("investigations", ordering), keys)
    connection_type = parent.fields["investigations"].type
    while hasattr(connection_type, "of_type"):
        connection_type = connection_type.of_type
    fields = planning.fields(connection_type.name, nodes)
    for selected in fields:
        if selected.name not in CONNECTION_FIELDS:
            raise Unsupported(f"{selected.name} of a root list")
        if selected.name == "pageInfo" and any(
            child.name not in PAGE_INFO_FIELDS for child in selected.children
        ):
            raise Unsupported(f"{[c.name for c in selected.children]} of pageInfo")
    items = [f for f in fields if f.name == "nodes"]
    render = planning.renderer("Investigation", items[0].children) if items else None
    statement = queries.investigations(access)
    if search is not None:
        statement = statement.where(*investigation_conditions(access, search))
    if match is not None:
        statement = match.applied(statement)
    total = any(f.name == "totalCount" for f in fields)
    rows, rendered = page_statement(
        planning.dialect.name,
        statement,
        keys,
        page,
        render,
        total=total,
        # As the standard path reads a search (``schema.investigation_search``): the
        # matches once for the page and its total, the page's rows by id.
        costly_filter=match is not None,
        columns_from=queries.investigations(access) if match is not None else None,
    )
    if render is not None and not rendered:
        raise Unsupported("items not rendered")
    page_rows = planning.table(rows, "page_rows")
    json = planning.json
    # Rows are numbered as they were read (reversed for ``last``), and the first ``limit``
    # of them are the page: the one more read says whether more follow.
    reading = [
        SortKey(page_rows.c[f"_k{i}"], key.descending, key.nullable) for i, key in enumerate(keys)
    ]
    if not json.numbered_pages and not page.backward and page.limit > 0:
        return _list_aggregated(
            planning, page_rows, reading, keys, page, fields, render, connection_type.name
        )
    number = (
        func.row_number()
        .over(order_by=order_terms(reading, reverse=page.backward, native_nulls=json.native_nulls))
        .label("_rn")
    )
    read = func.count().over().label("_n")
    shown_first = number.desc() if page.backward else number
    extra: list[Any] = []
    if any(
        child.name in CURSOR_FIELDS for f in fields if f.name == "pageInfo" for child in f.children
    ):
        written = [
            json.datetime(page_rows.c[f"_k{i}"]) if _is_datetime(key) else page_rows.c[f"_k{i}"]
            for i, key in enumerate(keys)
        ]
        extra.append(json.list(written).label("_cursor"))
    numbered = planning.table(
        select(page_rows, number, read, *extra).order_by(shown_first), "numbered"
    )
    shown_order = numbered.c._rn.desc() if page.backward else numbered.c._rn
    more = func.coalesce(func.max(numbered.c._n), 0) > page.limit
    pairs: list[Any] = []
    for selected in fields:
        if selected.name == "__typename":
            value: Any = literal(connection_type.name)
        elif selected.name == "totalCount":
            value = func.coalesce(func.max(numbered.c[TOTAL_COLUMN]), 0)
        elif selected.name == "pageInfo":
            value = json.object(_page_info(planning, selected, page, more, numbered, shown_order))
        elif page.limit == 0:
            value = json.empty_list
        else:
            value = json.rows_array(numbered.c[JSON_COLUMN], shown_order)
        pairs += [literal(selected.key), value]
    answer: ColumnElement[Any] = json.object(pairs)
    declines: list[Any] = []
    if render is not None and page.limit > 0:
        # A row rendered NULL (its DATA fields are not the caller's): NULL, which declines.
        hidden = func.sum(case((numbered.c[JSON_COLUMN].is_(None), 1), else_=0))
        declines.append(func.coalesce(hidden, 0) > 0)
    if page.after is not None or page.before is not None:
        # A page past either end: the standard path counts the list apart (its total is
        # not 0), and knows whether the cursor's row is gone.
        declines.append(func.count() == 0)
    if declines:
        answer = case((or_(*declines), null()), else_=answer)
    answered = select(answer).select_from(numbered)
    if page.limit == 0:
        # No row is shown, but the one row read says whether the list has any, and holds
        # its total: read over it (the standard path counts it, and says more follow).
        return answered.scalar_subquery()
    return answered.where(numbered.c._rn <= page.limit).scalar_subquery()


def _list_aggregated(
    planning: _Planning,
    page_rows: Any,
    reading: list[SortKey],
    keys: list[SortKey],
    page: PageRequest,
    fields: tuple[Field, ...],
    render: Any,
    type_name: str,
) -> ColumnElement[Any]:
    """A root list's page without numbering its rows (``JsonDialect.numbered_pages``
    off; forward pages of at least one row): aggregates with ORDER BY and LIMIT inside
    them read the first ``limit`` rows, and more follow if more were read. It declines
    where a row read is rendered NULL (the one more read included: the standard path
    answers)."""
    json = planning.json
    limit = page.limit
    order = order_terms(reading, native_nulls=json.native_nulls)
    read = func.count()
    pairs: list[Any] = []
    for selected in fields:
        if selected.name == "__typename":
            value: Any = literal(type_name)
        elif selected.name == "totalCount":
            value = func.coalesce(func.max(page_rows.c[TOTAL_COLUMN]), 0)
        elif selected.name == "pageInfo":
            infos: list[Any] = []
            for child in selected.children:
                if child.name == "__typename":
                    found: Any = literal("PageInfo")
                elif child.name in CURSOR_FIELDS:
                    # The sort keys of the page's rows, in order (``Plan.cursors``).
                    written = [
                        json.datetime(page_rows.c[f"_k{i}"])
                        if _is_datetime(key)
                        else page_rows.c[f"_k{i}"]
                        for i, key in enumerate(keys)
                    ]
                    found = json.first_rows(json.list(written), order, limit)
                    planning.cursor_fields.append(((selected.key, child.key), child.name))
                elif child.name == "hasNextPage":
                    found = json.boolean(read > limit)
                else:  # hasPreviousPage: whether a cursor was given to come from
                    found = json.boolean(true() if page.after is not None else false())
                infos += [literal(child.key), found]
            value = json.object(infos)
        else:
            value = json.first_rows(page_rows.c[JSON_COLUMN], order, limit)
        pairs += [literal(selected.key), value]
    answer: ColumnElement[Any] = json.object(pairs)
    declines: list[Any] = []
    if render is not None:
        hidden = func.sum(case((page_rows.c[JSON_COLUMN].is_(None), 1), else_=0))
        declines.append(func.coalesce(hidden, 0) > 0)
    if page.after is not None or page.before is not None:
        declines.append(read == 0)
    if declines:
        answer = case((or_(*declines), null()), else_=answer)
    return select(answer).select_from(page_rows).scalar_subquery()


CURSOR_FIELDS = frozenset({"startCursor", "endCursor"})


def _text_match(
    planning: _Planning, access: Access, text: str, arguments: Mapping[str, Any]
) -> Any:
    """A search's free text as the standard path matches and ranks it
    (``text_search.session_text_match``), its words bind parameters (``_Texts``), for the
    index's state the request read. The first page of a search without ICAT's rules only:
    the rest is left to the standard path."""
    index = planning.text_index
    if index is None or not index.built:
        raise _NotYet("the free-text index's state unknown, or never built")
    if access.rules is not None:
        raise Unsupported("free text under ICAT's rules")
    if arguments.get("after") is not None or arguments.get("before") is not None:
        raise Unsupported("a search's page after a cursor")
    planning.searched = True
    return session_text_match(access, text, index)


def _is_datetime(key: SortKey) -> bool:
    column_type = getattr(key.expression, "type", None)
    return isinstance(column_type, DateTime)


def _page(
    planning: _Planning,
    node: FieldNode,
    arguments: Mapping[str, Any],
    listing: str,
    keys: list[SortKey],
) -> PageRequest:
    """The page asked for, its cursors' values replaced by marks that each request's
    cursors take the place of (bind parameters: a plan serves every cursor of its list,
    ordering and pattern of NULLs). Bad sizes and cursors are the standard path's to
    report."""
    settings = planning.settings
    try:
        page = page_request(
            first=arguments.get("first"),
            after=arguments.get("after"),
            last=arguments.get("last"),
            before=arguments.get("before"),
            default_size=settings.default_page_size,
            max_size=settings.max_page_size,
        ).of(listing)
        for argument in ("after", "before"):
            values = getattr(page, argument)
            if values is not None:
                keyset_condition(keys, values, after=argument == "after")  # fits the keys
    except GatewayError:
        raise Unsupported("a bad page") from None
    marked: dict[str, tuple[Any, ...]] = {}
    for argument in ("after", "before"):
        values = getattr(page, argument)
        if values is None:
            continue
        variable, given = _given(node, argument)
        marks = tuple(
            None if value is None else _mark(value, len(planning.cursors) * 16 + i)
            for i, value in enumerate(values)
        )
        planning.cursors.append(_Cursor(argument, variable, given, listing, marks))
        marked[argument] = marks
    datetimes = tuple(i for i, key in enumerate(keys) if _is_datetime(key))
    planning.page_keys = (listing, datetimes)
    return dataclasses.replace(page, after=marked.get("after"), before=marked.get("before"))


def _marked_cursors(
    document: Document, coerced: dict[str, Any], cursors: list[_Cursor]
) -> dict[str, Any]:
    """The variables with each nested page's ``after`` cursor (``Document.nested_cursors``)
    replaced by a cursor of the same listing whose values are marks: the renderer binds
    them (``templates.cursor_values``), and each becomes a parameter of the plan, the
    request's cursor's value (a cursor of another listing, types or NULLs declines). One
    that does not decode is the standard path's to report."""
    if not document.nested_cursors:
        return coerced
    marked = dict(coerced)
    for variable in sorted(document.nested_cursors):
        cursor = coerced.get(variable)
        if cursor is None:
            continue
        if not isinstance(cursor, str):
            raise Unsupported("a cursor that is not a text")
        try:
            listing, values = decode_cursor(cursor, "after")
        except GatewayError:
            raise Unsupported("a bad cursor") from None
        marks = tuple(
            None if value is None else _mark(value, len(cursors) * 16 + i)
            for i, value in enumerate(values)
        )
        cursors.append(_Cursor("after", variable, None, listing, marks))
        marked[variable] = encode_cursor(listing, list(marks))
    return marked


def _given(node: FieldNode, argument: str) -> tuple[str | None, Any]:
    for given in node.arguments or ():
        if given.name.value == argument:
            value = given.value
            if isinstance(value, VariableNode):
                return value.name.value, None
            return None, value_from_ast_untyped(value)
    raise Unsupported(f"{argument} not given")


CURSOR_MARK = "GwCursorMark"


def _mark(value: Any, index: int) -> Any:
    """A value of the same type as a cursor's, which nothing else in a statement holds."""
    if isinstance(value, bool):
        raise Unsupported("a boolean sort key")
    if isinstance(value, int):
        return 7_340_000_000_000 + index
    if isinstance(value, datetime):
        return datetime(1903, 4, 5, 6, 7, 8, 900_000 + index)
    if isinstance(value, str):
        return f"{CURSOR_MARK}{index}"
    raise Unsupported(f"a sort key of {type(value).__name__}")


@dataclass(frozen=True)
class _Cursor:
    """A cursor argument of a planned page: where a request gives it, and its values'
    marks (None where the cursor's value is NULL: part of the plan's statement)."""

    argument: str
    variable: str | None
    literal: Any
    listing: str
    marks: tuple[Any, ...]

    def value(self, index: int) -> Callable[[Any], Any]:
        """The request's cursor's value at ``index``; a cursor of another list or
        ordering, or with other NULLs or types than the plan's, declines (ValueError)."""

        def convert(cursor: Any) -> Any:
            if not isinstance(cursor, str):
                raise ValueError("no cursor")
            listing, values = decode_cursor(cursor, self.argument)
            if listing != self.listing or len(values) != len(self.marks):
                raise ValueError("another list's cursor")
            for value, mark in zip(values, self.marks, strict=True):
                if (value is None) != (mark is None) or type(value) is not type(mark):
                    raise ValueError("another shape of cursor")
            return values[index]

        return convert

    def parameters(self, bound: Mapping[str, Any]) -> list[Parameter]:
        found: list[Parameter] = []
        for index, mark in enumerate(self.marks):
            if mark is None:
                continue
            names = [n for n, v in bound.items() if type(v) is type(mark) and v == mark]
            if not names:
                raise Unsupported("a cursor's value is not a parameter")
            found += [
                Parameter(name, self.variable, self.literal, self.value(index)) for name in names
            ]
        return found

    def holds(self, value: Any) -> bool:
        """Whether a constant of the statement holds a mark (then it is not planned)."""
        if isinstance(value, str):
            return CURSOR_MARK in value
        return any(type(value) is type(mark) and value == mark for mark in self.marks)


def _page_info(
    planning: _Planning,
    selected: Field,
    page: PageRequest,
    more: ColumnElement[bool],
    numbered: Any,
    shown_order: Any,
) -> list[Any]:
    json = planning.json
    pairs: list[Any] = []
    for child in selected.children:
        if child.name == "__typename":
            value: Any = literal("PageInfo")
        elif child.name in CURSOR_FIELDS:
            # The sort keys of the page's rows, in order: the plan encodes the first's or
            # the last's as the cursor (``Plan.cursors``).
            value = (
                json.empty_list
                if page.limit == 0
                else json.rows_array(numbered.c._cursor, shown_order)
            )
            planning.cursor_fields.append(((selected.key, child.key), child.name))
        elif (child.name == "hasNextPage") != page.backward:
            value = json.boolean(more)
        else:  # the way back: whether a cursor was given to come from
            came = page.before if page.backward else page.after
            value = json.boolean(true() if came is not None else false())
        pairs += [literal(child.key), value]
    return pairs


_ROOTS: dict[str, Callable[[_Planning, GraphQLObjectType, list[FieldNode]], ColumnElement[Any]]] = {
    "investigations": _investigations,
    "investigation": _by_id(
        "Investigation",
        lambda access, icat_id: queries.investigations(access).where(
            InvestigationRow.id == icat_id
        ),
    ),
    "dataset": _by_id("Dataset", lambda access, icat_id: queries.datasets_by_id(access, [icat_id])),
    "datafile": _by_id(
        "Datafile", lambda access, icat_id: queries.datafiles_by_id(access, [icat_id])
    ),
    "doi": _doi,
}
