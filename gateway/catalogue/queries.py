"""The catalogue's statements: what the gateway asks of ICAT's tables.

Pure statement builders (no I/O): the loaders in ``gateway.resolvers`` execute them in
batches. Each list statement already carries the caller's visibility filter, so pages,
cursors and totals are computed by the database over what the caller may see.
Rows are keyed by the models' attribute names (``start_date``, not ``STARTDATE``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    case,
    exists,
    false,
    func,
    literal,
    or_,
    select,
    true,
)
from sqlalchemy.sql.elements import True_

from gateway.catalogue import visibility
from gateway.catalogue.gateway_tables import GrantExpiry
from gateway.catalogue.icat_rules import relationships
from gateway.catalogue.models import (
    Datafile,
    DataPublication,
    DataPublicationType,
    Dataset,
    DatasetTechnique,
    Facility,
    Instrument,
    Investigation,
    InvestigationInstrument,
    InvestigationType,
    InvestigationUser,
    Keyword,
    ParameterType,
    Sample,
    Technique,
    User,
)
from gateway.catalogue.relations import columns_of, row_statement
from gateway.catalogue.sql_text import separated, starts_a_word
from gateway.catalogue.visibility import (
    Access,
    along_by_rules,
    data_publication_visible,
    datafile_row_visible,
    datafile_visible,
    dataset_row_visible,
    dataset_visible,
    datasets_of_session_by_rules,
    investigation_data_visible,
    investigation_listed,
    listed_by_rules,
    reached_by_rules,
    released,
    team_rows_by_rules,
)
from gateway.doi.metadata import bare_doi
from gateway.fields.catalogue import TYPES

__all__ = ["columns_of"]  # from the declarations: ``gateway.catalogue.relations``


# Investigations --------------------------------------------------------------------


def investigation_columns(access: Access) -> list[Any]:
    """An investigation's columns plus whether the caller may read its DATA fields."""
    visible = investigation_data_visible(access)
    return [
        *columns_of(Investigation),
        case((visible, literal(True)), else_=literal(False)).label("data_visible"),
    ]


def investigations(access: Access) -> Select[Any]:
    """Every session (their landing facts are public), or under ICAT's rules those the
    caller may read (``visibility.investigation_listed``); DATA visibility as a column."""
    statement = select(*investigation_columns(access))
    if access.rules is None:
        return statement
    return statement.where(investigation_listed(access))


def investigations_reached(access: Access, origin: str, field: str) -> Select[Any]:
    """Sessions as reached from a readable object by ICAT's ``origin.field`` (a dataset's
    session): as listed under the built-in policy; under ICAT's rules, all of them where
    the step is public (``visibility.reached_by_rules``), else those the caller may read."""
    if access.rules is None or access.rules.public_landing:
        # With public landing facts every session is listed; DATA follows ``data_visible``.
        return investigations(access)
    step = relationships.step(origin, field)
    assert step is not None
    condition = reached_by_rules(access, step, Investigation)
    statement = select(*investigation_columns(access))
    return statement if condition is None else statement.where(condition)


def instrument_name_key(access: Access) -> ColumnElement[Any]:
    """The beamline name a session sorts under (the first, when it used several): of those
    ``Investigation.instruments`` lists for the caller (under ICAT's rules the link rows'
    and beamlines' own, ``visibility.listed_by_rules``), since a page's cursors carry it."""
    return (
        select(func.min(Instrument.name))
        .join(InvestigationInstrument, InvestigationInstrument.instrument_id == Instrument.id)
        .where(
            InvestigationInstrument.investigation_id == Investigation.id,
            *listed_by_rules(access, "Investigation", "instruments"),
        )
        .scalar_subquery()
    )


def investigation_text_match(access: Access, pattern: str) -> ColumnElement[bool]:
    """Free text over title (public), and summary and keywords where the caller may read them.

    Matching an embargoed session's summary for someone who may not read it would leak it.
    """
    landing = or_(
        func.lower(Investigation.title).like(pattern),
        func.lower(Investigation.name).like(pattern),
    )
    data = investigation_data_text_match(access, pattern)
    return or_(landing, and_(investigation_data_visible(access), data))


