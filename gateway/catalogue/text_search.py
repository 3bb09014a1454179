"""Free text over sessions through each database's full-text index, ranked, policy applied.

The words are those of the search documents (``gateway.catalogue.search_documents``).
A session matches where all the words (each a word or the start of one) are in its
landing facts, which anyone may read, or all are in its data fields and the caller may
read its data. Each half is one index search of its own (PostgreSQL: GIN over the
stored ``tsvector`` of each text, plus a trigram search of the landing facts for parts of
words; MariaDB: ``MATCH ... AGAINST`` in boolean mode; SQLite: FTS5 ``MATCH``), the two
are joined to the sessions by primary key, and the caller's right to the data is
checked only on the sessions the data half found: no ``OR`` makes the database read every
session.

The relevance is the index's own score (``ts_rank``, natural-language ``MATCH``, ``-bm25``),
the landing half counting twice, the data half only where the caller may read the data
(else an embargoed summary would move a session up for someone who may not read it). It
is an integer (millionths) so that cursors carry it exactly.

Without the documents (never built: ``icat-gateway search-index refresh``) free text
falls back to ``LIKE`` over ICAT's tables, which reads every session: the log says so,
and ``/readyz`` too.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Float,
    Select,
    String,
    and_,
    bindparam,
    case,
    cast,
    column,
    false,
    func,
    literal,
    literal_column,
    or_,
    select,
    table,
    true,
    union_all,
)
from sqlalchemy.dialects.mysql import match
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql.elements import BindParameter, False_, True_

from gateway.catalogue import queries
from gateway.catalogue.gateway_tables import DatasetSearchDocument, SearchDocument
from gateway.catalogue.models import Dataset, Investigation
from gateway.catalogue.search_documents import (
    DATASET_FTS_TABLE,
    FTS_TABLE,
    INDEX_STATES,
    IndexState,
    built_with,
    stored_vector,
    words,
)
from gateway.catalogue.visibility import Access, investigation_data_visible
from gateway.errors import BadUserInput

log = logging.getLogger(__name__)

MAX_CHARACTERS = 200
MAX_WORDS = 16
LANDING_WEIGHT = 2
SCALE = 1_000_000

MARIADB_MIN_WORD = 3
"""InnoDB's ``innodb_ft_min_token_size``: shorter words are not in its index."""
MARIADB_STOPWORDS = frozenset(
    {
        "a", "about", "an", "are", "as", "at", "be", "by", "com", "de", "en", "for", "from",
        "how", "i", "in", "is", "it", "la", "of", "on", "or", "that", "the", "this", "to",
        "was", "what", "when", "where", "who", "will", "with", "und", "www",
    }
)  # fmt: skip
"""InnoDB's default stopwords (``INFORMATION_SCHEMA.INNODB_FT_DEFAULT_STOPWORD``): not in
its index either, so a required one would match nothing."""


@dataclass(frozen=True)
class Terms:
    """A search text as the documents' words (``search_documents.words``)."""

    words: tuple[str, ...]

    @property
    def phrase(self) -> str:
        return " ".join(self.words)


def search_terms(text: str, argument: str = "search") -> Terms:
    """The words of a search text; BAD_USER_INPUT for an empty or too long one."""
    if len(text) > MAX_CHARACTERS:
        raise BadUserInput(
            f"A search text is at most {MAX_CHARACTERS} characters.", argument=argument
        )
    found = tuple(dict.fromkeys(words(text).split()))
    if not found:
        raise BadUserInput("A search text must contain a word.", argument=argument)
    if len(found) > MAX_WORDS:
        raise BadUserInput(f"A search text has at most {MAX_WORDS} words.", argument=argument)
    return Terms(found)


@dataclass(frozen=True)
class TextIndex:
    """What the database offers free text: the documents (built or not) and, on
    PostgreSQL, the trigram index."""

    dialect: str
    state: IndexState | None
    trigrams: bool = False

    @property
    def built(self) -> bool:
        return self.state is not None


