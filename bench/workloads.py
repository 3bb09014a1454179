"""The workloads: one portal action each, as the gateway, PostGraphile and raw SQL do it.

Every workload is the same answer three ways:

- ``gateway``: a GraphQL document and variables for icat-gateway (``schema.graphql``);
- ``postgraphile``: the nearest PostGraphile 5 document over the same tables (amber preset
  plus the connection-filter plugin; PostGraphile has no authorisation here, so it applies
  no visibility filter at all);
- ``raw``: one hand-written PostgreSQL statement per request that builds the gateway's JSON
  (same field names, same values, same order) with ``json_build_object``/``json_agg``, under
  the same visibility rules as ``gateway.catalogue.visibility`` for the given caller.

The raw SQL resolves the caller inside the statement (``USER_.NAME``), as the gateway
resolves it once per request, and uses the database's clock for "now".

Parameters (which session, dataset, DOI, word) are picked from the database by
:func:`pick_parameters`, deterministically.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import asyncpg

from bench.catalogue import SESSION_PAGE_DATASETS, session_page_session, team_member
from gateway.catalogue.search_documents import vector_name

PAGE_SIZE = 50
FILE_PAGE = 1000
FILE_PAGES = 10
NOW = "(now() AT TIME ZONE 'UTC')"
"""The raw SQL's "now": the gateway compares naive UTC timestamps with the request time."""


# --------------------------------------------------------------------------------------
# Parameters picked from the database
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Parameters:
    member: str
    """ICAT user name of the team member (most INVESTIGATIONUSER rows)."""
    member_roles: int
    member_beamlines: int
    """How many beamlines the member is scientist of (they see those sessions too)."""
    session_id: int
    """The session with SESSION_PAGE_DATASETS datasets."""
    dataset_id: int
    """The dataset with 10,000 files."""
    dataset_files: int
    doi: str
    """A released session's DOI."""
    search: str
    """A keyword; the gateway matches it in landing facts, and in summaries, keywords,
    sample and dataset names where the caller may read them (its search index, ranked)."""
    released_sessions: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


async def pick_parameters(connection: asyncpg.Connection) -> Parameters:
    member_id, member = await team_member(connection)
    roles = await connection.fetchval(
        'SELECT count(*) FROM "INVESTIGATIONUSER" WHERE "USER_ID" = $1', member_id
    )
    beamlines = await connection.fetchval(
        'SELECT count(*) FROM "INSTRUMENTSCIENTIST" WHERE "USER_ID" = $1', member_id
    )
    session_id = await session_page_session(connection)
    assert session_id is not None, f"no session with {SESSION_PAGE_DATASETS} datasets"
    big = await connection.fetchrow(
        'SELECT "DATASET_ID", count(*) AS n FROM "DATAFILE" GROUP BY "DATASET_ID" '
        'ORDER BY count(*) DESC, "DATASET_ID" LIMIT 1'
    )
    assert big is not None
    # A released session's DOI, in the middle of the id range (not the first rows).
    doi = await connection.fetchval(
        f'SELECT "DOI" FROM "INVESTIGATION" WHERE "RELEASEDATE" < {NOW} AND "DOI" IS NOT NULL '
        'ORDER BY "ID" OFFSET (SELECT count(*) / 2 FROM "INVESTIGATION" '
        f'WHERE "RELEASEDATE" < {NOW}) LIMIT 1'
    )
    # The keyword closest to 40 sessions (a few dozen hits at 10k; the rarest when larger).
    word = await connection.fetchval(
        'SELECT lower("NAME") FROM "KEYWORD" WHERE "NAME" ~ \'^[A-Za-z]+$\' GROUP BY lower("NAME") '
        'ORDER BY abs(count(*) - 40), lower("NAME") LIMIT 1'
    )
    released_sessions = await connection.fetchval(
        f'SELECT count(*) FROM "INVESTIGATION" WHERE "RELEASEDATE" < {NOW}'
    )
    return Parameters(
        member=member,
        member_roles=int(roles),
        member_beamlines=int(beamlines),
        session_id=int(session_id),
        dataset_id=int(big["DATASET_ID"]),
        dataset_files=int(big["n"]),
        doi=str(doi),
        search=str(word),
        released_sessions=int(released_sessions),
    )


