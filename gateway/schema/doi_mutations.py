"""The DOI mutations: reserve, change, cancel, publish, or mint a DOI for datasets.

Each turns its input into a call of ``gateway.usecases.dois`` and the outcome into a
``DoiPayload``. Every one takes an ``idempotencyKey``: send the same call again with the
same key after a timeout or an UPSTREAM_UNAVAILABLE, and it completes what the first began
(or reports how it ended); never a second DOI.
"""

from __future__ import annotations

import enum
import re
from typing import Any

import strawberry

from gateway.catalogue import publications
from gateway.errors import BadUserInput, UpstreamUnavailable
from gateway.schema.info import Info
from gateway.schema.node import parse_global_id
from gateway.schema.publication import DataPublication
from gateway.usecases.doi_saga import Goal, Step
from gateway.usecases.dois import DoiResult, DoiUseCases, Licence

KEY = "Your unique id of this call (e.g. a UUID). The same call again with the same key "
KEY += "completes or reports the first; another call with a used key is a CONFLICT."


@strawberry.enum(description="Where a DOI of the gateway's stands.")
class DoiState(enum.Enum):
    RESERVED = "RESERVED"
    """A draft DOI: citable, resolving nowhere yet; its datasets are as hidden as before."""
    PUBLISHED = "PUBLISHED"
    """Findable at its landing page; its datasets are public."""
    CANCELLED = "CANCELLED"
    """Withdrawn before publication; its DOI is never given again."""
    PENDING = "PENDING"
    """On its way (the registrar did not answer yet): retry with the same key."""


@strawberry.input(description="An institution a creator belongs to.")
class AffiliationInput:
    name: str = strawberry.field(description="The institution's name.")
    ror: str | None = strawberry.field(
        default=None, description="Its ROR id, e.g. `https://ror.org/02550n020` or `02550n020`."
    )


@strawberry.input(description="An author of the data, in the order they are cited.")
class CreatorInput:
    name: str = strawberry.field(description="Name as cited, e.g. `Anna Kowalczyk`.")
    given_name: str | None = strawberry.field(default=None, description="Given name.")
    family_name: str | None = strawberry.field(default=None, description="Family name.")
    orcid: str | None = strawberry.field(
        default=None, description="ORCID iD, `0000-0002-1825-0097` or its https://orcid.org URL."
    )
    affiliations: list[AffiliationInput] = strawberry.field(
        default_factory=list, description="Institutions, in order."
    )
    user_name: str | None = strawberry.field(
        default=None, description="Their catalogue user name, when they have one."
    )


@strawberry.input(description="A publication or resource the data relate to.")
class RelatedIdentifierInput:
    identifier: str = strawberry.field(description="A DOI (`10.x/y`) or a URL.")
    relation_type: str = strawberry.field(
        default="IsSupplementTo",
        description="DataCite's relationType, as the data relate to it: IsSupplementTo, "
        "IsCitedBy, IsReferencedBy, References...",
    )
    resource_type: str | None = strawberry.field(
        default="JournalArticle", description="DataCite's resourceTypeGeneral of it."
    )
    title: str | None = strawberry.field(default=None, description="Its title.")


@strawberry.input(description="The licence the data are published under.")
class LicenceInput:
    name: str = strawberry.field(description="E.g. `Creative Commons Attribution 4.0`.")
    uri: str | None = strawberry.field(default=None, description="Its URL.")
    spdx: str | None = strawberry.field(default=None, description="Its SPDX id, e.g. CC-BY-4.0.")


@strawberry.input(description="Reserve a DOI for a selection of datasets.")
class ReserveDoiInput:
    idempotency_key: str = strawberry.field(description=KEY)
    dataset_ids: list[strawberry.ID] = strawberry.field(
        description="The datasets, from one or more sessions you may publish for."
    )
    title: str = strawberry.field(description="Title of the data publication.")


@strawberry.input(description="What publishing says of the data.")
class PublishDoiInput:
    idempotency_key: str = strawberry.field(description=KEY)
    doi: str = strawberry.field(description="The reserved DOI (any of its spellings).")
    title: str = strawberry.field(description="Title.")
    abstract: str | None = strawberry.field(default=None, description="Abstract.")
    creators: list[CreatorInput] = strawberry.field(description="Authors, in order.")
    keywords: list[str] = strawberry.field(default_factory=list, description="Keywords.")
    licence: LicenceInput | None = strawberry.field(default=None, description="Licence.")
    related: list[RelatedIdentifierInput] = strawberry.field(
        default_factory=list, description="The paper and other related resources."
    )


