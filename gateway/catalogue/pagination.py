"""Keyset pagination: opaque cursors that encode a row's sort key, and the SQL around them.

Offsets get slower the deeper a client pages and skip or repeat rows when the catalogue
changes underneath; a keyset cursor does neither. A cursor is the row's values of the
sort keys (the last key is always the primary key, so keys are unique) and the list and
ordering it was issued for (:func:`cursor_listing`), JSON-encoded and base64url-wrapped.
NULLs sort last in every direction, on every dialect.

Root lists page with ``LIMIT``; nested lists (the first datasets of each of 100 sessions)
page all parents in one statement with ``ROW_NUMBER() OVER (PARTITION BY parent ...)``.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import (
    ColumnElement,
    Select,
    SQLColumnExpression,
    and_,
    bindparam,
    case,
    false,
    func,
    literal,
    or_,
    select,
    tuple_,
)
from sqlalchemy.sql.elements import Label

from gateway.errors import BadUserInput


@dataclass(frozen=True)
class SortKey:
    """One ORDER BY term: an expression, its direction and whether it can be NULL."""

    expression: SQLColumnExpression[Any]
    descending: bool = False
    nullable: bool = False


def cursor_listing(name: str, order: tuple[str, bool] | None = None) -> str:
    """What a list's cursors belong to: the list's name and, where the client chooses it,
    its ordering (``investigations:START_DATE:desc``).

    A cursor is a position in one ordering of one list: used on another list, or on the
    same list in another order, its values would be compared with other columns (a wrong
    page, or a driver's error), so it is refused there. The name is of the kind of list,
    not of its parent: the datasets of session A and of session B are one listing, and a
    cursor of A's page used for B is accepted. Keyset semantics make that harmless (it is
    a position among B's datasets, in the same ordering, holding only values that were
    A's), and naming the parent would give every parent's page a request of its own,
    which the loaders could no longer batch into one statement.
    """
    if order is None:
        return name
    field, descending = order
    return f"{name}:{field}:{'desc' if descending else 'asc'}"


@dataclass(frozen=True)
class PageRequest:
    """The validated Relay arguments of one connection field."""

    limit: int
    after: tuple[Any, ...] | None = None
    before: tuple[Any, ...] | None = None
    backward: bool = False
    """True for `last`/`before`: read the order reversed, then flip the page back."""
    given: tuple[tuple[str, str], ...] = ()
    """The listing each cursor given carries, by argument (``("after", listing)``), until
    :meth:`of` checks them."""
    listing: str | None = None
    """The list and ordering this is a page of (:func:`cursor_listing`), once :meth:`of`
    said so: the page's own cursors carry it."""

    def of(self, listing: str) -> PageRequest:
        """This page as a page of ``listing``; BAD_USER_INPUT, naming the argument, for a
        cursor issued for another list or ordering.

        The list's resolver knows its listing only once it knows its ordering, after the
        arguments were read (:func:`page_request`); it calls this before any statement."""
        for argument, carried in self.given:
            if carried != listing:
                raise BadUserInput(
                    f"`{argument}` is a cursor of another list or ordering; page this list "
                    "with the cursors it gave in this order.",
                    argument=argument,
                )
        return dataclasses.replace(self, given=(), listing=listing)


def page_request(
    *,
    first: int | None,
    after: str | None,
    last: int | None,
    before: str | None,
    default_size: int,
    max_size: int,
) -> PageRequest:
    """Check Relay's arguments and decode the cursors; bad input is a BAD_USER_INPUT.
    Which list the cursors belong to is checked by :meth:`PageRequest.of`."""
    if first is not None and last is not None:
        raise BadUserInput("Give either `first` or `last`, not both.")
    size = first if first is not None else last
    if size is None:
        size = default_size
    if size < 0:
        raise BadUserInput(
            "A page size cannot be negative.", argument="first" if last is None else "last"
        )
    if size > max_size:
        raise BadUserInput(
            f"A page holds at most {max_size} items; ask for fewer and follow the cursors.",
            argument="first" if last is None else "last",
            maximum=max_size,
        )
    given: list[tuple[str, str]] = []
    decoded: dict[str, tuple[Any, ...]] = {}
    for argument, cursor in (("after", after), ("before", before)):
        if cursor is not None:
            listing, decoded[argument] = decode_cursor(cursor, argument)
            given.append((argument, listing))
    return PageRequest(
        limit=size,
        after=decoded.get("after"),
        before=decoded.get("before"),
        backward=last is not None,
        given=tuple(given),
    )


def encode_cursor(listing: str, values: Sequence[Any]) -> str:
    """An opaque cursor for a row of a listing (:func:`cursor_listing`) with these
    sort-key values."""
    encoded = [{"t": v.isoformat()} if isinstance(v, datetime) else v for v in values]
    return (
        base64.urlsafe_b64encode(orjson.dumps({"of": listing, "at": encoded})).decode().rstrip("=")
    )


def decode_cursor(cursor: str, argument: str) -> tuple[str, tuple[Any, ...]]:
    """The listing a cursor was issued for and its sort-key values, or BAD_USER_INPUT if
    it is not one of ours."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        decoded = orjson.loads(raw)
        if not isinstance(decoded, dict) or decoded.keys() != {"of", "at"}:
            raise ValueError("not a cursor")
        listing, values = decoded["of"], decoded["at"]
        if not isinstance(listing, str) or not isinstance(values, list) or not values:
            raise ValueError("not a cursor")
        if any(isinstance(v, int) and not -(2**63) <= v < 2**63 for v in values):
            # Sort keys are BIGINT at most; the drivers refuse to bind a larger number.
            raise ValueError("beyond 64 bits")
        return listing, tuple(
            datetime.fromisoformat(v["t"]) if isinstance(v, dict) else v for v in values
        )
    except (ValueError, TypeError, KeyError, binascii.Error, orjson.JSONDecodeError):
        raise BadUserInput(f"`{argument}` is not a valid cursor.", argument=argument) from None


def order_terms(
    keys: Sequence[SortKey], *, reverse: bool = False, native_nulls: bool = True
) -> list[ColumnElement[Any]]:
    """ORDER BY terms with NULLs last (first when reading backwards), on every dialect.

    PostgreSQL and SQLite say ``NULLS LAST`` themselves, which an index can serve;
    MariaDB has no such clause, so there a nullable key sorts on ``key IS NULL`` first.
    """
    terms: list[ColumnElement[Any]] = []
    for key in keys:
        descending = key.descending != reverse
        term = key.expression.desc() if descending else key.expression.asc()
        if key.nullable and native_nulls:
            term = term.nulls_first() if reverse else term.nulls_last()
        elif key.nullable:
            is_null = case((key.expression.is_(None), 1), else_=0)
            terms.append(is_null.desc() if reverse else is_null.asc())
        terms.append(term)
    return terms


def supports_nulls_last(dialect_name: str) -> bool:
    """MariaDB and MySQL have no NULLS FIRST/LAST."""
    return dialect_name not in ("mysql", "mariadb")


def keyset_condition(
    keys: Sequence[SortKey], values: tuple[Any, ...], *, after: bool, row_values: bool = False
) -> ColumnElement[bool]:
    """Rows strictly after (or before) the row whose sort-key values are given.

    Where the keys go one way and none is NULL, and the dialect seeks row values on an
    index (``row_values``: PostgreSQL, SQLite), it is one row-value comparison,
    ``(NAME, ID) > ($1, $2)``: the index range starts at the cursor exactly, in a
    generic plan too (PostgreSQL plans a prepared statement once for all cursors).

    Otherwise the alternatives ("first key beyond, or equal and the second beyond, ...")
    are ORed, which no index can seek with; the first key's bound (``>=`` or ``<=`` its
    value), implied by them, is added for the index: a page deep into 10,000 files
    starts at its cursor instead of reading the 9,000 files before it. MariaDB and MySQL
    take that bound as an index range (a row-value comparison they scan in full and
    sort); an index whose columns are the parent's key then the sort keys
    (``GW_DATAFILE_LISTING``) gives the rows in order, without a filesort."""
    argument = "after" if after else "before"
    if len(values) != len(keys) or not all(map(_fits, keys, values)):
        # A cursor of this listing always fits; one that does not was made up, and its
        # values would be bound as the keys' types (a driver's error).
        raise BadUserInput(f"`{argument}` does not fit this list's ordering.", argument=argument)
    if row_values and _one_way(keys, values):
        row = tuple_(*(key.expression for key in keys))
        bound = tuple_(
            *(
                value
                if isinstance(value, ColumnElement)
                else bindparam(None, value, type_=getattr(key.expression, "type", None))
                for key, value in zip(keys, values, strict=True)
            )
        )
        forward = after != keys[0].descending
        return row > bound if forward else row < bound
    seek: list[ColumnElement[bool]] = []
    first, value = keys[0], values[0]
    if value is not None and not (first.nullable and after):
        forward = after != first.descending
        seek.append(first.expression >= value if forward else first.expression <= value)
    alternatives: list[ColumnElement[bool]] = []
    equal_so_far: list[ColumnElement[bool]] = []
    for key, value in zip(keys, values, strict=True):
        forward = after != key.descending
        if value is None:
            # NULLs sort last: after a NULL only NULLs (decided by later keys) follow,
            # before it every non-NULL value comes.
            beyond: ColumnElement[bool] = false() if after else key.expression.is_not(None)
            equal: ColumnElement[bool] = key.expression.is_(None)
        else:
            compared = key.expression > value if forward else key.expression < value
            if key.nullable and after:
                compared = or_(compared, key.expression.is_(None))
            beyond = compared
            equal = key.expression == value
        alternatives.append(and_(*equal_so_far, beyond))
        equal_so_far.append(equal)
    return and_(*seek, or_(*alternatives))


def _one_way(keys: Sequence[SortKey], values: tuple[Any, ...]) -> bool:
    """Whether a cursor can be one row-value comparison: several keys, all in the same
    direction, none nullable (a NULL sorts last, which a row comparison does not know)."""
    return (
        len(keys) > 1
        and len({key.descending for key in keys}) == 1
        and not any(key.nullable for key in keys)
        and all(value is not None for value in values)
    )


def _fits(key: SortKey, value: Any) -> bool:
    """Whether a cursor's value can be compared with a sort key: NULL, or a value of the
    key's column type (a naive datetime for a timestamp: ICAT's are naive). An SQL
    expression in its stead (a compiled template's placeholder for a value checked
    already, ``gateway.compiled.render``) is taken as it is."""
    if value is None or isinstance(value, ColumnElement):
        return True
    # Columns and mapped attributes have a type; SortKey's annotation does not declare one.
    column_type = getattr(key.expression, "type", None)
    try:
        expected = column_type.python_type if column_type is not None else object
    except NotImplementedError:  # a type SQLAlchemy cannot name: the database decides
        return True
    if isinstance(value, bool):
        return expected is bool
    if expected is float:
        return isinstance(value, int | float)
    if isinstance(value, datetime):
        return expected is datetime and value.tzinfo is None
    return isinstance(value, expected)


def apply_keyset(
    statement: Select[Any], keys: Sequence[SortKey], page: PageRequest, *, row_values: bool = False
) -> Select[Any]:
    """Add the cursor conditions of a page request to a statement."""
    if page.after is not None:
        condition = keyset_condition(keys, page.after, after=True, row_values=row_values)
        statement = statement.where(condition)
    if page.before is not None:
        condition = keyset_condition(keys, page.before, after=False, row_values=row_values)
        statement = statement.where(condition)
    return statement


def supports_row_values(dialect_name: str) -> bool:
    """Whether the dialect seeks ``(a, b) > (x, y)`` on an index: PostgreSQL and SQLite
    do; MariaDB and MySQL scan and sort. They are the dialects with NULLS FIRST/LAST,
    which is why :func:`paged` and :func:`paged_per_parent` take ``native_nulls`` for
    both."""
    return supports_nulls_last(dialect_name)


def paged(
    statement: Select[Any], keys: Sequence[SortKey], page: PageRequest, *, native_nulls: bool
) -> Select[Any]:
    """A root list page: keyset conditions, order and one row more than asked (has-next).
    ``native_nulls``: the dialect has NULLS LAST, and seeks row values on an index."""
    statement = apply_keyset(statement, keys, page, row_values=native_nulls)
    order = order_terms(keys, reverse=page.backward, native_nulls=native_nulls)
    return statement.order_by(*order).limit(page.limit + 1)


def paged_per_parent(
    statement: Select[Any],
    parent: SQLColumnExpression[Any],
    keys: Sequence[SortKey],
    page: PageRequest,
    *,
    native_nulls: bool,
    single_parent: bool = False,
    computed: Callable[[Mapping[str, Any]], tuple[Sequence[Label[Any]], bool]] | None = None,
) -> Select[Any]:
    """A page for each of many parents in one statement, with a window function.

    The result has the statement's columns plus ``page_rank`` and ``parent_key``; at most
    ``limit + 1`` rows per parent, ordered by parent then rank. For a single parent (the
    page of one session, the files of one dataset) a plain LIMIT does the same, and lets
    the database stop after the page instead of ranking every child.

    ``computed`` adds columns computed from a row's columns (by name), evaluated only for
    the rows of the pages, not for every child ranked; when it says so, they replace the
    row's own columns (all but the sort keys ``_k0 ..`` and the parent key).
    """
    statement = apply_keyset(statement, keys, page, row_values=native_nulls)
    order = order_terms(keys, reverse=page.backward, native_nulls=native_nulls)
    if single_parent:
        if computed is not None:
            extra, replace = computed(columns_by_name(statement))
            if replace:
                keys_ = [c for c in statement.selected_columns if c.name.startswith("_k")]
                statement = statement.with_only_columns(*extra, *keys_, maintain_column_froms=True)
            else:
                statement = statement.add_columns(*extra)
        return (
            statement.add_columns(parent.label("parent_key")).order_by(*order).limit(page.limit + 1)
        )
    rank = func.row_number().over(partition_by=parent, order_by=order)
    inner = statement.add_columns(rank.label("page_rank"), parent.label("parent_key")).subquery()
    outer = select(inner)
    if computed is not None:
        extra, replace = computed(dict(inner.c.items()))
        if replace:
            kept = [c for c in inner.c if c.name.startswith("_k") or c.name == "parent_key"]
            outer = select(*kept, inner.c.page_rank)
        outer = outer.add_columns(*extra)
    return outer.where(inner.c.page_rank <= literal(page.limit + 1)).order_by(
        inner.c.parent_key, inner.c.page_rank
    )


def columns_by_name(statement: Select[Any]) -> dict[str, Any]:
    """A statement's selected columns by label, as expressions usable beside them."""
    return {
        column.name: column.element if isinstance(column, Label) else column
        for column in statement.selected_columns
    }