def investigation_data_text_match(
    access: Access, pattern: str, every_part: bool = False
) -> ColumnElement[bool]:
    """The session's summary or one of its keywords holds the pattern (with
    ``every_part``, also one of its samples' or datasets' names: the words of its search
    document's DATA half). Under ICAT's rules only the rows the caller reaches from the
    session count (``Investigation.keywords``, ``.samples``, ``.datasets``: their own
    rules unless the step is public), so a keyword the caller may not read finds nothing.
    Whether the caller may read the session's data is the caller's part
    (:func:`investigation_text_match`)."""
    parts: list[ColumnElement[bool]] = [func.lower(Investigation.summary).like(pattern)]
    named = ((Keyword, "keywords"), (Sample, "samples")) if every_part else ((Keyword, "keywords"),)
    for model, field in named:
        reached = along_by_rules(access, ("Investigation", field, model))
        parts.append(exists(select(model.id).where(
            model.investigation_id == Investigation.id, func.lower(model.name).like(pattern),
            *reached)))  # fmt: skip
    if every_part:
        listed = [] if access.rules is None else [
            datasets_of_session_by_rules(access, investigation_data_visible(access))]  # fmt: skip
        parts.append(exists(select(Dataset.id).where(
            Dataset.investigation_id == Investigation.id, func.lower(Dataset.name).like(pattern),
            *listed)))  # fmt: skip
    return or_(*parts)


def data_words_hidden(access: Access) -> ColumnElement[bool]:
    """Under ICAT's rules, whether the session has keywords, samples or datasets that the
    caller does not reach from it (their own rules, hop by hop): the words of its search
    document's DATA half are then not all the caller's to match (``gateway.catalogue.
    text_search``). False under the built-in policy and where every such step is open. A
    rule that is NULL on a row hides it (never the other way)."""
    if access.rules is None:
        return false()
    hidden: list[ColumnElement[bool]] = []
    for model, field in ((Keyword, "keywords"), (Sample, "samples")):
        reached = along_by_rules(access, ("Investigation", field, model))
        if reached:
            unreached = case((and_(*reached), 0), else_=1) == 1
            hidden.append(exists(select(model.id).where(
                model.investigation_id == Investigation.id, unreached)))  # fmt: skip
    listed = datasets_of_session_by_rules(access, investigation_data_visible(access))
    if not isinstance(listed, True_):
        unlisted = case((listed, 0), else_=1) == 1
        hidden.append(exists(select(Dataset.id).where(
            Dataset.investigation_id == Investigation.id, unlisted)))  # fmt: skip
    return or_(false(), *hidden)


def beamline_words_hidden(access: Access) -> ColumnElement[bool]:
    """Under ICAT's rules, whether the session has beamline links that
    ``Investigation.instruments`` does not list for the caller (the link rows' or the
    beamlines' own rules, ``visibility.listed_by_rules``): the beamline names in its search
    document's LANDING half are then not all the caller's to match (``gateway.catalogue.
    text_search``). False under the built-in policy and where every link is listed. A rule
    that is NULL on a row hides it (never the other way)."""
    reached = listed_by_rules(access, "Investigation", "instruments")
    if not reached:
        return false()
    unreached = case((and_(*reached), 0), else_=1) == 1
    return exists(_beamline_links().where(unreached))


def _beamline_links() -> Select[Any]:
    """The session's INVESTIGATIONINSTRUMENT rows with their INSTRUMENT (for the rules'
    conditions, which read both), correlated to INVESTIGATION."""
    return (
        select(InvestigationInstrument.id)
        .join(Instrument, Instrument.id == InvestigationInstrument.instrument_id)
        .where(InvestigationInstrument.investigation_id == Investigation.id)
        .correlate(Investigation)
    )


