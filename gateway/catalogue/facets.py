"""Facets of a search: how many of the caller's matches have each value, for a filter panel.

One statement counts every facet asked for (``UNION ALL`` of one ``GROUP BY`` each) over
the matched sessions' ids, a CTE of the list's own statement: the same filters, the same
policy, so a count never includes a session the list would not show, and the technique
facet counts a session only through datasets the caller may see. Under ICAT's rules a
value is read as its list field reaches it (``Investigation.instruments``,
``Dataset.techniques``...: ``visibility.listed_by_rules``), so a facet counts only what
the caller could list.

A search counts its sessions' facets inside the page's own statement, over the CTE of
matches that its page and total read (``session_facet_counts``;
``gateway.schema.facets.facets_over``).

The technique facet of sessions reads, for a matched session whose every dataset the
caller may see (``visibility.every_dataset_visible``: staff; a session whose data the
caller reads; under ICAT's rules a PUBLICSTEP to the datasets), the techniques of its
datasets summarised per session with the search documents (``GATEWAY_SESSION_TECHNIQUE``:
one row per session and technique, not one lookup per dataset), where the documents are
built (``summarised``); for the other matches, the datasets the caller may see one by
one, as without the summary. Under ICAT's rules that filter the technique links
themselves (``Dataset.techniques`` no PUBLICSTEP) the summary is not read.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Integer,
    Select,
    String,
    and_,
    case,
    cast,
    exists,
    extract,
    func,
    join,
    literal,
    literal_column,
    not_,
    select,
    true,
    union_all,
)
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import True_

from gateway.catalogue.gateway_tables import SessionTechnique
from gateway.catalogue.models import (
    Dataset,
    DatasetParameter,
    DatasetTechnique,
    DatasetType,
    Instrument,
    Investigation,
    InvestigationInstrument,
    InvestigationType,
    ParameterType,
    Technique,
)
from gateway.catalogue.visibility import (
    Access,
    dataset_visible_given_session,
    dataset_visible_joined,
    every_dataset_visible,
    investigation_data_visible,
    listed_by_rules,
    lookup_by_rules,
    opened_dataset_ids,
    released,
)
from gateway.fields.catalogue import TYPES

SESSION_FACETS = ("instrument", "year", "type", "released", "technique")
DATASET_FACETS = ("technique", "type", "parameter")


def _facet(name: str, value: Any, counted: Any, statement: Select[Any]) -> Select[Any]:
    """Rows (facet, value, count) of ``statement`` grouped by ``value``: how many distinct
    ``counted``, or how many rows where ``counted`` is None (each row another item)."""
    number = func.count() if counted is None else func.count(func.distinct(counted))
    return (
        statement.with_only_columns(
            literal_column(f"'{name}'").label("facet"),
            cast(value, String).label("value"),
            number.label("count"),
            maintain_column_froms=True,
        )
        .where(value.is_not(None))
        .group_by(value)
    )


def session_facets(
    access: Access,
    matched: Select[Any],
    names: Sequence[str],
    dialect_name: str = "postgresql",
    summarised: bool = False,
) -> Select[Any]:
    """The counts of the facets ``names`` (of ``SESSION_FACETS``) over the sessions of
    ``matched`` (a statement over INVESTIGATION): rows (facet, value, count), in the form
    that suits ``dialect_name`` (see :func:`opened_first`; any form runs on every
    database). ``summarised``: the sessions' techniques are summarised (the search
    documents are built, see the module's docstring)."""
    ids = (
        matched.with_only_columns(
            Investigation.id.label("id"),
            *session_facet_columns(access, names),
            maintain_column_froms=True,
        )
        .order_by(None)
        .cte("facet_sessions")
    )
    return _ordered(session_facet_counts(access, ids, names, dialect_name, summarised))


_CARRIED = "_f_"


