"""How each database writes JSON: the renderer's SQL, dialect by dialect.

``gateway.compiled.render`` builds one expression tree per selection; the few places
where databases disagree go through a :class:`JsonDialect`: building an object and an
array, marking a subquery's text as JSON (not a string to escape), and writing values as
strawberry serialises them (ISO date-times, floats with their ``.0``, booleans, global
ids). PostgreSQL (``json_build_object``/``json_agg``), MariaDB and MySQL
(``JSON_OBJECT``/``JSON_ARRAYAGG``) and SQLite (``json_object``/``json_group_array``) are
implemented and tested; Oracle's ``JSON_OBJECT``/``JSON_ARRAYAGG`` would be one more class.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import reduce
from typing import Any

from sqlalchemy import (
    CHAR,
    DECIMAL,
    JSON,
    ColumnElement,
    Select,
    Text,
    and_,
    case,
    cast,
    func,
    literal_column,
    not_,
    or_,
    select,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.types import NullType

from gateway.catalogue.database import SQLITE_BASE64, SQLITE_FLOAT


class JsonDialect:
    """PostgreSQL's JSON (the reference the others follow)."""

    name = "postgresql"
    native_nulls = True
    """ORDER BY ... NULLS LAST (see ``pagination.order_terms``)."""
    lateral = True
    """LATERAL lookups by key (see ``render._lookup_cols``)."""
    max_arguments = 100
    """A function takes at most this many arguments (PostgreSQL's limit)."""
    cursor_pages = True
    """Nested pages with cursors (``after``, ``edges``, ``startCursor``, ``endCursor``)
    are compiled. Each is read once where the database plans it by the listing's index
    (``render._page_once``): on PostgreSQL its LIMIT is one the planner cannot fold
    (:meth:`page_limit`); on MariaDB, where a page's parent is one row given by its key
    (``dataset(id:)``) and the page reads nothing else of it, as an uncorrelated derived
    table. A MariaDB page under many parents aggregates with ``JSON_ARRAYAGG ... LIMIT``,
    as its first pages without cursors always have."""
    correlated_pages = True
    """A nested page with cursors is read once, as a derived table correlated with its
    parent's row (``render._page_once``): its rows give the nodes, the edges, the cursors
    and whether more follow. MariaDB refers to no outer column from a derived table:
    there a page is read once only where it reads nothing of its parent's row but bound
    values (the key of a root field's one row: ``items.ItemRenderer.keyed``), else each
    value is a correlated subquery of its own. (First pages without cursors keep one
    subquery per value on every database.)"""

    @property
    def empty_list(self) -> ColumnElement[Any]:
        return literal_column("'[]'::json")

    def object(self, arguments: list[Any]) -> ColumnElement[Any]:
        return func.json_build_object(*arguments)

    def array(
        self,
        statement: Select[Any],
        order: Sequence[Any],
        limit: int | None = None,
        values: bool = False,
    ) -> ColumnElement[Any]:
        """The rows of a one-column statement as a JSON array, in ``order``, the first
        ``limit`` of them; ``values``: its column holds plain values (text), not JSON."""
        listed = statement.order_by(*order).limit(limit)
        return func.array_to_json(func.array(listed.scalar_subquery()))

    def nested(self, value: ColumnElement[Any]) -> ColumnElement[Any]:
        """The JSON text of a subquery, as a JSON value of the enclosing object."""
        return value

    numbered_pages = True
    """A page read once (``render._page_once``) numbers its rows (``row_number()`` and
    ``count(*)`` over them) and aggregates the first ``limit``. False: aggregates with
    ORDER BY and LIMIT inside them (:meth:`first_rows`, :meth:`first_values`) read the
    rows as they are: on MariaDB each window sorted the page again (half a millisecond
    of a page of 100 files, a third of its statement)."""

    def first_rows(self, value: Any, order: Sequence[Any], limit: int) -> ColumnElement[Any]:
        """The JSON ``value`` of the first ``limit`` rows in ``order``, as a JSON array
        (empty for none): an aggregate (``numbered_pages`` off)."""
        raise NotImplementedError(self.name)

    def first_values(self, value: Any, order: Sequence[Any], limit: int) -> Any:
        """A plain value (a sort key) of the first ``limit`` rows in ``order``, as a JSON
        array (NULL for no row): an aggregate (``numbered_pages`` off)."""
        raise NotImplementedError(self.name)

    checked = False
    """The statement's warnings are read by its executor, which declines an answer whose
    statement warned (``operations.Plan.checked``): only operation plans, on a driver
    that reports them. MariaDB then aggregates JSON as bounded text (:class:`MariaDBJson`)."""

    def page_value(self, value: ColumnElement[Any]) -> ColumnElement[Any]:
        """A JSON value as a derived table's column (``render._page_once``)."""
        return value

    def json_value(self, document: Any, path: str) -> Any:
        """The scalar at ``path`` in a JSON document, as SQL text (NULL for JSON null)."""
        raise NotImplementedError(self.name)

    materialize: str | None = "MATERIALIZED"
    """The prefix that makes a CTE computed once (None: the database does by itself)."""
    root_tables = True
    """An operation plan reads each root field's answer from a CTE and builds the ``data``
    object in its statement (``operations.Operations._plan``): SQLite's parser needs the
    nesting flat, PostgreSQL computes each answer once. False: each root field is a
    scalar subquery, a column of the statement, and the executor writes the ``data``
    object around their JSON (MariaDB fills a temporary table per CTE read, about a
    tenth of a millisecond each, a third of a DOI lookup's statement)."""

    def page_limit(self, rows: int) -> Any:
        """The LIMIT of a page read once (``render._page_once``). PostgreSQL plans a page
        correlated with its parent's row for an average parent (3 files of a dataset):
        with a constant LIMIT above that, it finds reading every file after the cursor
        (a bitmap scan) and sorting them cheaper than walking the listing's index, and
        does so for the 10,000-file dataset too (8,900 files read and sorted for a page of
        100). A LIMIT it cannot fold (a subquery) is planned as reading a tenth of the
        rows: the index, in order, with no sort (``tests/integration/test_keyset_plans``)."""
        return select(literal_column(str(int(rows)))).scalar_subquery()

    def column(self, value: ColumnElement[Any]) -> ColumnElement[Any]:
        """A derived table's or CTE's column of JSON, as a JSON value again."""
        return value

    def rows_array(
        self, value: ColumnElement[Any], order: ColumnElement[Any]
    ) -> ColumnElement[Any]:
        """An aggregate: the JSON ``value`` of the rows in ``order`` as a JSON array (an
        empty one for none). The rows come from a derived table in that order."""
        return func.coalesce(func.json_agg(aggregate_order_by(value, order)), self.empty_list)

    def list(self, values: list[Any]) -> ColumnElement[Any]:
        """A JSON array of these values."""
        return func.json_build_array(*values)

    def boolean(self, value: Any) -> Any:
        return value

    def text(self, value: Any) -> Any:
        return value

    def datetime(self, value: Any) -> Any:
        """As ``datetime.isoformat()`` writes a naive one (strawberry's DateTime)."""
        whole = func.to_char(value, literal_column("'YYYY-MM-DD\"T\"HH24:MI:SS'"))
        fraction = func.to_char(value, literal_column("'.US'"))
        return case(
            (value == func.date_trunc(literal_column("'second'"), value), whole),
            else_=whole.op("||")(fraction),
        )

    def number(self, value: Any) -> Any:
        """A GraphQL Float: PostgreSQL writes 1357.0 as ``1357``, which would read back as
        an int; whole numbers below 1e15 (written without an exponent) get their ``.0``."""
        whole = and_(value == func.trunc(value), func.abs(value) < 1e15)
        as_float = cast(cast(value, Text).op("||")(literal_column("'.0'")), JSON)
        return case((whole, as_float), else_=func.to_json(value))

    def global_id(self, type_name: str, value: Any) -> Any:
        """``gateway.schema.node.global_id`` in SQL: base64 of ``Type:id``."""
        text = literal_column(f"'{type_name}:'").op("||")(cast(value, Text))
        return func.encode(
            func.convert_to(text, literal_column("'UTF8'")), literal_column("'base64'")
        )

    # Cursors (``pagination.encode_cursor`` in SQL: ``render.cursor_text``) ----------

    def concat(self, parts: Sequence[Any]) -> Any:
        """Texts joined (none of them NULL)."""
        return reduce(lambda left, right: left.op("||")(right), parts)

    def json_text(self, value: Any) -> Any:
        """A text as a JSON string, escaped as orjson escapes it."""
        return cast(func.to_json(value), Text)

    def integer_text(self, value: Any) -> Any:
        return cast(value, Text)

    def base64url(self, text: Any) -> Any:
        """``base64.urlsafe_b64encode`` of the text's UTF-8, without its ``=`` padding.
        PostgreSQL's base64 breaks lines every 76 characters: they are removed."""
        encoded = func.encode(
            func.convert_to(text, literal_column("'UTF8'")), literal_column("'base64'")
        )
        dropped = literal_column("'+/'").op("||")(func.chr(10))
        return func.rtrim(func.translate(encoded, dropped, literal_column("'-_'")), "=")