@strawberry.input(description="Reserve and publish a DOI in one call.")
class MintDoiInput:
    idempotency_key: str = strawberry.field(description=KEY)
    dataset_ids: list[strawberry.ID] = strawberry.field(
        description="The datasets, from one or more sessions you may publish for."
    )
    title: str = strawberry.field(description="Title.")
    abstract: str | None = strawberry.field(default=None, description="Abstract.")
    creators: list[CreatorInput] = strawberry.field(description="Authors, in order.")
    keywords: list[str] = strawberry.field(default_factory=list, description="Keywords.")
    licence: LicenceInput | None = strawberry.field(default=None, description="Licence.")
    related: list[RelatedIdentifierInput] = strawberry.field(
        default_factory=list, description="The paper and other related resources."
    )


@strawberry.input(description="Change a reservation (only what is given changes).")
class UpdateDoiReservationInput:
    idempotency_key: str = strawberry.field(description=KEY)
    doi: str = strawberry.field(description="The reserved DOI.")
    dataset_ids: list[strawberry.ID] | None = strawberry.field(
        default=None, description="The new selection."
    )
    title: str | None = strawberry.field(default=None, description="The new title.")
    abstract: str | None = strawberry.field(
        default=None, description="The abstract (with `creators`: a new description)."
    )
    creators: list[CreatorInput] | None = strawberry.field(
        default=None,
        description="Authors, in order: with them, the reservation's description (abstract, "
        "keywords, related) is replaced by the one given.",
    )
    keywords: list[str] = strawberry.field(default_factory=list, description="Keywords.")
    licence: LicenceInput | None = strawberry.field(default=None, description="Licence.")
    related: list[RelatedIdentifierInput] = strawberry.field(
        default_factory=list, description="The paper and other related resources."
    )


@strawberry.input(description="Withdraw a reservation.")
class CancelDoiReservationInput:
    idempotency_key: str = strawberry.field(description=KEY)
    doi: str = strawberry.field(description="The reserved DOI.")


@strawberry.input(
    description="The next version of a published DOI: a new DOI under the concept DOI of "
    "its versions. What is not given is the published version's."
)
class CreateDoiVersionInput:
    idempotency_key: str = strawberry.field(description=KEY)
    doi: str = strawberry.field(
        description="The published DOI to make the next version of (the newest version)."
    )
    dataset_ids: list[strawberry.ID] | None = strawberry.field(
        default=None, description="The new version's selection (default: the same datasets)."
    )
    title: str | None = strawberry.field(
        default=None, description="Title (with `creators`: a new description)."
    )
    abstract: str | None = strawberry.field(default=None, description="Abstract.")
    creators: list[CreatorInput] | None = strawberry.field(
        default=None,
        description="Authors, in order: with them, the new version's description (title, "
        "abstract, keywords, related) is the one given; without, the published version's.",
    )
    keywords: list[str] = strawberry.field(default_factory=list, description="Keywords.")
    licence: LicenceInput | None = strawberry.field(
        default=None, description="Licence (default: the published version's)."
    )
    related: list[RelatedIdentifierInput] = strawberry.field(
        default_factory=list, description="The paper and other related resources."
    )


@strawberry.input(
    description="Amend a published DOI's description: only what is given changes; the "
    "registrar is sent the new record."
)
class UpdatePublishedDoiInput:
    idempotency_key: str = strawberry.field(description=KEY)
    doi: str = strawberry.field(description="The published DOI.")
    title: str | None = strawberry.field(default=None, description="The new title.")
    abstract: str | None = strawberry.field(
        default=None, description="The new abstract (empty: none)."
    )
    creators: list[CreatorInput] | None = strawberry.field(
        default=None, description="The authors, in order."
    )
    keywords: list[str] | None = strawberry.field(default=None, description="The keywords.")
    related: list[RelatedIdentifierInput] | None = strawberry.field(
        default=None, description="The related resources (replacing the old list)."
    )
    licence: LicenceInput | None = strawberry.field(default=None, description="The licence.")


@strawberry.type(description="Where a DOI mutation left the DOI.")
class DoiPayload:
    doi: str = strawberry.field(description="The DOI, lower case.")
    state: DoiState = strawberry.field(description="Reserved, published or cancelled.")
    registered: bool = strawberry.field(
        description="Whether the DOI is registered anywhere (false: the embedded local "
        "registrar's, which resolve nowhere)."
    )
    replayed: bool = strawberry.field(
        description="This is the answer of an earlier call with the same key."
    )
    data_publication_id: strawberry.Private[int]

    @strawberry.field(
        description="The data publication, as you may now see it (null once cancelled)."
    )
    async def data_publication(self, info: Info) -> DataPublication | None:
        row = await info.context.loaders.data_publication.load(self.data_publication_id)
        return DataPublication.from_row(row) if row else None