def session_facet_columns(access: Access, names: Sequence[str]) -> list[Any]:
    """What the facets ``names`` group by on the session's own row, as labelled columns
    over INVESTIGATION for the CTE of matches to hold beside each id
    (:func:`session_facet_counts`): read while the match is read, not by a join to
    INVESTIGATION per facet."""
    columns: dict[str, Any] = {
        "year": cast(extract("year", Investigation.start_date), Integer),
        "type": Investigation.type_id,
        "released": case(
            (released(Investigation.release_date, access.now), literal_column("'true'")),
            else_=literal_column("'false'"),
        ),
    }
    if access.rules is None:
        # Whether the caller may read the session's data (its datasets with it); staff
        # see every dataset.
        session_part = not access.is_staff
    else:
        # Under ICAT's rules, needed only where sessions are listed without being
        # readable: a public step then opens the datasets of readable ones alone
        # (visibility.datasets_of_session_by_rules).
        session_part = access.rules.public_landing and not access.rules.root
    if session_part:
        columns["technique"] = case((investigation_data_visible(access), 1), else_=0)
    return [columns[name].label(_CARRIED + name) for name in names if name in columns]


def _where_reached(value: Any, conditions: list[ColumnElement[bool]]) -> Any:
    """``value`` where ``conditions`` (``visibility.listed_by_rules``) hold, else NULL."""
    return case((and_(*conditions), value)) if conditions else value


def _session_part(carried: dict[str, Any]) -> ColumnElement[bool]:
    """The session's part of the dataset rule, as the matches hold it (see
    :func:`session_facet_columns`; nothing held where that part decides nothing)."""
    column = carried.get("technique")
    return true() if column is None else column == 1


def _summary_serves(
    access: Access, carried: dict[str, Any], summarised: bool
) -> ColumnElement[bool] | None:
    """The matched sessions whose visible datasets' techniques are those the summary
    holds (``GATEWAY_SESSION_TECHNIQUE``): every dataset of theirs visible to the caller
    (``visibility.every_dataset_visible``, the session's part of the rule as the matches
    hold it), and every technique link of a visible dataset listed. None: the summary
    serves no session (not ``summarised``, or ICAT's rules that decide per dataset or per
    link)."""
    if not summarised or listed_by_rules(access, "Dataset", "techniques"):
        return None
    return every_dataset_visible(access, _session_part(carried))


def session_facets_in_one_pass(
    access: Access, matched: Select[Any], names: Sequence[str], summarised: bool = False
) -> Select[Any]:
    """:func:`session_facets`' counts, the sessions of ``matched`` read once. For MariaDB,
    which fills a CTE again for each place that reads it (a search per facet): each
    matched session's values (what its own row holds, :func:`session_facet_columns`, and
    its beamlines' and visible datasets' techniques' names, through outer joins) are read
    once into a derived table of distinct rows, which is then joined to one row per facet
    asked (a constant list of their names) and grouped by facet and value. (Joined to
    that list before the link tables, MariaDB probed every link table for every facet.)
    ``summarised``: as :func:`session_facets`."""
    ids = (
        matched.with_only_columns(
            Investigation.id.label("id"),
            *session_facet_columns(access, names),
            maintain_column_froms=True,
        )
        .order_by(None)
        .subquery("facet_sessions")
    )
    carried = {name: ids.c[_CARRIED + name] for name in names if _CARRIED + name in ids.c}
    rows: Any = ids
    values: dict[str, Any] = {}
    for name in names:
        if name == "instrument":
            rows = rows.outerjoin(
                InvestigationInstrument, InvestigationInstrument.investigation_id == ids.c.id
            ).outerjoin(Instrument, Instrument.id == InvestigationInstrument.instrument_id)
            # A value the rules do not reach is NULL, as an outer join that found nothing.
            values[name] = _where_reached(
                Instrument.name, listed_by_rules(access, "Investigation", "instruments")
            )
        elif name == "year":
            values[name] = cast(carried[name], String)
        elif name == "type":
            rows = rows.outerjoin(InvestigationType, InvestigationType.id == carried[name])
            values[name] = _where_reached(
                InvestigationType.name, listed_by_rules(access, "Investigation", "type")
            )
        elif name == "released":
            values[name] = carried[name]
        elif name == "technique":
            whole = _summary_serves(access, carried, summarised)
            visible = and_(
                Dataset.investigation_id == ids.c.id,
                # The session's part of the rule was read with the match.
                dataset_visible_given_session(access, _session_part(carried)),
            )
            technique_id: Any = DatasetTechnique.technique_id
            if whole is not None:
                # The summary's rows for the sessions it serves; the datasets one by one
                # for the others (each side an outer join that finds nothing for the
                # sessions of the other).
                rows = rows.outerjoin(
                    SessionTechnique, and_(SessionTechnique.investigation_id == ids.c.id, whole)
                )
                technique_id = SessionTechnique.technique_id
                visible = and_(visible, not_(whole))
            if whole is None or not isinstance(whole, True_):
                rows = rows.outerjoin(Dataset, visible).outerjoin(
                    DatasetTechnique, DatasetTechnique.dataset_id == Dataset.id
                )
                if whole is not None:
                    technique_id = func.coalesce(
                        SessionTechnique.technique_id, DatasetTechnique.technique_id
                    )
            rows = rows.outerjoin(Technique, Technique.id == technique_id)
            values[name] = _where_reached(
                Technique.name, listed_by_rules(access, "Dataset", "techniques")
            )
        else:
            raise ValueError(f"no session facet {name}")
    found = (
        select(ids.c.id, *(value.label(name) for name, value in values.items()))
        .select_from(rows)
        .distinct()
        .subquery("facet_values")
    )
    kinds = union_all(*(select(literal(name).label("facet")) for name in names)).subquery(
        "facet_kinds"
    )
    kind = kinds.c.facet
    value = case(*((kind == name, found.c[name]) for name in names))
    # One FROM clause built as a whole (a join on true names no left side for
    # ``Select.join`` to find).
    statement = (
        select(
            kind.label("facet"),
            value.label("value"),
            func.count(func.distinct(found.c.id)).label("count"),
        )
        .select_from(join(found, kinds, true()))
        .where(value.is_not(None))
        .group_by(kind, value)
    )
    counted = statement.subquery("facet_counts")
    return select(counted).order_by(*facet_order(counted))