async def text_index(engine: AsyncEngine) -> TextIndex:
    """The index's state as this process holds it: read again after
    ``INDEX_STATE_SECONDS`` or at once after ``forget_index_states`` (see
    ``search_documents.IndexStates`` for what that means across replicas)."""
    held: TextIndex | None = INDEX_STATES.get(engine)
    if held is not None:
        return held
    reading = INDEX_STATES.reading()
    index = await read_text_index(engine)
    INDEX_STATES.put(engine, index, reading)
    return index


async def read_text_index(engine: AsyncEngine) -> TextIndex:
    """Read the index's state: one statement (on PostgreSQL it asks the catalogue whether
    the trigram index is there too)."""
    dialect = engine.dialect.name
    trigram_index = (
        select(literal_column("1"))
        .select_from(table("pg_indexes"))
        .where(column("indexname") == "GATEWAY_SD_LANDING_TRGM")
        .exists()
        if dialect == "postgresql"
        else false()
    )
    async with engine.connect() as connection:
        state, trigrams = await built_with(connection, trigram_index.label("trigrams"))
    if state is None:
        log.warning(
            "free text without its index: the search documents were never built, every "
            "search reads all sessions (run `icat-gateway search-index refresh`)"
        )
    return TextIndex(dialect, state, bool(trigrams))


@dataclass(frozen=True)
class TextMatch:
    """Free text as a join, a condition and a relevance on the statement's sessions."""

    scores: Any
    """The matched documents (``id``, ``landing_hit``, ``data_hit``, the ranks), or None
    without the index."""
    condition: ColumnElement[bool]
    relevance: ColumnElement[int]
    key: Any = None
    """The primary key the documents' ``id`` is joined to (None: the session's)."""

    def applied(self, statement: Select[Any]) -> Select[Any]:
        """The statement narrowed to the rows the text matches for the caller."""
        if self.scores is not None:
            key = Investigation.id if self.key is None else self.key
            statement = statement.join(self.scores, self.scores.c.id == key)
        return statement.where(self.condition)


def session_text_match(
    access: Access, text: str, index: TextIndex, *, ranked: bool = True
) -> TextMatch:
    """Free text over sessions for this caller (see the module's docstring). Not
    ``ranked``: the same sessions, every relevance 0, for what only counts them (the
    facets), which need no ranks."""
    terms = search_terms(text)
    if not index.built:
        condition = queries.investigation_text_match(access, _like_pattern(terms))
        return TextMatch(None, condition, cast(literal(0), BigInteger))
    scores = _session_scores(index.dialect, index.trigrams, terms, ranked)
    visible = investigation_data_visible(access)
    landing: ColumnElement[bool] = true()
    if access.rules is not None:
        # A document's DATA half holds words of keywords, samples and datasets that the
        # caller may not reach under ICAT's rules: where the session has such, its data
        # match only by what the caller reads (``LIKE`` over the parts they reach).
        pattern = _like_pattern(terms)
        readable = queries.investigation_data_text_match(access, pattern, every_part=True)
        visible = and_(visible, or_(~queries.data_words_hidden(access), readable))
        # Its LANDING half holds the names of every beamline of the session: where the
        # caller may not list some (``Investigation.instruments``), the landing facts
        # match only by the words they read.
        hidden = queries.beamline_words_hidden(access)
        if not isinstance(hidden, False_):
            shown = queries.landing_words_readable(access, *_landing_words(index, terms))
            landing = or_(~hidden, shown)
    condition = or_(and_(scores.c.landing_hit > 0, landing), and_(scores.c.data_hit > 0, visible))
    landing_score: ColumnElement[Any] = LANDING_WEIGHT * scores.c.landing_rank
    if not isinstance(landing, True_):
        landing_score = case((landing, landing_score), else_=literal(0.0))
    score = landing_score + case((visible, scores.c.data_rank), else_=literal(0.0))
    relevance = cast(func.round(cast(score, Float) * SCALE), BigInteger)
    return TextMatch(scores, condition, relevance)


def _like_pattern(terms: Terms) -> str:
    """The words as one ``LIKE`` pattern, in order (free text without the index)."""
    return "%" + "%".join(terms.words) + "%"