def _dois(info: Info) -> DoiUseCases:
    dois = info.context.dois
    if dois is None:
        raise UpstreamUnavailable("No DOI registrar is configured for this gateway.")
    assert isinstance(dois, DoiUseCases)
    return dois


def _payload(info: Info, result: DoiResult) -> DoiPayload:
    info.context.moved_to(_dois(info).sagas.clock())
    if result.step == Step.PUBLISHED:
        state = DoiState.PUBLISHED
    elif result.step == Step.CANCELLED:
        state = DoiState.CANCELLED
    elif result.step == Step.RESERVED and result.goal == Goal.RESERVED:
        state = DoiState.RESERVED
    else:
        state = DoiState.PENDING
    return DoiPayload(
        doi=result.doi,
        state=state,
        registered=_dois(info).sagas.registrar.registers,
        replayed=result.replayed,
        data_publication_id=result.data_publication_id,
    )


def _dataset_ids(ids: list[strawberry.ID]) -> list[int]:
    return [parse_global_id(i, "Dataset")[1] for i in ids]


_ORCID = re.compile(r"^(?:https?://orcid\.org/)?(\d{4}-\d{4}-\d{4}-\d{3}[\dX])$", re.IGNORECASE)


def _creator(creator: CreatorInput) -> publications.Creator:
    orcid = None
    if creator.orcid is not None and creator.orcid.strip():
        match = _ORCID.match(creator.orcid.strip())
        if match is None:
            raise BadUserInput(f"{creator.orcid!r} is not an ORCID iD.", argument="creators")
        orcid = match.group(1).upper()
    return publications.Creator(
        full_name=creator.name.strip(),
        given_name=(creator.given_name or "").strip() or None,
        family_name=(creator.family_name or "").strip() or None,
        orcid=orcid,
        affiliations=tuple(
            publications.CreatorAffiliation(a.name.strip(), _ror(a.ror))
            for a in creator.affiliations
        ),
        user_name=creator.user_name,
    )


def _ror(ror: str | None) -> str | None:
    if ror is None or not ror.strip():
        return None
    ror = ror.strip()
    return ror if ror.startswith("http") else f"https://ror.org/{ror}"


def _description(
    title: str,
    abstract: str | None,
    creators: list[CreatorInput],
    keywords: list[str],
    related: list[RelatedIdentifierInput],
) -> publications.Description:
    return publications.Description(
        title=title,
        abstract=(abstract or "").strip() or None,
        creators=tuple(_creator(c) for c in creators),
        keywords=tuple(k.strip() for k in keywords if k.strip()),
        related=_related(related),
    )


def _related(related: list[RelatedIdentifierInput]) -> tuple[publications.Related, ...]:
    return tuple(
        publications.Related(r.identifier.strip(), r.relation_type, r.resource_type, r.title)
        for r in related
    )


def _licence(licence: LicenceInput | None) -> Licence | None:
    return None if licence is None else Licence(licence.name, licence.uri, licence.spdx)


def _selection_given(input: Any) -> list[int] | None:
    """The datasets an update or a new version names (None: keep the DOI's own)."""
    return _dataset_ids(input.dataset_ids) if input.dataset_ids is not None else None


def _description_given(input: Any) -> publications.Description | None:
    """The description an update or a new version gives: one with creators, else none
    (None: keep the DOI's own)."""
    if input.creators is None:
        return None
    return _description(
        input.title or "", input.abstract, input.creators, input.keywords, input.related
    )


