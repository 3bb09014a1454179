"""Text compared in SQL as Python compares it, on every database.

The policy (``gateway.auth.policy``) compares user names and roles as Python strings;
SQL's own comparisons differ per database: MariaDB's default collations ignore case,
accents and trailing spaces, SQL's TRIM takes only spaces off (MariaDB's no set of
characters at all). These expressions are compiled per dialect so that the filters of
``gateway.catalogue.visibility`` decide as the policy does.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Boolean, ColumnElement, String, and_, literal
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

_WHITESPACE = "".join(chr(code) for code in range(0x3001) if chr(code).isspace())
"""What ``str.strip()`` removes: Unicode's white space, of which U+3000 is the last."""


class stripped(FunctionElement[str]):
    """A text without the white space around it, as ``str.strip()`` leaves it."""

    name = "stripped"
    type = String()
    inherit_cache = True


@compiles(stripped)
def _stripped_default(element: stripped, compiler: SQLCompiler, **kw: Any) -> str:
    # SQLite's trim(X, Y) takes off any of the characters of Y.
    codes = ", ".join(str(ord(c)) for c in _WHITESPACE)
    return f"trim({compiler.process(element.clauses, **kw)}, char({codes}))"


@compiles(stripped, "postgresql")
def _stripped_postgresql(element: stripped, compiler: SQLCompiler, **kw: Any) -> str:
    escaped = "".join(f"\\u{ord(c):04x}" for c in _WHITESPACE)
    return f"btrim({compiler.process(element.clauses, **kw)}, E'{escaped}')"


@compiles(stripped, "oracle")
def _stripped_oracle(element: stripped, compiler: SQLCompiler, **kw: Any) -> str:
    # Oracle's TRIM takes one character, LTRIM and RTRIM a set (spelt with UNISTR). Untested.
    chars = "unistr('" + "".join(f"\\{ord(c):04X}" for c in _WHITESPACE) + "')"
    return f"ltrim(rtrim({compiler.process(element.clauses, **kw)}, {chars}), {chars})"


@compiles(stripped, "mysql")
def _stripped_mysql(element: stripped, compiler: SQLCompiler, **kw: Any) -> str:
    space = "[" + "".join(_regex_ranges(_WHITESPACE)) + "]"
    pattern = compiler.render_literal_value(f"^{space}+|{space}+$", String())
    # Converted first, so that the expression matches in UTF mode whatever the column's
    # character set.
    text = compiler.process(element.clauses, **kw)
    return f"regexp_replace(convert({text} using utf8mb4), {pattern}, '')"


def _regex_ranges(characters: str) -> list[str]:
    """A regular expression's character class items for these characters: runs as ranges."""
    codes = sorted(map(ord, characters))
    runs: list[list[int]] = []
    for code in codes:
        if runs and runs[-1][1] == code - 1:
            runs[-1][1] = code
        else:
            runs.append([code, code])
    return [
        f"\\x{{{first:04x}}}" + (f"-\\x{{{last:04x}}}" if last > first else "")
        for first, last in runs
    ]


class exact_text(FunctionElement[str]):
    """A text that compares as Python compares strings, code point by code point: MariaDB's
    default collations would also take "PÍ" for "pi", and "pi " too."""

    name = "exact_text"
    type = String()
    inherit_cache = True


@compiles(exact_text)
def _exact_text_default(element: exact_text, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.clauses, **kw)


@compiles(exact_text, "mysql")
def _exact_text_mysql(element: exact_text, compiler: SQLCompiler, **kw: Any) -> str:
    # Binary strings compare byte by byte, trailing spaces included; in UTF-8 whatever the
    # column's character set, as the request's values are sent.
    return f"cast(convert({compiler.process(element.clauses, **kw)} using utf8mb4) as binary)"


class _same_text(FunctionElement[bool]):
    """``column = value`` as Python compares the two strings (see ``exact_text``)."""

    name = "same_text"
    type = Boolean()
    inherit_cache = True


@compiles(_same_text)
def _same_text_default(element: _same_text, compiler: SQLCompiler, **kw: Any) -> str:
    column, value = element.clauses
    return compiler.process(column == value, **kw)