def global_id(type_name: str, icat_id: int) -> str:
    return base64.b64encode(f"{type_name}:{icat_id}".encode()).decode()


def like_pattern(text: str) -> str:
    """As ``gateway.schema.inputs.like_pattern``: words in order, anything between."""
    words = text.strip().lower().replace("\\", " ").replace("%", " ").replace("_", " ").split()
    return "%" + "%".join(words) + "%"


def doi_variants(doi: str) -> list[str]:
    return sorted({doi, doi.upper(), doi.lower()})


# --------------------------------------------------------------------------------------
# Visibility, as SQL text (the rules of gateway.catalogue.visibility)
# --------------------------------------------------------------------------------------


def released(column: str) -> str:
    return f"({column} IS NOT NULL AND {column} < {NOW})"


def member_sessions(user: str) -> str:
    """Sessions the caller belongs to: team rows, or beamlines they are scientist of."""
    return (
        'SELECT iu."INVESTIGATION_ID" FROM "INVESTIGATIONUSER" iu '
        f'JOIN "USER_" u ON u."ID" = iu."USER_ID" WHERE u."NAME" = {user} '
        'UNION SELECT ii."INVESTIGATION_ID" FROM "INVESTIGATIONINSTRUMENT" ii '
        'JOIN "INSTRUMENTSCIENTIST" sc ON sc."INSTRUMENT_ID" = ii."INSTRUMENT_ID" '
        f'JOIN "USER_" u ON u."ID" = sc."USER_ID" WHERE u."NAME" = {user}'
    )


def session_data_visible(alias: str, member: bool) -> str:
    """May the caller read the DATA fields of session ``alias``?"""
    condition = released(f'{alias}."RELEASEDATE"')
    if member:
        condition = f'({condition} OR {alias}."ID" IN ({member_sessions("$1")}))'
    return condition


PUBLISHED_DATASETS = (
    'SELECT dcd."DATASET_ID" FROM "DATACOLLECTIONDATASET" dcd JOIN "DATAPUBLICATION" dp '
    'ON dp."DATACOLLECTION_ID" = dcd."DATACOLLECTION_ID" WHERE ' + released('dp."PUBLICATIONDATE"')
)


def gid(type_name: str, column: str) -> str:
    """The gateway's global id, computed in SQL."""
    return f"encode(convert_to('{type_name}:' || {column}, 'UTF8'), 'base64')"


def instruments_json(session: str) -> str:
    return (
        '(SELECT coalesce(json_agg(json_build_object(\'name\', ins."NAME") ORDER BY ins."NAME"),'
        ' \'[]\') FROM "INVESTIGATIONINSTRUMENT" ii JOIN "INSTRUMENT" ins '
        f'ON ins."ID" = ii."INSTRUMENT_ID" WHERE ii."INVESTIGATION_ID" = {session})'
    )


def team_json(session: str) -> str:
    return (
        "(SELECT coalesce(json_agg(json_build_object('role', iu.\"ROLE\", 'user', "
        'json_build_object(\'name\', u."NAME", \'fullName\', u."FULLNAME")) ORDER BY iu."ID"),'
        ' \'[]\') FROM "INVESTIGATIONUSER" iu JOIN "USER_" u ON u."ID" = iu."USER_ID" '
        f'WHERE iu."INVESTIGATION_ID" = {session})'
    )


def landing_json(p: str) -> str:
    """The landing facts of session ``p`` as json_build_object arguments."""
    identifier = gid("Investigation", p + '."ID"')
    is_released = released(p + '."RELEASEDATE"')
    return (
        f"'id', {identifier}, 'icatId', {p}.\"ID\", 'proposal', {p}.\"NAME\", "
        f"'visitId', {p}.\"VISIT_ID\", 'title', {p}.\"TITLE\", 'startDate', {p}.\"STARTDATE\", "
        f"'endDate', {p}.\"ENDDATE\", 'releaseDate', {p}.\"RELEASEDATE\", 'doi', {p}.\"DOI\", "
        f"'isReleased', {is_released}"
    )


# --------------------------------------------------------------------------------------
# Workloads
# --------------------------------------------------------------------------------------

INVESTIGATION_ORDER = 'ORDER BY {a}."STARTDATE" DESC NULLS LAST, {a}."ID" DESC'