def session_facet_counts(
    access: Access,
    ids: Any,
    names: Sequence[str],
    dialect_name: str = "postgresql",
    summarised: bool = False,
) -> list[Select[Any]]:
    """One statement per facet of ``names`` (rows facet, value, count) over the sessions
    whose ids are ``ids.c.id`` (a CTE: the list's matches, evaluated once, one row per
    session, holding :func:`session_facet_columns` too), to be united. Each reads the CTE
    and, beyond it, only the facet's own link and name tables. What the CTE holds is
    counted by its rows (a session is one row); what is reached through link rows, by
    distinct sessions. ``dialect_name``: the database the statements are for (the form of
    the technique facet, :func:`opened_first`); ``summarised``: as :func:`session_facets`."""
    parts: list[Select[Any]] = []
    carried = {name: ids.c[_CARRIED + name] for name in names if _CARRIED + name in ids.c}
    for name in names:
        if name == "instrument":
            reached = listed_by_rules(access, "Investigation", "instruments")
            if reached:
                statement = select(ids.c.id).join(
                    InvestigationInstrument, InvestigationInstrument.investigation_id == ids.c.id
                )
                statement = statement.join(
                    Instrument, Instrument.id == InvestigationInstrument.instrument_id
                ).where(*reached)
                parts.append(_facet(name, Instrument.name, ids.c.id, statement))
            else:
                parts.extend(_instrument_facet(ids))
        elif name in ("year", "released"):
            parts.append(_facet(name, carried[name], None, select(ids.c.id)))
        elif name == "type":
            # Counted by the type's id, named after: one lookup per type, not per session
            # (two facilities' types of one name add up: a session has one type).
            by_type = (
                select(carried[name].label("type_id"), func.count().label("count"))
                .group_by(carried[name])
                .subquery("type_counts")
            )
            named = (
                select(by_type.c.type_id)
                .join(InvestigationType, InvestigationType.id == by_type.c.type_id)
                .where(*listed_by_rules(access, "Investigation", "type"))
            )
            parts.append(
                named.with_only_columns(
                    literal_column(f"'{name}'").label("facet"),
                    cast(InvestigationType.name, String).label("value"),
                    cast(func.sum(by_type.c["count"]), BigInteger).label("count"),
                    maintain_column_froms=True,
                )
                .where(InvestigationType.name.is_not(None))
                .group_by(InvestigationType.name)
            )
        elif name == "technique":
            parts.append(
                _technique_facet(
                    access,
                    ids,
                    carried,
                    opened_first(dialect_name),
                    summarised,
                    dialect_name in ("mariadb", "mysql", "postgresql"),
                )
            )
        else:
            raise ValueError(f"no session facet {name}")
    return parts