def landing_words_readable(
    access: Access, required: Sequence[str], phrase: str | None = None
) -> ColumnElement[bool]:
    """The session's LANDING words that the caller reads hold a word starting with each of
    ``required`` (the search's words its index requires), or, with ``phrase``, the phrase
    inside them (PostgreSQL's trigram search): its title, proposal, visit and DOI, and the
    names of the beamlines ``Investigation.instruments`` lists for the caller (under ICAT's
    rules the link rows' and beamlines' own, ``visibility.listed_by_rules``). Read from
    the texts as the documents split them (``sql_text.starts_a_word``), without an index:
    for the sessions whose document the index found. A phrase across two of those texts
    is not found. Nothing required: false, as the index."""
    facts = (
        func.coalesce(Investigation.title, "")
        + literal(" ")
        + func.coalesce(Investigation.name, "")
        + literal(" ")
        + func.coalesce(Investigation.visit_id, "")
        + literal(" ")
        + func.coalesce(Investigation.doi, "")
    )
    listed = listed_by_rules(access, "Investigation", "instruments")

    def found(condition: Any) -> ColumnElement[bool]:
        named = _beamline_links().where(condition(Instrument.name), *listed)
        return or_(condition(facts), exists(named))

    readable: list[ColumnElement[bool]] = []
    if required:
        readable.append(and_(*(found(lambda text, w=w: starts_a_word(text, w)) for w in required)))
    if phrase:  # (PostgreSQL's trigrams only)
        readable.append(found(lambda text: separated(text).like(f"%{phrase}%")))
    return or_(false(), *readable)


def dataset_session_landing_readable(
    access: Access, required: Sequence[str], phrase: str | None = None
) -> ColumnElement[bool]:
    """Under ICAT's rules, whether the words of the DATASET row's session's LANDING half
    are the caller's to match: the session is reached from the dataset
    (``Dataset.investigation``, or listed with public landing facts), and its beamline
    names count only as :func:`landing_words_readable` says where some are hidden."""
    if access.rules is None:
        return true()
    conditions: list[ColumnElement[bool]] = [
        or_(~beamline_words_hidden(access), landing_words_readable(access, required, phrase))
    ]
    if not access.rules.public_landing:
        hop = relationships.step("Dataset", "investigation")
        assert hop is not None
        reached = reached_by_rules(access, hop, Investigation)
        if reached is not None:
            conditions.append(reached)
    return exists(
        select(Investigation.id).where(Investigation.id == Dataset.investigation_id, *conditions)
    )


def investigations_of_instrument(
    access: Access, instrument_ids: Sequence[int] | Select[Any]
) -> ColumnElement[bool]:
    """Sessions on one of the beamlines, found only where ``Investigation.instruments``
    would list it (under ICAT's rules the link rows' and beamlines' own rules:
    ``visibility.listed_by_rules``; ``instrument_ids`` must then not read INSTRUMENT
    unaliased, or it would be correlated)."""
    links = select(InvestigationInstrument.investigation_id).where(
        InvestigationInstrument.instrument_id.in_(instrument_ids)
    )
    reached = listed_by_rules(access, "Investigation", "instruments")
    if reached:
        links = links.join(
            Instrument, Instrument.id == InvestigationInstrument.instrument_id
        ).where(*reached)
    return Investigation.id.in_(links)


def team_members() -> Select[Any]:
    """Memberships as ``TeamMember`` rows: the role, a grant's expiry, the person's columns
    (``owner_key``: the session)."""
    return (
        select(
            InvestigationUser.investigation_id.label("owner_key"),
            InvestigationUser.id.label("membership_id"),
            InvestigationUser.role.label("role"),
            GrantExpiry.expires_at.label("access_expires_at"),
            *columns_of(User),
        )
        .join(User, User.id == InvestigationUser.user_id)
        .outerjoin(GrantExpiry, GrantExpiry.investigation_user_id == InvestigationUser.id)
    )


def team_by_investigation(ids: Sequence[int]) -> Select[Any]:
    """Every membership of the sessions (the gateway's own decisions read them all)."""
    return (
        team_members()
        .where(InvestigationUser.investigation_id.in_(ids))
        .order_by(InvestigationUser.investigation_id, InvestigationUser.id)
    )


def memberships_reached(access: Access) -> Any:
    """One row per (session, person) however many roles the person holds in it, as
    ``User.investigations`` reaches the sessions: every membership, or under ICAT's rules
    the INVESTIGATIONUSER rows the caller reaches from the person (``investigations_reached``
    then says which sessions)."""
    return (
        select(InvestigationUser.investigation_id, InvestigationUser.user_id)
        .where(*along_by_rules(access, ("User", "investigationUsers", InvestigationUser)))
        .distinct()
        .subquery("teams")
    )