class SQLiteJson(JsonDialect):
    """SQLite's JSON1 functions (built in since 3.38).

    A subquery's JSON comes back as text: ``json()`` makes it JSON again inside an
    object or array. Booleans are integers, date-times the text SQLAlchemy stores
    (``2024-05-01 10:00:00.000000``); base64 and floats as the response writes them are
    functions the engine registers on each connection
    (``gateway.catalogue.database.sqlite_functions``)."""

    name = "sqlite"
    lateral = False

    def page_limit(self, rows: int) -> Any:
        return rows

    @property
    def empty_list(self) -> ColumnElement[Any]:
        return literal_column("json('[]')")

    def object(self, arguments: list[Any]) -> ColumnElement[Any]:
        return func.json_object(*arguments)

    def array(
        self,
        statement: Select[Any],
        order: Sequence[Any],
        limit: int | None = None,
        values: bool = False,
    ) -> ColumnElement[Any]:
        # A derived table, so that the aggregate reads its rows in their order (and
        # after their LIMIT); it refers to the enclosing row's columns, which SQLAlchemy
        # correlates in FROM only when told.
        rows = statement.order_by(*order).limit(limit).correlate_except(None).subquery()
        (value,) = rows.c
        item = value if values else self.nested(value)
        return self.nested(select(func.json_group_array(item)).scalar_subquery())

    def nested(self, value: ColumnElement[Any]) -> ColumnElement[Any]:
        return func.json(value)

    def column(self, value: ColumnElement[Any]) -> ColumnElement[Any]:
        return func.json(value)

    def rows_array(
        self, value: ColumnElement[Any], order: ColumnElement[Any]
    ) -> ColumnElement[Any]:
        # No ORDER BY within an aggregate before 3.44: it reads the derived table's rows
        # in their order (an aggregate over a subquery with ORDER BY is not flattened).
        return func.coalesce(func.json_group_array(func.json(value)), self.empty_list)

    def list(self, values: list[Any]) -> ColumnElement[Any]:
        return func.json_array(*values)

    def boolean(self, value: Any) -> Any:
        return func.json(
            case(
                (value.is_(None), None),
                (value, literal_column("'true'")),
                else_=literal_column("'false'"),
            )
        )

    def datetime(self, value: Any) -> Any:
        day = func.substr(value, 1, 10).op("||")(literal_column("'T'"))
        fraction = func.substr(value, 20)
        return case(
            (value.is_(None), None),
            # Not IN (a list): an expanding parameter, which an operation plan cannot keep.
            (
                or_(fraction == literal_column("''"), fraction == literal_column("'.000000'")),
                day.op("||")(func.substr(value, 12, 8)),
            ),
            else_=day.op("||")(func.substr(value, 12)),
        )

    def number(self, value: Any) -> Any:
        return func.json(getattr(func, SQLITE_FLOAT)(value))

    def global_id(self, type_name: str, value: Any) -> Any:
        text = literal_column(f"'{type_name}:'").op("||")(value)
        return getattr(func, SQLITE_BASE64)(text)

    def json_text(self, value: Any) -> Any:
        return func.json_quote(value)

    def base64url(self, text: Any) -> Any:
        encoded = getattr(func, SQLITE_BASE64)(text)
        return func.rtrim(func.replace(func.replace(encoded, "+", "-"), "/", "_"), "=")