SESSION_LIST_GQL = """
query SessionList($first: Int!) {
  investigations(filter: {released: true}, orderBy: {field: START_DATE, direction: DESC},
                 first: $first) {
    totalCount
    pageInfo { hasNextPage }
    nodes {
      id icatId proposal visitId title startDate endDate releaseDate doi isReleased
      canReadData fileSize fileCount
      instruments { name }
      team { nodes { role user { name fullName } } }
      datasets { totalCount }
    }
  }
}
"""

SESSION_LIST_PGL = """
query SessionList($now: Datetime!) {
  allInvestigations(first: 50, orderBy: [STARTDATE_DESC, ROW_ID_DESC],
                    filter: {releasedate: {lessThan: $now}}) {
    totalCount
    pageInfo { hasNextPage }
    nodes {
      id rowId name visitId title startdate enddate releasedate doi filesize filecount
      investigationinstrumentsByInvestigationId { nodes { instrumentByInstrumentId { name } } }
      investigationusersByInvestigationId(orderBy: ROW_ID_ASC) {
        nodes { role userByUserId { name fullname } }
      }
      datasetsByInvestigationId { totalCount }
    }
  }
}
"""


def session_list_sql(member: bool) -> str:
    # The filter is evaluated once: its matches are counted and the top of them paged.
    where = released('i."RELEASEDATE"')
    return f"""
WITH matches AS MATERIALIZED (
  SELECT i."ID", i."STARTDATE" FROM "INVESTIGATION" i WHERE {where}
), top AS (
  SELECT m."ID" FROM matches m {INVESTIGATION_ORDER.format(a="m")} LIMIT {PAGE_SIZE + 1}
), page AS (
  SELECT i.*, {session_data_visible("i", member)} AS data_visible
  FROM "INVESTIGATION" i JOIN top t ON t."ID" = i."ID"
), shown AS (SELECT * FROM page p {INVESTIGATION_ORDER.format(a="p")} LIMIT {PAGE_SIZE})
SELECT json_build_object('investigations', json_build_object(
  'totalCount', (SELECT count(*) FROM matches),
  'pageInfo', json_build_object('hasNextPage', (SELECT count(*) FROM top) > {PAGE_SIZE}),
  'nodes', coalesce((SELECT json_agg(json_build_object(
      {landing_json("p")},
      'canReadData', p.data_visible,
      'fileSize', CASE WHEN p.data_visible THEN p."FILESIZE" END,
      'fileCount', CASE WHEN p.data_visible THEN p."FILECOUNT" END,
      'instruments', {instruments_json('p."ID"')},
      'team', {team_json('p."ID"')},
      'datasets', json_build_object('totalCount', (SELECT count(*) FROM "DATASET" d
          WHERE d."INVESTIGATION_ID" = p."ID"
          AND (p.data_visible OR d."ID" IN ({PUBLISHED_DATASETS}))))
    ) {INVESTIGATION_ORDER.format(a="p")}) FROM shown p), '[]'::json)
))::text
"""


SESSION_PAGE_GQL = """
query SessionPage($id: ID!, $first: Int!) {
  investigation(id: $id) {
    id icatId proposal visitId title startDate endDate releaseDate doi isReleased
    canReadData summary fileSize fileCount
    instruments { name }
    team { nodes { role user { name fullName } } }
    keywords
    datasets(first: $first) {
      totalCount
      nodes {
        id icatId name location startDate endDate fileSize fileCount type { name }
        sample { name typeName molecularFormula }
        techniques { name pid }
        parameters { name units valueKind numericValue stringValue dateTimeValue }
      }
    }
  }
}
"""

SESSION_PAGE_PGL = """
query SessionPage($id: BigInt!) {
  investigationByRowId(rowId: $id) {
    id rowId name visitId title startdate enddate releasedate doi summary filesize filecount
    investigationinstrumentsByInvestigationId { nodes { instrumentByInstrumentId { name } } }
    investigationusersByInvestigationId(orderBy: ROW_ID_ASC) {
      nodes { role userByUserId { name fullname } }
    }
    keywordsByInvestigationId(orderBy: NAME_ASC) { nodes { name } }
    datasetsByInvestigationId(first: 200, orderBy: [STARTDATE_ASC, ROW_ID_ASC]) {
      totalCount
      nodes {
        id rowId name location startdate endDate filesize filecount
        datasettypeByTypeId { name }
        sampleBySampleId { name sampletypeBySampletypeId { name molecularformula } }
        datasettechniquesByDatasetId { nodes { techniqueByTechniqueId { name pid } } }
        datasetparametersByDatasetId {
          nodes {
            numericValue stringValue datetimeValue
            parametertypeByParameterTypeId { name units valuetype }
          }
        }
      }
    }
  }
}
"""