@compiles(_same_text, "mysql")
def _same_text_mysql(element: _same_text, compiler: SQLCompiler, **kw: Any) -> str:
    # The collation's equality first: it is the one an index on the column serves.
    column, value = element.clauses
    exact = and_(column == value, exact_text(column) == exact_text(value))
    return f"({compiler.process(exact, **kw)})"


def same_name(column: Any, user_name: str | ColumnElement[str]) -> ColumnElement[bool]:
    """A user-name column holds exactly this name (``policy.Caller.user_name``): on MariaDB
    "ESRF/JDOE" and "esrf/jdoe " are other people than esrf/jdoe, as they are to the policy.

    The name may already be SQL: operation plans (``gateway.compiled.operations``) bind it
    per request."""
    value = user_name if isinstance(user_name, ColumnElement) else literal(user_name, String())
    # As a comparison, it is a condition of its own where booleans are numbers (no "= 1").
    return _same_text(column, value).as_comparison(1, 2)


_SEPARATORS = "".join(
    sorted(
        {c for c in map(chr, range(32, 127)) if not c.isalnum() and c != " "}
        | set("\t\n\r")
        | set("\u00a0\u2010\u2011\u2012\u2013\u2014\u2018\u2019\u201c\u201d\u2026")
    )
)
"""Characters that ``search_documents.words`` splits words at, written as spaces by
:class:`separated`: ASCII's punctuation, tab and line ends, and of the others the usual
dashes, quotes and the no-break space (a word after another one is not found, never one
that is not there)."""


class separated(FunctionElement[str]):
    """A text as the search documents' words read it, for ``LIKE``: lower-cased, a space
    before it and in place of each of ``_SEPARATORS``, so that ``'% word%'`` finds the
    words that start with ``word``. Where SQL lowers less than Python (SQLite: ASCII only)
    or a separator is not among those listed, a word is missed, never invented."""

    name = "separated"
    type = String()
    inherit_cache = True


@compiles(separated)
def _separated(element: separated, compiler: SQLCompiler, **kw: Any) -> str:
    text = f"lower(coalesce({compiler.process(element.clauses, **kw)}, ''))"
    space = compiler.render_literal_value(" ", String())
    for character in _SEPARATORS:
        text = f"replace({text}, {compiler.render_literal_value(character, String())}, {space})"
    if compiler.dialect.name in ("mysql", "mariadb"):
        return f"concat({space}, {text})"
    return f"({space} || {text})"


class _word_start(FunctionElement[bool]):
    """``starts_a_word``: the text, its ``LIKE`` pattern over :class:`separated`, and its
    ``GLOB`` pattern (SQLite, whose parser does not take the nested ``replace``)."""

    name = "word_start"
    type = Boolean()
    inherit_cache = True


@compiles(_word_start)
def _word_start_default(element: _word_start, compiler: SQLCompiler, **kw: Any) -> str:
    text, like, _ = element.clauses
    return f"({compiler.process(separated(text), **kw)} LIKE {compiler.process(like, **kw)})"


@compiles(_word_start, "sqlite")
def _word_start_sqlite(element: _word_start, compiler: SQLCompiler, **kw: Any) -> str:
    text, _, glob = element.clauses
    lowered = f"(' ' || lower(coalesce({compiler.process(text, **kw)}, '')))"
    return f"({lowered} GLOB {compiler.process(glob, **kw)})"


_GLOB_SEPARATORS = "]" + "".join(c for c in " " + _SEPARATORS if c not in "]-") + "-"
"""``_SEPARATORS`` and the space as a ``GLOB`` character class (``]`` first, ``-`` last,
every other character literal there)."""


def starts_a_word(text: Any, word: str) -> ColumnElement[bool]:
    """A word of ``text``, as the search documents split it (:class:`separated`), starts
    with ``word`` (a word of ``search_documents.words``: letters and digits)."""
    like = literal(f"% {word}%", String())
    glob = literal(f"*[{_GLOB_SEPARATORS}]{word}*", String())
    return _word_start(text, like, glob).as_comparison(1, 2)