class _ArrayAgg(ColumnElement[Any]):
    """``JSON_ARRAYAGG(value ORDER BY ... LIMIT n)`` (MariaDB 10.5+, MySQL has no LIMIT)."""

    inherit_cache = False
    function = "JSON_ARRAYAGG"
    separator: str | None = None

    def __init__(self, value: Any, order: Sequence[Any], limit: int | None) -> None:
        self.value = value
        self.order = tuple(order)
        self.limit = limit
        self.type = NullType()


class _GroupConcat(_ArrayAgg):
    """``GROUP_CONCAT(value ORDER BY ... SEPARATOR ',' LIMIT n)`` (MariaDB 10.3+)."""

    inherit_cache = False
    function = "GROUP_CONCAT"
    separator = ","


@compiles(_ArrayAgg)
@compiles(_GroupConcat)
def _render_ordered_aggregate(element: _ArrayAgg, compiler: SQLCompiler, **kw: Any) -> str:
    sql = f"{element.function}(" + compiler.process(element.value, **kw)
    if element.order:
        sql += " ORDER BY " + ", ".join(compiler.process(term, **kw) for term in element.order)
    if element.separator is not None:
        sql += f" SEPARATOR '{element.separator}'"
    if element.limit is not None:
        sql += f" LIMIT {int(element.limit)}"
    return sql + ")"