def dataset_text_match(access: Access, text: str, index: TextIndex) -> TextMatch:
    """Free text over datasets. A dataset matches where all the words are in its own
    words (name and description) or in its session's landing facts, each half one index
    search (the datasets' documents, the sessions' landing words joined to their datasets
    by ``INVESTIGATION_ID``). A dataset is DATA class as a whole, so its own words are
    readable exactly where the dataset is visible, which the listing checks on the rows
    found (``visibility.dataset_row_visible``). Under ICAT's rules the session's landing
    facts count only where the caller reaches the session from the dataset and, where it
    has beamlines the caller may not list, by the words they read
    (``queries.dataset_session_landing_readable``); the relevance counts both halves."""
    terms = search_terms(text)
    if not index.built:
        pattern = "%" + "%".join(terms.words) + "%"
        session = select(Investigation.id).where(
            Investigation.id == Dataset.investigation_id,
            or_(
                func.lower(Investigation.title).like(pattern),
                func.lower(Investigation.name).like(pattern),
            ),
        )
        condition = or_(
            func.lower(Dataset.name).like(pattern),
            func.lower(Dataset.description).like(pattern),
            session.exists(),
        )
        return TextMatch(None, condition, cast(literal(0), BigInteger))
    scores = _dataset_scores_of(index.dialect, index.trigrams, terms)
    if access.rules is None:
        score = LANDING_WEIGHT * scores.c.landing_rank + scores.c.data_rank
        relevance = cast(func.round(cast(score, Float) * SCALE), BigInteger)
        return TextMatch(scores, true(), relevance, Dataset.id)
    required, _ = _landing_words(index, terms)
    landing = queries.dataset_session_landing_readable(access, required)
    condition = or_(scores.c.data_hit > 0, and_(scores.c.landing_hit > 0, landing))
    score = (
        case((landing, LANDING_WEIGHT * scores.c.landing_rank), else_=literal(0.0))
        + scores.c.data_rank
    )
    relevance = cast(func.round(cast(score, Float) * SCALE), BigInteger)
    return TextMatch(scores, condition, relevance, Dataset.id)


def _branch(
    id_: Any, landing: bool, rank: ColumnElement[Any], condition: ColumnElement[bool]
) -> Select[Any]:
    zero = cast(literal(0.0), Float)
    return select(
        id_.label("id"),
        literal(1 if landing else 0).label("landing_hit"),
        literal(0 if landing else 1).label("data_hit"),
        (cast(rank, Float) if landing else zero).label("landing_rank"),
        (zero if landing else cast(rank, Float)).label("data_rank"),
    ).where(condition)


def _matches(
    index: TextIndex, terms: Terms, key: Any, text_column: Any, fts_table: str, landing: bool
) -> tuple[Any, bool, ColumnElement[Any], ColumnElement[bool]]:
    """The documents holding all the words in one column, by that column's full-text
    index: ``_branch``'s arguments (their key, the half, the index's rank, the condition).
    The words are bound values named as :func:`text_binds` names them."""
    values = text_binds(index, terms)
    if index.dialect == "postgresql":
        config: ColumnElement[Any] = literal_column("'simple'::regconfig")
        query = func.to_tsquery(config, _bound(values, "query"))
        # The text's stored vector (its GIN index; ``ts_rank`` reads it, where from the
        # text it would parse every match again).
        vector = stored_vector(text_column)
        return key, landing, func.ts_rank(vector, query), vector.bool_op("@@")(query)
    if index.dialect in ("mysql", "mariadb"):
        indexed = bool(_indexed(index, terms))
        condition: ColumnElement[bool] = (
            match(text_column, against=_bound(values, "required")).in_boolean_mode()
            if indexed
            else false()
        )
        # Natural-language relevance for whole words, boolean mode's for the words a
        # search word starts (natural-language mode has no prefixes): both the index's.
        rank: ColumnElement[Any] = match(
            text_column, against=_bound(values, "phrase")
        ).in_natural_language_mode() + (
            match(text_column, against=_bound(values, "required")).in_boolean_mode()
            if indexed
            else literal(0.0)
        )
        return key, landing, rank, condition
    if index.dialect == "sqlite":
        fts = table(fts_table, column("rowid"))
        found = literal_column(fts_table).bool_op("MATCH")(_bound(values, text_column.name))
        return fts.c.rowid, landing, -func.bm25(literal_column(fts_table)), found
    raise BadUserInput(f"Free text is not supported on {index.dialect}.", argument="search")