def _instrument_facet(ids: Any) -> list[Select[Any]]:
    """The beamline facet's rows over the matches ``ids`` (no rules on the link rows).
    A session links a beamline once (``UNQ_INVESTIGATIONINSTRUMENT_0``), so the link rows
    per beamline id are its sessions: counted by id (an integer) and named after, with
    no distinct sessions to sort or hash per name and no beamline row read per link
    (10,000 sessions, "series", 1,975 matches, the facet alone: MariaDB +5.0 -> +0.8 ms,
    SQLite +1.6 -> +0.7 over the search). Exact while no two beamlines share a name (of
    two facilities): a session with both would be counted twice under it. Where some do,
    the facet is counted as before, by distinct sessions per name. Both forms are in the
    statement, each under the one condition on the beamlines alone (a few rows, read
    once), so only one of them reads the matches.

    ``+ 0``: from the matches to their links (SQLite, which knows no size of the matches,
    would otherwise read every link in beamline order and probe the matches)."""
    named = aliased(Instrument, name="named_alike")
    shared = exists(select(named.name).group_by(named.name).having(func.count() > 1))
    by_id = (
        select(
            InvestigationInstrument.instrument_id.label("instrument_id"),
            func.count().label("count"),
        )
        .select_from(ids)
        .join(InvestigationInstrument, InvestigationInstrument.investigation_id == ids.c.id + 0)
        .where(not_(shared))
        .group_by(InvestigationInstrument.instrument_id)
        .subquery("instrument_counts")
    )
    counted_by_id: Select[Any] = (
        select(
            literal_column("'instrument'").label("facet"),
            cast(Instrument.name, String).label("value"),
            cast(func.sum(by_id.c["count"]), BigInteger).label("count"),
        )
        .select_from(by_id)
        .join(Instrument, Instrument.id == by_id.c.instrument_id)
        .where(Instrument.name.is_not(None))
        .group_by(Instrument.name)
    )
    by_sessions = (
        select(ids.c.id)
        .join(InvestigationInstrument, InvestigationInstrument.investigation_id == ids.c.id)
        .join(Instrument, Instrument.id == InvestigationInstrument.instrument_id)
        .where(shared)
    )
    return [counted_by_id, _facet("instrument", Instrument.name, ids.c.id, by_sessions)]


def opened_first(dialect_name: str) -> bool:
    """Whether the technique facet, under the built-in policy, reaches the datasets opened
    one by one (published, or named by a reviewer link) from the opened datasets to the
    matches (PostgreSQL), or tests each dataset of the matches against them (SQLite,
    MariaDB). Where the sessions' techniques are summarised, MariaDB and PostgreSQL both
    join the datasets of the matches the summary does not serve to the opened ones
    instead (``_technique_facet``'s ``opened_joined``); what follows is of the forms
    without the summary.

    PostgreSQL, tested per dataset, costs the hashed subquery in an ``OR`` at every probe
    of DATASET and reads all of it (10k sessions, "series": 95 ms against 70). SQLite and
    MariaDB have no such choice to make: they walk the matches' datasets anyway, and the
    test is a lookup per dataset of an embargoed match; walked from the opened datasets,
    every faceted search read every published dataset's row and techniques, whatever it
    matched (10k sessions, 435 datasets: MariaDB's technique facet 8.8 -> 3.9 ms for a word
    of few matches, SQLite's 1.8 -> 1.3 ms; the cost grows with the catalogue's published
    datasets, not with the matches)."""
    return dialect_name == "postgresql"