class _BoundedText(ColumnElement[Any]):
    """``CAST(value AS CHAR(n) CHARACTER SET utf8mb4)``: text MariaDB keeps in memory in
    a temporary table (a longer one, or any JSON function's value, is a BLOB there)."""

    inherit_cache = False

    def __init__(self, value: Any, characters: int) -> None:
        self.value = value
        self.characters = characters
        self.type = NullType()


@compiles(_BoundedText)
def _render_bounded_text(element: _BoundedText, compiler: SQLCompiler, **kw: Any) -> str:
    value = compiler.process(element.value, **kw)
    return f"CAST({value} AS CHAR({int(element.characters)}) CHARACTER SET utf8mb4)"


BOUNDED_CHARACTERS = 512
"""The longest text MariaDB (10.11) keeps as VARCHAR in an in-memory temporary table
(``CONVERT_IF_BIGGER_TO_BLOB``); a longer one is a BLOB, and the table one of Aria's."""


def _json_literal(text: str) -> ColumnElement[Any]:
    return func.json_extract(literal_column(f"'{text}'"), literal_column("'$'"))


class MariaDBJson(JsonDialect):
    """MariaDB's JSON_OBJECT and JSON_ARRAYAGG (10.5+: ORDER BY and LIMIT within it).

    No LATERAL and no NULLS LAST; an aggregate over no rows is NULL (an empty array
    here); ``||`` is OR. A value is JSON inside JSON_OBJECT when a JSON function made
    it (subqueries of one included); booleans are integers, so they become JSON
    ``true``/``false`` through JSON_EXTRACT, and floats are written with their ``.0``
    as strawberry writes them."""

    name = "mariadb"
    native_nulls = False
    lateral = False
    correlated_pages = False
    materialize = None
    """MariaDB computes an uncorrelated subquery once, and knows no MATERIALIZED."""
    root_tables = False
    numbered_pages = False

    def __init__(self, checked: bool = False) -> None:
        self.checked = checked

    # An aggregate over JSON (JSON_ARRAYAGG of JSON_OBJECTs, GROUP_CONCAT of them) and a
    # derived table with a JSON column each fill a temporary table with a BLOB column,
    # which MariaDB makes an Aria table, created and dropped on disk for every statement:
    # 0.15-0.3 ms each, half of a DOI lookup's statement, four in a page of files. Where
    # the statement's warnings are checked (``checked``: operation plans), the JSON of a
    # row is aggregated as text of at most ``BOUNDED_CHARACTERS`` (in memory): a longer
    # one is cut with a warning (as a list cut by ``group_concat_max_len``), and the
    # executor declines that answer and plans the operation again without the bound.

    def _bounded(self, value: Any) -> Any:
        return value if isinstance(value, _BoundedText) else _BoundedText(value, BOUNDED_CHARACTERS)

    def _joined(self, value: Any, order: Sequence[Any], limit: int | None) -> Any:
        """The JSON texts of the rows as one JSON array (NULL for none)."""
        texts = _GroupConcat(self._bounded(value), order, limit)
        array = func.concat(literal_column("'['"), texts, literal_column("']'"))
        return func.json_extract(array, literal_column("'$'"))

    def page_value(self, value: ColumnElement[Any]) -> ColumnElement[Any]:
        return self._bounded(value) if self.checked else value

    def first_rows(self, value: Any, order: Sequence[Any], limit: int) -> ColumnElement[Any]:
        if self.checked:
            return func.coalesce(self._joined(value, order, limit), func.json_array())
        return func.coalesce(_ArrayAgg(self.column(value), order, limit), func.json_array())

    def first_values(self, value: Any, order: Sequence[Any], limit: int) -> Any:
        return _ArrayAgg(value, order, limit)

    def json_value(self, document: Any, path: str) -> Any:
        return func.json_value(document, literal_column(f"'{path}'"))

    def page_limit(self, rows: int) -> Any:
        return rows

    @property
    def empty_list(self) -> ColumnElement[Any]:
        return func.json_array()

    def object(self, arguments: list[Any]) -> ColumnElement[Any]:
        return func.json_object(*arguments)

    def array(
        self,
        statement: Select[Any],
        order: Sequence[Any],
        limit: int | None = None,
        values: bool = False,
    ) -> ColumnElement[Any]:
        (value,) = statement.selected_columns
        if self.checked and not values:
            aggregated = statement.with_only_columns(self._joined(value, order, limit))
        else:
            aggregated = statement.with_only_columns(_ArrayAgg(value, order, limit))
        return func.coalesce(aggregated.scalar_subquery(), func.json_array())

    def column(self, value: ColumnElement[Any]) -> ColumnElement[Any]:
        # Through a derived table the JSON is text again: JSON_EXTRACT makes it JSON.
        return func.json_extract(value, literal_column("'$'"))

    def rows_array(
        self, value: ColumnElement[Any], order: ColumnElement[Any]
    ) -> ColumnElement[Any]:
        return func.coalesce(_ArrayAgg(self.column(value), [order], None), func.json_array())

    def list(self, values: list[Any]) -> ColumnElement[Any]:
        return func.json_array(*values)

    def boolean(self, value: Any) -> Any:
        return case((value, _json_literal("true")), (not_(value), _json_literal("false")))

    def datetime(self, value: Any) -> Any:
        whole = func.date_format(value, literal_column("'%Y-%m-%dT%H:%i:%s'"))
        fraction = func.date_format(value, literal_column("'.%f'"))
        return case((func.microsecond(value) == 0, whole), else_=func.concat(whole, fraction))

    def number(self, value: Any) -> Any:
        whole = and_(value == func.floor(value), func.abs(value) < 1e15)
        as_float = func.concat(cast(value, DECIMAL(65, 0)), literal_column("'.0'"))
        written = case((whole, as_float), else_=cast(value, CHAR))
        return func.json_extract(written, literal_column("'$'"))

    def global_id(self, type_name: str, value: Any) -> Any:
        return func.to_base64(func.concat(literal_column(f"'{type_name}:'"), value))

    def concat(self, parts: Sequence[Any]) -> Any:
        return func.concat(*parts)

    def json_text(self, value: Any) -> Any:
        # JSON_QUOTE writes six control characters' escapes in upper case (\u001F), orjson
        # in lower case: each escape (after an even number of backslashes, so not
        # an escaped backslash followed by the text "u001F") is lowered.
        quoted: Any = func.json_quote(value)
        for letter in "ABCDEF":
            quoted = func.regexp_replace(
                quoted, rf"(?<!\\)((?:\\\\)*)\\u00([01]){letter}", rf"\1\\u00\2{letter.lower()}"
            )
        controls = r"[\x{0b}\x{0e}\x{0f}\x{1a}-\x{1f}]"
        return case((value.op("REGEXP")(controls), quoted), else_=func.json_quote(value))

    def integer_text(self, value: Any) -> Any:
        return cast(value, CHAR)

    def base64url(self, text: Any) -> Any:
        """TO_BASE64 breaks lines every 76 characters: they are removed."""
        utf8 = func.convert(text, literal_column("CHAR CHARACTER SET utf8mb4"))
        encoded = func.replace(func.to_base64(utf8), "\n", "")
        unwrapped = func.replace(func.replace(encoded, "+", "-"), "/", "_")
        return func.regexp_replace(unwrapped, "=+$", "")