DATASET_ORDER = 'ORDER BY {a}."STARTDATE" NULLS LAST, {a}."ID"'


def session_page_sql(member: bool) -> str:
    session = "$2" if member else "$1"
    visible_dataset = f'(inv.data_visible OR d."ID" IN ({PUBLISHED_DATASETS}))'
    # The parameters of all the page's datasets in one join, then one lookup per dataset.
    parameters = 'coalesce((SELECT pl.list FROM params pl WHERE pl."DATASET_ID" = d."ID"), \'[]\')'
    techniques = (
        "(SELECT coalesce(json_agg(json_build_object('name', t.\"NAME\", 'pid', t.\"PID\") "
        'ORDER BY t."NAME"), \'[]\') FROM "DATASETTECHNIQUE" dt JOIN "TECHNIQUE" t '
        'ON t."ID" = dt."TECHNIQUE_ID" WHERE dt."DATASET_ID" = d."ID")'
    )
    sample = (
        "(SELECT json_build_object('name', s.\"NAME\", 'typeName', st.\"NAME\", "
        '\'molecularFormula\', st."MOLECULARFORMULA") FROM "SAMPLE" s '
        'LEFT JOIN "SAMPLETYPE" st ON st."ID" = s."SAMPLETYPE_ID" WHERE s."ID" = d."SAMPLE_ID")'
    )
    return f"""
WITH inv AS (
  SELECT i.*, {session_data_visible("i", member)} AS data_visible
  FROM "INVESTIGATION" i WHERE i."ID" = {session}
), page AS (
  SELECT d.* FROM "DATASET" d, inv
  WHERE d."INVESTIGATION_ID" = inv."ID" AND {visible_dataset}
  {DATASET_ORDER.format(a="d")} LIMIT {SESSION_PAGE_DATASETS}
), params AS MATERIALIZED (
  SELECT dp."DATASET_ID", json_agg(json_build_object('name', pt."NAME", 'units', pt."UNITS",
      'valueKind', CASE pt."VALUETYPE" WHEN 0 THEN 'DATE_AND_TIME' WHEN 1 THEN 'NUMERIC'
                   ELSE 'STRING' END,
      'numericValue', dp."NUMERIC_VALUE", 'stringValue', dp."STRING_VALUE",
      'dateTimeValue', dp."DATETIME_VALUE") ORDER BY pt."NAME") AS list
  FROM page d JOIN "DATASETPARAMETER" dp ON dp."DATASET_ID" = d."ID"
  JOIN "PARAMETERTYPE" pt ON pt."ID" = dp."PARAMETER_TYPE_ID"
  GROUP BY dp."DATASET_ID"
)
SELECT json_build_object('investigation', json_build_object(
  {landing_json("inv")},
  'canReadData', inv.data_visible,
  'summary', CASE WHEN inv.data_visible THEN inv."SUMMARY" END,
  'fileSize', CASE WHEN inv.data_visible THEN inv."FILESIZE" END,
  'fileCount', CASE WHEN inv.data_visible THEN inv."FILECOUNT" END,
  'instruments', {instruments_json('inv."ID"')},
  'team', {team_json('inv."ID"')},
  'keywords', CASE WHEN inv.data_visible THEN (SELECT coalesce(json_agg(k."NAME"
      ORDER BY k."NAME"), '[]') FROM "KEYWORD" k WHERE k."INVESTIGATION_ID" = inv."ID") END,
  'datasets', json_build_object(
    'totalCount', (SELECT count(*) FROM "DATASET" d
                   WHERE d."INVESTIGATION_ID" = inv."ID" AND {visible_dataset}),
    'nodes', coalesce((SELECT json_agg(json_build_object(
        'id', {gid("Dataset", 'd."ID"')}, 'icatId', d."ID", 'name', d."NAME",
        'location', d."LOCATION", 'startDate', d."STARTDATE", 'endDate', d."END_DATE",
        'fileSize', d."FILESIZE", 'fileCount', d."FILECOUNT",
        'type', (SELECT json_build_object('name', t."NAME") FROM "DATASETTYPE" t
                 WHERE t."ID" = d."TYPE_ID"),
        'sample', {sample},
        'techniques', {techniques},
        'parameters', {parameters}
      ) {DATASET_ORDER.format(a="d")})
      FROM page d LEFT JOIN params pl ON pl."DATASET_ID" = d."ID"), '[]'::json)
  )
))::text FROM inv
"""