@strawberry.type
class DoiMutation:
    @strawberry.mutation(
        description="Reserve a DOI for a selection of datasets (a draft DOI you can cite; "
        "nothing becomes public). You must be allowed to publish for every session the datasets "
        "come from: staff, and its team as the facility configures (by default every member, "
        "collaborators included), but only staff for a proprietary session (no release date); "
        "the same holds for changing, publishing and minting. Errors: UNAUTHENTICATED, "
        "FORBIDDEN, NOT_FOUND (a dataset, missing or hidden alike), "
        "BAD_USER_INPUT, CONFLICT (key reused), UPSTREAM_UNAVAILABLE (retry with the same "
        "key), REGISTRAR_REFUSED."
    )
    async def reserve_doi(self, info: Info, input: ReserveDoiInput) -> DoiPayload:
        result = await _dois(info).reserve(
            info.context.access.caller,
            key=input.idempotency_key,
            dataset_ids=_dataset_ids(input.dataset_ids),
            title=input.title,
            rules=info.context.access.rules,
        )
        return _payload(info, result)

    @strawberry.mutation(
        description="Change a reservation's selection, title or description while it is "
        "unpublished; the draft DOI follows. Errors as reserveDoi; CONFLICT once published or "
        "cancelled."
    )
    async def update_doi_reservation(
        self, info: Info, input: UpdateDoiReservationInput
    ) -> DoiPayload:
        result = await _dois(info).update(
            info.context.access.caller,
            key=input.idempotency_key,
            doi=input.doi,
            dataset_ids=_selection_given(input),
            title=input.title,
            description=_description_given(input),
            licence=_licence(input.licence),
            rules=info.context.access.rules,
        )
        return _payload(info, result)

    @strawberry.mutation(
        description="Withdraw a reservation: the draft is deleted at the registrar and its DOI "
        "is never given again. Errors as reserveDoi; CONFLICT once published."
    )
    async def cancel_doi_reservation(
        self, info: Info, input: CancelDoiReservationInput
    ) -> DoiPayload:
        result = await _dois(info).cancel(
            info.context.access.caller,
            key=input.idempotency_key,
            doi=input.doi,
            rules=info.context.access.rules,
        )
        return _payload(info, result)

    @strawberry.mutation(
        description="Publish a reserved DOI: findable at its landing page, and its datasets "
        "public from that moment (their sessions' other data stay embargoed). Errors as "
        "reserveDoi; CONFLICT if not a reservation."
    )
    async def publish_doi(self, info: Info, input: PublishDoiInput) -> DoiPayload:
        result = await _dois(info).publish(
            info.context.access.caller,
            key=input.idempotency_key,
            doi=input.doi,
            description=_description(
                input.title, input.abstract, input.creators, input.keywords, input.related
            ),
            licence=_licence(input.licence),
            rules=info.context.access.rules,
        )
        return _payload(info, result)

    @strawberry.mutation(
        description="Reserve and publish a DOI in one call: the datasets are public when it "
        "returns PUBLISHED. Errors as reserveDoi."
    )
    async def mint_doi(self, info: Info, input: MintDoiInput) -> DoiPayload:
        result = await _dois(info).mint(
            info.context.access.caller,
            key=input.idempotency_key,
            dataset_ids=_dataset_ids(input.dataset_ids),
            description=_description(
                input.title, input.abstract, input.creators, input.keywords, input.related
            ),
            licence=_licence(input.licence),
            rules=info.context.access.rules,
        )
        return _payload(info, result)

    @strawberry.mutation(
        description="Make the next version of a published DOI: a new DOI, published at once, "
        "with the selection and description given (by default the published version's), "
        "IsNewVersionOf the version before and IsVersionOf the concept DOI of all versions "
        "(made with the second version, resolving to the newest). Errors as reserveDoi; "
        "CONFLICT if the DOI is not published (reason NOT_PUBLISHED) or has a newer version "
        "(NOT_NEWEST_VERSION)."
    )
    async def create_doi_version(self, info: Info, input: CreateDoiVersionInput) -> DoiPayload:
        result = await _dois(info).new_version(
            info.context.access.caller,
            key=input.idempotency_key,
            doi=input.doi,
            dataset_ids=_selection_given(input),
            description=_description_given(input),
            licence=_licence(input.licence),
            rules=info.context.access.rules,
        )
        return _payload(info, result)

    @strawberry.mutation(
        description="Amend a published DOI's title, abstract, creators, keywords, related "
        "identifiers or licence; its record is sent to the registrar again (PENDING until "
        "the registrar has it: retry with the same key). Its datasets stay: a new selection "
        "is a new version (createDoiVersion). Errors as reserveDoi; CONFLICT if not "
        "published (reason NOT_PUBLISHED)."
    )
    async def update_published_doi(self, info: Info, input: UpdatePublishedDoiInput) -> DoiPayload:
        result = await _dois(info).amend(
            info.context.access.caller,
            key=input.idempotency_key,
            doi=input.doi,
            title=input.title,
            abstract=input.abstract,
            creators=(
                [_creator(c) for c in input.creators] if input.creators is not None else None
            ),
            keywords=(
                [k.strip() for k in input.keywords if k.strip()]
                if input.keywords is not None
                else None
            ),
            related=_related(input.related) if input.related is not None else None,
            licence=_licence(input.licence),
            rules=info.context.access.rules,
        )
        return _payload(info, result)