POSTGRESQL = JsonDialect()

DIALECTS: dict[str, JsonDialect] = {
    "postgresql": POSTGRESQL,
    "sqlite": SQLiteJson(),
    "mariadb": MariaDBJson(),
    "mysql": MariaDBJson(),
}
"""MySQL 8 speaks the same functions but has no LIMIT inside JSON_ARRAYAGG: untested
here, as is Oracle (``JSON_OBJECT(KEY ... VALUE ...)``/``JSON_ARRAYAGG``)."""

CHECKED: dict[str, JsonDialect] = {"mariadb": MariaDBJson(checked=True)}
CHECKED["mysql"] = CHECKED["mariadb"]
"""Dialects whose statements differ where their warnings are checked (``checked``)."""

WARNING_DRIVERS = frozenset({"asyncmy", "aiomysql"})
"""Drivers whose cursor holds the warning count of its statement's result
(``operations.warned``)."""


def compiles_on(name: str) -> bool:
    """Whether the compiled renderer speaks this database's JSON."""
    return name in DIALECTS


def json_dialect(name: str, checked: bool = False) -> JsonDialect | None:
    """The JSON dialect of a database (SQLAlchemy's dialect name), None if unknown;
    ``checked``: for a statement whose warnings the executor checks."""
    if checked and name in CHECKED:
        return CHECKED[name]
    return DIALECTS.get(name)