def sessions_of_people(access: Access, teams: Any) -> Select[Any]:
    """The sessions ``User.investigations`` lists, joined with ``memberships_reached``
    (whose ``user_id`` is the person): under ICAT's rules as ``InvestigationUser.
    investigation`` reaches them."""
    return investigations_reached(access, "InvestigationUser", "investigation").join(
        teams, teams.c.investigation_id == Investigation.id
    )


def team_rows(access: Access) -> Select[Any]:
    """The teams as ``Investigation.team`` lists them: every member, or under ICAT's rules
    the INVESTIGATIONUSER rows and people the caller reaches from the session
    (``visibility.team_rows_by_rules``, which the compiled renderer applies too)."""
    return team_members().where(*team_rows_by_rules(access))


def team_listed(ids: Sequence[int], access: Access) -> Select[Any]:
    """The teams of these sessions as ``Investigation.team`` lists them (``team_rows``),
    in its order."""
    return (
        team_rows(access)
        .where(InvestigationUser.investigation_id.in_(ids))
        .order_by(InvestigationUser.investigation_id, InvestigationUser.id)
    )


# Parameters (typed values with their type's name and units) ------------------------


def parameters_of(model: Any, owner: Any, ids: Sequence[int], access: Access) -> Select[Any]:
    """Typed parameters of the owners (any of ICAT's five parameter tables), their type's
    columns NULL where ICAT's rules hide the type (``relations.row_statement``)."""
    types = ParameterType.id == model.parameter_type_id
    ruled = visibility.lookup_by_rules(access, model, TYPES["Parameter"].lookups[0])
    statement = (
        select(
            owner.label("owner_key"),
            model.id.label("id"),
            ParameterType.name.label("name"),
            ParameterType.units.label("units"),
            ParameterType.units_full_name.label("units_full_name"),
            ParameterType.value_type.label("value_type"),
            model.numeric_value.label("numeric_value"),
            model.string_value.label("string_value"),
            model.datetime_value.label("datetime_value"),
            model.error.label("error"),
            model.range_bottom.label("range_bottom"),
            model.range_top.label("range_top"),
        )
        .where(owner.in_(ids))
        .order_by(owner, ParameterType.name, model.id)
    )
    if ruled is None:
        return statement.join_from(model, ParameterType, types)
    return statement.outerjoin_from(model, ParameterType, and_(types, ruled))


# Datasets and datafiles ------------------------------------------------------------


def datasets(access: Access) -> Select[Any]:
    """Datasets the caller may see, with their type's name (its declared lookup, read with
    the row: a loader per row would cost an awaitable per dataset)."""
    return row_statement("Dataset", Dataset, access).where(dataset_visible(access))


def datasets_of_sessions(access: Access) -> Select[Any]:
    """The datasets of sessions as ``Investigation.datasets`` lists them: ``datasets``, or
    under ICAT's rules as reached from their session (a PUBLICSTEP opens them all), with
    their session joined: the Dataset rules that read only a dataset's session, and
    whether the caller may read it, are tested on the session's row
    (``visibility.datasets_of_session_by_rules``, as the compiled path does), once per
    session where the statement is read by its parent (:func:`dataset_session_key`)."""
    if access.rules is None:
        return datasets(access)
    statement = row_statement("Dataset", Dataset, access).join(
        Investigation, Investigation.id == Dataset.investigation_id
    )
    listed = datasets_of_session_by_rules(access, investigation_data_visible(access), Investigation)
    return statement.where(listed)


def dataset_session_key(access: Access) -> Any:
    """The column :func:`datasets_of_sessions` is read by for given sessions (their ids):
    under ICAT's rules the joined session's, so that the database starts from the
    sessions and tests each one's part once, then reads its datasets."""
    return Dataset.investigation_id if access.rules is None else Investigation.id


def datasets_checked_by_row(access: Access) -> Select[Any]:
    """``datasets`` with the visibility checked row by row: the plan for the few rows a
    search's index finds (it does not hash every session whose data are visible)."""
    return row_statement("Dataset", Dataset, access).where(dataset_row_visible(access))


def datasets_by_id(access: Access, ids: Sequence[int]) -> Select[Any]:
    """Datasets by id, as ``datasets`` would show them, with the visibility checked row by row
    (the right plan for a handful of ids)."""
    return row_statement("Dataset", Dataset, access).where(
        Dataset.id.in_(ids), dataset_row_visible(access)
    )