def _technique_facet(
    access: Access,
    ids: Any,
    carried: dict[str, Any],
    from_opened: bool = True,
    summarised: bool = False,
    opened_joined: bool = False,
) -> Select[Any]:
    """The technique facet's rows over the matches ``ids``: per technique, the sessions
    with a dataset the caller may see that has it. Counted by the technique's id (its name
    is unique), named after: one lookup per technique, not per dataset. ``from_opened``:
    see :func:`opened_first`; ``summarised``: as :func:`session_facets` (the sessions the
    summary serves read it, :func:`_summary_serves`; the others as without it)."""
    session_part = _session_part(carried)
    whole = _summary_serves(access, carried, summarised)
    # Each join reads the next table by its index from the row before (``+ 0`` on the
    # side already read: SQLite, which knows no size of the matches, would otherwise
    # start from DATASETTECHNIQUE).
    walked = (
        select(ids.c.id.label("id"), DatasetTechnique.technique_id.label("technique_id"))
        .join(Dataset, Dataset.investigation_id == ids.c.id + 0)
        .join(DatasetTechnique, DatasetTechnique.dataset_id == Dataset.id + 0)
    )
    served: list[Any] = []
    if whole is not None:
        # The sessions the summary serves: one row per technique of theirs, read by the
        # summary's key; the datasets are walked for the others only.
        served.append(
            select(ids.c.id.label("id"), SessionTechnique.technique_id.label("technique_id"))
            .join(SessionTechnique, SessionTechnique.investigation_id == ids.c.id + 0)
            .where(whole)
        )
        walked = walked.where(not_(whole))
    if isinstance(whole, True_):
        parts: list[Any] = []
    elif (
        access.rules is None
        and not access.is_staff
        and (not from_opened or (opened_joined and whole is not None))
    ):
        # The built-in policy, every dataset of the matches tested (SQLite, MariaDB): its
        # session's part of the rule, read with the match, or opened one by one.
        if whole is not None and opened_joined:
            # MariaDB and PostgreSQL, where the summary serves the sessions whose data
            # the caller reads (the others' part of the rule is false): the others'
            # datasets joined to the opened datasets' ids, kept once as a table of
            # distinct ids (MariaDB: with a key, one lookup per dataset; PostgreSQL:
            # hashed). Tested by the rule's ``OR`` (or a plain ``IN``), MariaDB read
            # every data publication for each dataset (10,000 sessions, "reduction", 81
            # embargoed matches: 54,246 lookups, +34 ms of a 4.5 ms search); walked
            # from every opened dataset, PostgreSQL read all of them and their
            # techniques whatever the search matched ("reduction": 3.5 ms under
            # EXPLAIN ANALYZE, 0.8 joined). (SQLite keeps the ``OR``: given a plain
            # ``IN`` it probed each match's datasets once per opened dataset.)
            listed = opened_dataset_ids(access).subquery("opened_ids")
            opened = select(listed.c[0].label("id")).distinct().subquery("opened_datasets")
            parts = [walked.join(opened, opened.c.id == Dataset.id)]
        else:
            parts = [walked.where(dataset_visible_given_session(access, session_part))]
    elif access.rules is None and not access.is_staff:
        # The built-in policy (PostgreSQL): every dataset of a session whose data the
        # caller reads, and, of the others, the datasets opened one by one (published, or
        # named by a reviewer link), walked from those few to their sessions: not a test
        # of every dataset of every match against the opened ones.
        opened = opened_dataset_ids(access).subquery("opened_datasets")
        by_opening = (
            select(ids.c.id.label("id"), DatasetTechnique.technique_id.label("technique_id"))
            .select_from(opened)
            .join(Dataset, Dataset.id == opened.c[0])
            # ``+ 0``: from the datasets to the matches, not from every match to its
            # datasets.
            .join(ids, ids.c.id == Dataset.investigation_id + 0)
            .join(DatasetTechnique, DatasetTechnique.dataset_id == Dataset.id)
            .where(not_(session_part))
        )
        # The summary, where read, serves the sessions whose data the caller reads.
        parts = [by_opening] if served else [walked.where(session_part), by_opening]
    else:
        # Staff see every dataset; under ICAT's rules, those Investigation.datasets lists
        # (the session's part of the rule was read with the match), and the techniques
        # Dataset.techniques lists.
        used = dataset_visible_joined(access, walked, session_part)
        beyond = listed_by_rules(access, "Dataset", "techniques")
        if beyond:
            used = used.join(Technique, Technique.id == DatasetTechnique.technique_id + 0).where(
                *beyond
            )
        parts = [used]
    # The summary holds a session's technique once (its primary key): its rows are
    # counted as they are. The datasets read one by one (of sessions the summary does not
    # serve, so never the same session as the summary's rows) may give a session's
    # technique more than once: counted by distinct sessions. Sorting or hashing the
    # summary's pairs for distinct sessions had cost more than reading them.
    groups: list[Any] = []
    if served:
        (summary,) = served
        rows = summary.subquery("summary_pairs")
        groups.append(
            select(rows.c.technique_id, func.count().label("count")).group_by(rows.c.technique_id)
        )
    if parts:
        pairs = (parts[0] if len(parts) == 1 else union_all(*parts)).subquery("technique_pairs")
        groups.append(
            select(
                pairs.c.technique_id, func.count(func.distinct(pairs.c.id)).label("count")
            ).group_by(pairs.c.technique_id)
        )
    if len(groups) == 1:
        counted = groups[0].subquery("technique_counts")
    else:
        both = union_all(*groups).subquery("technique_parts")
        counted = (
            select(
                both.c.technique_id,
                cast(func.sum(both.c["count"]), BigInteger).label("count"),
            )
            .group_by(both.c.technique_id)
            .subquery("technique_counts")
        )
    return (
        select(
            literal_column("'technique'").label("facet"),
            cast(Technique.name, String).label("value"),
            counted.c["count"],
        )
        .join(Technique, Technique.id == counted.c.technique_id)
        .where(Technique.name.is_not(None))
    )