FILE_PAGE_GQL = """
query Files($id: ID!, $first: Int!, $after: String) {
  dataset(id: $id) {
    datafiles(first: $first, after: $after) {
      pageInfo { hasNextPage endCursor }
      nodes { id icatId name location fileSize checksum createTime modTime format }
    }
  }
}
"""

FILE_PAGE_PGL = """
query Files($id: BigInt!, $after: Cursor) {
  datasetByRowId(rowId: $id) {
    datafilesByDatasetId(first: 1000, after: $after, orderBy: [NAME_ASC, ROW_ID_ASC]) {
      pageInfo { hasNextPage endCursor }
      nodes {
        id rowId name location filesize checksum datafilecreatetime datafilemodtime
        datafileformatByDatafileformatId { name }
      }
    }
  }
}
"""


def file_page_sql(member: bool, first_page: bool) -> str:
    """One keyset page of a dataset's files (NAME, ID); cursor = the last (name, id)."""
    n = 2 if member else 1
    dataset = f"${n}"
    keyset = "" if first_page else f'AND (f."NAME", f."ID") > (${n + 1}::text, ${n + 2}::bigint)'
    return f"""
WITH visible AS (
  SELECT 1 FROM "DATASET" d JOIN "INVESTIGATION" i ON i."ID" = d."INVESTIGATION_ID"
  WHERE d."ID" = {dataset}
  AND ({session_data_visible("i", member)} OR d."ID" IN ({PUBLISHED_DATASETS}))
), page AS (
  SELECT f.*, fmt."NAME" AS format_name FROM "DATAFILE" f
  LEFT JOIN "DATAFILEFORMAT" fmt ON fmt."ID" = f."DATAFILEFORMAT_ID"
  WHERE f."DATASET_ID" = {dataset} AND EXISTS (SELECT 1 FROM visible) {keyset}
  ORDER BY f."NAME", f."ID" LIMIT {FILE_PAGE + 1}
), shown AS (SELECT * FROM page ORDER BY "NAME", "ID" LIMIT {FILE_PAGE})
SELECT CASE WHEN EXISTS (SELECT 1 FROM visible) THEN json_build_object('dataset',
  json_build_object('datafiles', json_build_object(
    'pageInfo', json_build_object(
      'hasNextPage', (SELECT count(*) FROM page) > {FILE_PAGE},
      'endCursor', (SELECT json_build_array(s."NAME", s."ID")::text FROM shown s
                    ORDER BY s."NAME" DESC, s."ID" DESC LIMIT 1)),
    'nodes', coalesce((SELECT json_agg(json_build_object(
        'id', {gid("Datafile", 'f."ID"')}, 'icatId', f."ID", 'name', f."NAME",
        'location', f."LOCATION", 'fileSize', f."FILESIZE", 'checksum', f."CHECKSUM",
        'createTime', f."DATAFILECREATETIME", 'modTime', f."DATAFILEMODTIME",
        'format', f.format_name
      ) ORDER BY f."NAME", f."ID") FROM shown f), '[]'::json)
  ))) ELSE json_build_object('dataset', NULL) END::text
"""


DOI_GQL = """
query Doi($doi: String!) {
  doi(doi: $doi) {
    __typename
    ... on Investigation {
      id icatId proposal visitId title startDate endDate releaseDate doi isReleased
      instruments { name }
      team { nodes { role user { name fullName } } }
    }
  }
}
"""

DOI_PGL = """
query Doi($doi: String!) {
  allInvestigations(condition: {doi: $doi}, first: 1) {
    nodes {
      id rowId name visitId title startdate enddate releasedate doi
      investigationinstrumentsByInvestigationId { nodes { instrumentByInstrumentId { name } } }
      investigationusersByInvestigationId(orderBy: ROW_ID_ASC) {
        nodes { role userByUserId { name fullname } }
      }
    }
  }
}
"""