TEXT_BIND = "gw_text_"
"""The prefix of the names of the bind parameters that hold a search's words."""

SQLITE_COLUMNS = ("LANDING", "DATA", "WORDS")
"""The documents' columns an FTS5 search names in its query (``column : (...)``)."""


def text_binds(index: TextIndex, terms: Terms) -> dict[str, str]:
    """The values of the bind parameters that hold a search's words in its statement, by
    name (``TEXT_BIND`` and what each holds): the only place the words enter a statement,
    so that a statement built once for a shape (:func:`text_shape`) serves every search
    of that shape with these values bound (``gateway.schema.kept``)."""
    if index.dialect == "postgresql":
        values = {"query": " & ".join(f"{word}:*" for word in terms.words)}
        if _trigrams(index, terms):
            values |= {"phrase": terms.phrase, "part": f"%{terms.phrase}%"}
    elif index.dialect in ("mysql", "mariadb"):
        values = {
            "required": " ".join(f"+{word}*" for word in _indexed(index, terms)),
            "phrase": terms.phrase,
        }
    else:
        expression = " AND ".join(f'"{word}"*' for word in terms.words)
        values = {name: f"{name} : ({expression})" for name in SQLITE_COLUMNS}
    return {TEXT_BIND + name: value for name, value in values.items()}


def text_shape(index: TextIndex, terms: Terms) -> tuple[bool, bool]:
    """What of a search's words shapes its statement beside their bound values: whether
    the landing facts are searched for parts of words too (PostgreSQL's trigrams), and
    whether the database's index holds any of the words (MariaDB: else nothing matches)."""
    return _trigrams(index, terms), bool(_indexed(index, terms))


def _bound(values: dict[str, str], name: str) -> BindParameter[str]:
    """The bind parameter of :func:`text_binds` of this name (one for every place that
    holds the same value)."""
    return bindparam(TEXT_BIND + name, values[TEXT_BIND + name], type_=String())


def _indexed(index: TextIndex, terms: Terms) -> list[str]:
    """The words a document must hold to match, on this database: all of them, but on
    MariaDB only those its index holds (long enough, no stopword)."""
    if index.dialect in ("mysql", "mariadb"):
        return [w for w in terms.words if len(w) >= MARIADB_MIN_WORD and w not in MARIADB_STOPWORDS]
    return list(terms.words)


def _trigrams(index: TextIndex, terms: Terms) -> bool:
    """Whether the landing facts are also searched for parts of words (the trigrams)."""
    return index.dialect == "postgresql" and index.trigrams and len(terms.phrase) >= 3


def _landing_words(index: TextIndex, terms: Terms) -> tuple[list[str], str | None]:
    """What a LANDING half matches on: the words it must hold (each at a word's start),
    and the phrase it may hold instead (PostgreSQL's trigrams), or None."""
    return _indexed(index, terms), terms.phrase if _trigrams(index, terms) else None


MATCHES_HELD = 512
"""How many searches' index matches a process keeps built (``_session_scores``)."""


@lru_cache(maxsize=MATCHES_HELD)
def _session_scores(dialect: str, trigrams: bool, terms: Terms, ranked: bool) -> Any:
    """``_scores`` as the subquery a statement joins, built once per dialect, trigram
    index and words (a pure function of them: the words are bound values, the caller and
    the index's other state play no part), its columns ready: a page, its count and its
    facets, and the next pages, reuse it. SQLAlchemy's elements are immutable once built,
    so statements of concurrent requests may share it."""
    scores = _scores(TextIndex(dialect, None, trigrams), terms, ranked).subquery("text_scores")
    scores.c  # noqa: B018 - the column collection, built now rather than by each reader
    return scores