def datafiles_by_id(access: Access, ids: Sequence[int]) -> Select[Any]:
    """Datafiles by id, visible as ``datafiles`` says, checked row by row."""
    return all_datafiles(access).where(Datafile.id.in_(ids), datafile_row_visible(access))


def dataset_has_technique(access: Access, technique: str) -> ColumnElement[bool]:
    """The dataset used a technique, named by its name or its PID, found only where
    ``Dataset.techniques`` would list it (under ICAT's rules the link rows' and
    techniques' own rules: ``visibility.listed_by_rules``)."""
    reached = listed_by_rules(access, "Dataset", "techniques")
    return exists(
        select(DatasetTechnique.id)
        .join(Technique, Technique.id == DatasetTechnique.technique_id)
        .where(
            DatasetTechnique.dataset_id == Dataset.id,
            or_(Technique.name == technique, Technique.pid == technique),
            *reached,
        )
    )


def all_datafiles(access: Access | None = None) -> Select[Any]:
    """Datafiles with their format's name (the declared lookup, as the caller may read
    it; None: the built-in policy), with no visibility filter (for the files of a dataset
    the caller already sees)."""
    return row_statement("Datafile", Datafile, access)


def datafiles_of_datasets(access: Access) -> Select[Any]:
    """The files of datasets the caller sees: all of them, or under ICAT's rules those
    the Datafile rules open unless ``Dataset.datafiles`` is a public step."""
    statement = all_datafiles(access)
    if access.rules is None:
        return statement
    step = relationships.step("Dataset", "datafiles")
    assert step is not None
    condition = reached_by_rules(access, step, Datafile)
    return statement if condition is None else statement.where(condition)


def datafiles(access: Access) -> Select[Any]:
    """Datafiles the caller may see."""
    return all_datafiles(access).where(datafile_visible(access, Datafile.id, Datafile.dataset_id))


def samples_of_datasets(access: Access) -> Select[Any]:
    """Samples with their type's name and formula (the declared lookup), as
    ``Dataset.sample`` reaches them (by the sample's id): all, or under ICAT's rules those
    the step or the Sample rules open."""
    return row_statement("Sample", Sample, access).where(
        *along_by_rules(access, ("Dataset", "sample", Sample))
    )


# Reference data (small tables, public) ---------------------------------------------


def reference_rows(access: Access, model: Any) -> Select[Any]:
    """The rows of a reference table (beamlines, facilities, techniques, parameter types,
    people...) the caller may read: all under the built-in policy, those ICAT's rules open
    under them (``visibility.rows_by_rules``)."""
    return select(*columns_of(model)).where(*visibility.rows_by_rules(access, model))


REFERENCE_MODELS = {
    "facility": Facility,
    "instrument": Instrument,
    "investigation_type": InvestigationType,
    "user": User,
    "technique": Technique,
    "data_publication_type": DataPublicationType,
}


# Data publications (DOIs minted for a selection of datasets) -----------------------


def data_publications(access: Access) -> Select[Any]:
    published = released(DataPublication.publication_date, access.now)
    return select(
        *columns_of(DataPublication),
        case((published, literal(True)), else_=literal(False)).label("is_published"),
    ).where(data_publication_visible(access))


def normalise_doi(doi: str) -> str:
    """A DOI without resolver prefixes: `https://doi.org/10.1/x` and `doi:10.1/x` -> `10.1/x`
    (its case kept: :func:`doi_variants` matches the cases a catalogue holds)."""
    return bare_doi(doi)


def doi_variants(doi: str) -> list[str]:
    """DOIs are case-insensitive; ICAT stores them as minted. Compare against the common
    spellings so the lookup stays an index equality rather than a LOWER() scan."""
    return sorted({doi, doi.upper(), doi.lower()})


def date_overlap(
    start: Any, end: Any, since: datetime | None, until: datetime | None
) -> ColumnElement[bool]:
    """The interval [start, end] meets [since, until] (open bounds where None)."""
    conditions: list[ColumnElement[bool]] = []
    if since is not None:
        conditions.append(func.coalesce(end, start) >= since)
    if until is not None:
        conditions.append(start <= until)
    return and_(true(), *conditions)