def doi_sql(member: bool) -> str:
    # The DOI names a session: the gateway looks sessions up first and stops there.
    variants = "$1"  # landing facts only: no visibility rule, so no caller
    return f"""
SELECT json_build_object('doi', (SELECT json_build_object(
    '__typename', 'Investigation', {landing_json("i")},
    'instruments', {instruments_json('i."ID"')},
    'team', {team_json('i."ID"')})
  FROM "INVESTIGATION" i WHERE i."DOI" = ANY({variants}::text[]) ORDER BY i."ID" LIMIT 1))::text
"""


SEARCH_GQL = """
query Search($text: String!, $first: Int!) {
  investigations(filter: {search: $text}, first: $first) {
    totalCount
    nodes { id icatId proposal visitId title startDate endDate releaseDate doi isReleased
            instruments { name } }
  }
}
"""

SEARCH_PGL = """
query Search($pattern: String!) {
  allInvestigations(first: 50, orderBy: [STARTDATE_DESC, ROW_ID_DESC], filter: {or: [
    {title: {likeInsensitive: $pattern}}, {name: {likeInsensitive: $pattern}},
    {summary: {likeInsensitive: $pattern}},
    {keywordsByInvestigationId: {some: {name: {likeInsensitive: $pattern}}}}
  ]}) {
    totalCount
    nodes {
      id rowId name visitId title startdate enddate releasedate doi
      investigationinstrumentsByInvestigationId { nodes { instrumentByInstrumentId { name } } }
    }
  }
}
"""


def search_sql(member: bool) -> str:
    """Free text over the gateway's search documents and their indexes, ranked, as
    ``gateway.catalogue.text_search`` does it: the landing half and the data half one index
    search each, the data half counted only where the caller may read the session's data."""
    n = 2 if member else 1
    query, phrase, pattern = f"to_tsquery('simple', ${n})", f"${n + 1}", f"${n + 2}"
    visible = session_data_visible("i", member)

    def branch(landing: bool, column: str, rank: str, condition: str) -> str:
        lr, dr = (rank, "0::float8") if landing else ("0::float8", rank)
        return (
            f'SELECT d."INVESTIGATION_ID" AS id, {int(landing)} AS lh, {int(not landing)} AS dh, '
            f'({lr})::float8 AS lr, ({dr})::float8 AS dr FROM "GATEWAY_SEARCH_DOCUMENT" d '
            f"WHERE {condition}"
        )

    def vector(column: str) -> str:
        return f'd."{vector_name(column)}"'  # the stored tsvector (search_documents)

    found = " UNION ALL ".join(
        (
            branch(True, "LANDING", f'ts_rank({vector("LANDING")}, {query})',
                   f'{vector("LANDING")} @@ {query}'),
            branch(False, "DATA", f'ts_rank({vector("DATA")}, {query})',
                   f'{vector("DATA")} @@ {query}'),
            branch(True, "LANDING", f'word_similarity({phrase}, d."LANDING") * 0.1',
                   f'd."LANDING" LIKE {pattern}'),
        )
    )  # fmt: skip
    relevance = f"round((2 * s.lr + CASE WHEN {visible} THEN s.dr ELSE 0 END) * 1000000)::bigint"
    order = 'ORDER BY {a}."REL" DESC, {a}."ID" DESC'
    return f"""
WITH scores AS (
  SELECT id, max(lh) AS lh, max(dh) AS dh, sum(lr) AS lr, sum(dr) AS dr
  FROM ({found}) f GROUP BY id
), matches AS MATERIALIZED (
  SELECT i."ID", {relevance} AS "REL" FROM "INVESTIGATION" i JOIN scores s ON s.id = i."ID"
  WHERE s.lh > 0 OR (s.dh > 0 AND {visible})
), page AS (
  SELECT i.*, t."REL" FROM "INVESTIGATION" i JOIN (
    SELECT m."ID", m."REL" FROM matches m {order.format(a="m")} LIMIT {PAGE_SIZE}
  ) t ON t."ID" = i."ID"
)
SELECT json_build_object('investigations', json_build_object(
  'totalCount', (SELECT count(*) FROM matches),
  'nodes', coalesce((SELECT json_agg(json_build_object(
      {landing_json("p")}, 'instruments', {instruments_json('p."ID"')}
    ) {order.format(a="p")}) FROM page p), '[]'::json)
))::text
"""