@lru_cache(maxsize=MATCHES_HELD)
def _dataset_scores_of(dialect: str, trigrams: bool, terms: Terms) -> Any:
    """``_dataset_scores`` as a subquery, held like ``_session_scores``."""
    scores = _dataset_scores(TextIndex(dialect, None, trigrams), terms).subquery("text_scores")
    scores.c  # noqa: B018
    return scores


def _scores(index: TextIndex, terms: Terms, ranked: bool = True) -> Select[Any]:
    """The sessions' documents matching in their landing facts or in their data, one row
    each (their ranks 0 where not ``ranked``)."""
    doc = SearchDocument.__table__.c
    branches = []
    for landing, text_column in ((True, doc.LANDING), (False, doc.DATA)):
        found = _matches(index, terms, doc.INVESTIGATION_ID, text_column, FTS_TABLE, landing)
        branches.append(_branch(*(found if ranked else _unranked(found))))
    if _trigrams(index, terms):
        values = text_binds(index, terms)
        # Parts of words (the middle of a proposal number): the trigram index.
        branches.append(
            _branch(
                doc.INVESTIGATION_ID,
                True,
                func.word_similarity(_bound(values, "phrase"), doc.LANDING) * 0.1
                if ranked
                else literal(0.0),
                doc.LANDING.like(_bound(values, "part")),
            )
        )
    return _grouped(branches)


def _dataset_scores(index: TextIndex, terms: Terms) -> Select[Any]:
    """The datasets matching in their own words or in their session's landing facts, one
    row each."""
    doc = SearchDocument.__table__.c
    own = DatasetSearchDocument.__table__.c
    sessions = _branch(
        *_matches(index, terms, doc.INVESTIGATION_ID, doc.LANDING, FTS_TABLE, True)
    ).subquery("landing_sessions")
    by_session = select(
        Dataset.id.label("id"),
        sessions.c.landing_hit,
        sessions.c.data_hit,
        sessions.c.landing_rank,
        sessions.c.data_rank,
    ).join_from(sessions, Dataset, Dataset.investigation_id == sessions.c.id)
    by_words = _branch(*_matches(index, terms, own.DATASET_ID, own.WORDS, DATASET_FTS_TABLE, False))
    return _grouped([by_session, by_words])


def _unranked(
    found: tuple[Any, bool, ColumnElement[Any], ColumnElement[bool]],
) -> tuple[Any, bool, ColumnElement[Any], ColumnElement[bool]]:
    key, landing, _, condition = found
    return key, landing, literal(0.0), condition


def _grouped(branches: list[Select[Any]]) -> Select[Any]:
    hits = union_all(*branches).subquery("text_found")
    return select(
        hits.c.id,
        func.max(hits.c.landing_hit).label("landing_hit"),
        func.max(hits.c.data_hit).label("data_hit"),
        func.sum(hits.c.landing_rank).label("landing_rank"),
        func.sum(hits.c.data_rank).label("data_rank"),
    ).group_by(hits.c.id)


_HIGHLIGHT_WORD = re.compile(r"[^\W_]+")


def highlighted(text: str | None, terms: Terms, width: int = 160) -> str | None:
    """A short fragment of a landing fact with the searched words (and words they start)
    in ``<mark>``...``</mark>``; None where none of them is in it."""
    if not text:
        return None
    spans = [
        m.span()
        for m in _HIGHLIGHT_WORD.finditer(text)
        if any(m.group().lower().startswith(word) for word in terms.words)
    ]
    if not spans:
        return None
    start = max(0, spans[0][0] - width // 4)
    end = min(len(text), start + width)
    pieces, at = [], start
    for first, last in spans:
        if first < start or last > end:
            continue
        pieces += [_escaped(text[at:first]), "<mark>", _escaped(text[first:last]), "</mark>"]
        at = last
    pieces.append(_escaped(text[at:end]))
    return ("…" if start else "") + "".join(pieces) + ("…" if end < len(text) else "")


def _escaped(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