def _looked_up(access: Access, model: Any, type_name: str) -> list[ColumnElement[bool]]:
    """Under ICAT's rules, the conditions on the row the declared lookup of ``type_name``
    reads with a row of ``model`` (``visibility.lookup_by_rules``): a facet counts a name
    the caller could read where it is listed."""
    (lookup,) = TYPES[type_name].lookups
    condition = lookup_by_rules(access, model, lookup)
    return [] if condition is None else [condition]


def dataset_facets(access: Access, matched: Select[Any], names: Sequence[str]) -> Select[Any]:
    """The counts of the facets ``names`` (of ``DATASET_FACETS``) over the datasets of
    ``matched`` (a statement over DATASET that applies the caller's visibility)."""
    ids = (
        matched.with_only_columns(Dataset.id.label("id"), maintain_column_froms=True)
        .order_by(None)
        .cte("facet_datasets")
    )
    parts: list[Select[Any]] = []
    for name in names:
        if name == "technique":
            statement = (
                select(ids.c.id)
                .join(DatasetTechnique, DatasetTechnique.dataset_id == ids.c.id)
                .join(Technique, Technique.id == DatasetTechnique.technique_id)
                .where(*listed_by_rules(access, "Dataset", "techniques"))
            )
            parts.append(_facet(name, Technique.name, ids.c.id, statement))
        elif name == "type":
            # Under ICAT's rules the types the caller reads (``Dataset.type``, a lookup).
            statement = (
                select(ids.c.id)
                .join(Dataset, Dataset.id == ids.c.id)
                .join(DatasetType, DatasetType.id == Dataset.type_id)
                .where(*_looked_up(access, Dataset, "Dataset"))
            )
            parts.append(_facet(name, DatasetType.name, ids.c.id, statement))
        elif name == "parameter":
            statement = (
                select(ids.c.id)
                .join(DatasetParameter, DatasetParameter.dataset_id == ids.c.id)
                .join(ParameterType, ParameterType.id == DatasetParameter.parameter_type_id)
                .where(
                    *listed_by_rules(access, "Dataset", "parameters"),
                    *_looked_up(access, DatasetParameter, "Parameter"),
                )
            )
            parts.append(_facet(name, ParameterType.name, ids.c.id, statement))
        else:
            raise ValueError(f"no dataset facet {name}")
    return _ordered(parts)


def _ordered(parts: list[Select[Any]]) -> Select[Any]:
    counted = union_all(*parts).subquery("facet_counts")
    return select(counted).order_by(*facet_order(counted))


def facet_order(counted: Any) -> list[Any]:
    """The order of the counts (``facet_counts``' columns): by facet, most frequent
    first, then by value."""
    return [counted.c.facet, counted.c["count"].desc(), counted.c.value]