def search_arguments(text: str) -> list[str]:
    """The raw statement's arguments: the prefix query, the phrase, its LIKE pattern (the
    words as ``gateway.catalogue.search_documents.words`` makes them)."""
    words = list(dict.fromkeys(re.findall(r"[^\W_]+", text.lower())))
    phrase = " ".join(words)
    return [" & ".join(f"{word}:*" for word in words), phrase, f"%{phrase}%"]


# --------------------------------------------------------------------------------------
# The catalogue of workloads
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    """One request of an operation, for each of the three targets."""

    gateway: tuple[str, dict[str, Any]]
    postgraphile: tuple[str, dict[str, Any]]
    raw_args: list[Any]
    """Arguments after the caller's user name (which comes first for a member)."""


@dataclass(frozen=True)
class Workload:
    name: str
    title: str
    raw_sql: Callable[[bool], str]
    """SQL text for (member?) — for paged workloads, the first page's."""
    request: Callable[[Parameters], Request]
    paged: bool = False
    """Follows cursors: FILE_PAGES sequential requests make one operation."""
    uses_caller: bool = True
    """The raw SQL depends on who asks (its first argument is then the user name)."""


def _session_list(p: Parameters) -> Request:
    return Request(
        gateway=(SESSION_LIST_GQL, {"first": PAGE_SIZE}),
        postgraphile=(SESSION_LIST_PGL, {"now": "NOW"}),
        raw_args=[],
    )


def _session_page(p: Parameters) -> Request:
    return Request(
        gateway=(
            SESSION_PAGE_GQL,
            {"id": global_id("Investigation", p.session_id), "first": SESSION_PAGE_DATASETS},
        ),
        postgraphile=(SESSION_PAGE_PGL, {"id": str(p.session_id)}),
        raw_args=[p.session_id],
    )


def _file_listing(p: Parameters) -> Request:
    return Request(
        gateway=(FILE_PAGE_GQL, {"id": global_id("Dataset", p.dataset_id), "first": FILE_PAGE}),
        postgraphile=(FILE_PAGE_PGL, {"id": str(p.dataset_id)}),
        raw_args=[p.dataset_id],
    )


def _doi(p: Parameters) -> Request:
    return Request(
        gateway=(DOI_GQL, {"doi": p.doi}),
        postgraphile=(DOI_PGL, {"doi": p.doi}),
        raw_args=[doi_variants(p.doi)],
    )


def _search(p: Parameters) -> Request:
    return Request(
        gateway=(SEARCH_GQL, {"text": p.search, "first": PAGE_SIZE}),
        postgraphile=(SEARCH_PGL, {"pattern": like_pattern(p.search)}),
        raw_args=search_arguments(p.search),
    )


WORKLOADS: dict[str, Workload] = {
    w.name: w
    for w in (
        Workload(
            "session_list",
            "session list (50 released sessions, newest first)",
            session_list_sql,
            _session_list,
        ),
        Workload(
            "session_page",
            f"session page ({SESSION_PAGE_DATASETS} datasets)",
            session_page_sql,
            _session_page,
        ),
        Workload(
            "file_listing",
            f"file listing ({FILE_PAGES} x {FILE_PAGE} files)",
            lambda member: file_page_sql(member, True),
            _file_listing,
            paged=True,
        ),
        Workload("doi", "DOI lookup", doi_sql, _doi, uses_caller=False),
        Workload("search", "free-text search (page of 50)", search_sql, _search),
    )
}


def raw_statement(
    workload: str, member: bool, user: str | None, args: list[Any], after: Any = None
) -> tuple[str, list[Any]]:
    """The SQL text and positional arguments of one raw request."""
    if workload == "file_listing":
        sql = file_page_sql(member, after is None)
        extra = [] if after is None else list(json.loads(after))
    else:
        sql = WORKLOADS[workload].raw_sql(member)
        extra = []
    prefix = [user] if member and WORKLOADS[workload].uses_caller else []
    return sql, [*prefix, *args, *extra]
