"""Statements for the detailed metadata a portal shows beside a session, a dataset, a file
or a data publication: shifts, papers, grants, studies, facility cycles, a dataset's
beamlines, a file's parameters and related files, a data collection's parameters.

Each takes the ids of the owners and selects the owner's id as ``owner_key`` (for
:func:`gateway.resolvers.loaders.grouped_loader`): one statement per batch of owners. Under
the built-in policy they filter nothing: the field that lists them is DATA and guarded by
its owner's row (a session's ``data_visible``; datasets, files and publications are only
read where visible). Under ICAT's rules each names the steps it follows from its owner,
filtered as icat.server filters an INCLUDE (``visibility.along_by_rules``). Kept
together, one function per relation, so that a relation declared from its foreign key can
replace each.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, select

from gateway.catalogue.models import (
    DataCollection,
    DataCollectionParameter,
    DatafileParameter,
    DataPublication,
    DataPublicationFunding,
    DatasetInstrument,
    FacilityCycle,
    FundingReference,
    Instrument,
    InvestigationFacilityCycle,
    InvestigationFunding,
    Publication,
    RelatedDatafile,
    Shift,
    Study,
    StudyInvestigation,
)
from gateway.catalogue.queries import columns_of, parameters_of
from gateway.catalogue.visibility import Access, along_by_rules


def shifts_by_investigation(ids: Sequence[int], access: Access) -> Select[Any]:
    return (
        select(Shift.investigation_id.label("owner_key"), *columns_of(Shift))
        .where(Shift.investigation_id.in_(ids))
        .where(*along_by_rules(access, ("Investigation", "shifts", Shift)))
        .order_by(Shift.investigation_id, Shift.start_date, Shift.id)
    )


def publications_by_investigation(ids: Sequence[int], access: Access) -> Select[Any]:
    return (
        select(Publication.investigation_id.label("owner_key"), *columns_of(Publication))
        .where(Publication.investigation_id.in_(ids))
        .where(*along_by_rules(access, ("Investigation", "publications", Publication)))
        .order_by(Publication.investigation_id, Publication.id)
    )


def funding_by_investigation(ids: Sequence[int], access: Access) -> Select[Any]:
    link = InvestigationFunding
    return (
        select(link.investigation_id.label("owner_key"), *columns_of(FundingReference))
        .join(FundingReference, FundingReference.id == link.funding_id)
        .where(link.investigation_id.in_(ids))
        .where(
            *along_by_rules(
                access,
                ("Investigation", "fundingReferences", InvestigationFunding),
                ("InvestigationFunding", "funding", FundingReference),
            )
        )
        .order_by(link.investigation_id, FundingReference.funder_name, FundingReference.id)
    )


def funding_by_publication(ids: Sequence[int], access: Access) -> Select[Any]:
    link = DataPublicationFunding
    return (
        select(link.data_publication_id.label("owner_key"), *columns_of(FundingReference))
        .join(FundingReference, FundingReference.id == link.funding_id)
        .where(link.data_publication_id.in_(ids))
        .where(
            *along_by_rules(
                access,
                ("DataPublication", "fundingReferences", DataPublicationFunding),
                ("DataPublicationFunding", "funding", FundingReference),
            )
        )
        .order_by(link.data_publication_id, FundingReference.funder_name, FundingReference.id)
    )


def studies_by_investigation(ids: Sequence[int], access: Access) -> Select[Any]:
    link = StudyInvestigation
    return (
        select(link.investigation_id.label("owner_key"), *columns_of(Study))
        .join(Study, Study.id == link.study_id)
        .where(link.investigation_id.in_(ids))
        .where(
            *along_by_rules(
                access,
                ("Investigation", "studyInvestigations", StudyInvestigation),
                ("StudyInvestigation", "study", Study),
            )
        )
        .order_by(link.investigation_id, Study.name, Study.id)
    )


def facility_cycles_by_investigation(ids: Sequence[int], access: Access) -> Select[Any]:
    link = InvestigationFacilityCycle
    return (
        select(link.investigation_id.label("owner_key"), *columns_of(FacilityCycle))
        .join(FacilityCycle, FacilityCycle.id == link.facility_cycle_id)
        .where(link.investigation_id.in_(ids))
        .where(
            *along_by_rules(
                access,
                ("Investigation", "investigationFacilityCycles", InvestigationFacilityCycle),
                ("InvestigationFacilityCycle", "facilityCycle", FacilityCycle),
            )
        )
        .order_by(link.investigation_id, FacilityCycle.start_date, FacilityCycle.id)
    )


def instruments_by_dataset(ids: Sequence[int], access: Access) -> Select[Any]:
    link = DatasetInstrument
    return (
        select(link.dataset_id.label("owner_key"), *columns_of(Instrument))
        .join(Instrument, Instrument.id == link.instrument_id)
        .where(link.dataset_id.in_(ids))
        .where(
            *along_by_rules(
                access,
                ("Dataset", "datasetInstruments", DatasetInstrument),
                ("DatasetInstrument", "instrument", Instrument),
            )
        )
        .order_by(link.dataset_id, Instrument.name, Instrument.id)
    )


def parameters_by_datafile(ids: Sequence[int], access: Access) -> Select[Any]:
    return parameters_of(DatafileParameter, DatafileParameter.datafile_id, ids).where(
        *along_by_rules(access, ("Datafile", "parameters", DatafileParameter))
    )


def parameters_by_publication(ids: Sequence[int], access: Access) -> Select[Any]:
    """The parameters of each publication's data collection (ICAT ``content``)."""
    return (
        parameters_of(DataCollectionParameter, DataPublication.id, ids)
        .join(DataCollection, DataCollection.id == DataCollectionParameter.data_collection_id)
        .join(DataPublication, DataPublication.data_collection_id == DataCollection.id)
        .where(
            *along_by_rules(
                access,
                ("DataPublication", "content", DataCollection),
                ("DataCollection", "parameters", DataCollectionParameter),
            )
        )
    )


def related_by_datafile(ids: Sequence[int], access: Access) -> Select[Any]:
    return (
        select(
            RelatedDatafile.source_datafile_id.label("owner_key"),
            RelatedDatafile.id.label("id"),
            RelatedDatafile.relation.label("relation"),
            RelatedDatafile.dest_datafile_id.label("datafile_id"),
        )
        .where(RelatedDatafile.source_datafile_id.in_(ids))
        .where(*along_by_rules(access, ("Datafile", "destDatafiles", RelatedDatafile)))
        .order_by(RelatedDatafile.source_datafile_id, RelatedDatafile.id)
    )
