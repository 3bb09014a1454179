"""The field catalogue: every field of every catalogue type, declared once.

The strawberry types (``gateway.schema``), the row-to-object step, the compiled renderer
(``gateway.compiled.render``) and the guards of both paths are derived from these
declarations; the tests fail when a schema field is missing here. Adding a scalar field
is one line below (and ``icat-gateway export-schema``): see CONTRIBUTING.md.
"""

from __future__ import annotations

from collections.abc import Mapping

from gateway.fields.declaration import (
    Cardinality,
    FieldClass,
    Format,
    Link,
    Lookup,
    ObjectFields,
    Relation,
    Resolved,
    Rows,
    Scalar,
)

LANDING = FieldClass.LANDING
DATA = FieldClass.DATA
PERSONAL = FieldClass.PERSONAL
ONE = Cardinality.ONE
LIST = Cardinality.LIST
PAGE = Cardinality.PAGE

PAGED = "a page with cursors and orderings (gateway.schema.connection)"
PREFETCHED = "prefetched with the page of datasets (gateway.schema.dataset)"

ID = "Global, opaque id (the type name and the ICAT id, encoded)."


def _id(table: str, rows_class: FieldClass = LANDING) -> tuple[Scalar, Scalar]:
    return (
        Scalar("id", "id", Format.GLOBAL_ID, ID, rows_class, nullable=False),
        Scalar("icatId", "id", Format.INT, f"ICAT {table}.ID.", rows_class, nullable=False),
    )


INVESTIGATION = ObjectFields(
    "Investigation",
    "An experiment session: one visit on a beamline under a proposal (ICAT INVESTIGATION). "
    "Its landing facts are public; its data and detailed metadata (fields marked DATA) are "
    "embargoed until the release date, visible meanwhile only to the team, the beamline's "
    "scientists and facility staff.",
    (
        *_id("INVESTIGATION"),
        Scalar("proposal", "name", Format.TEXT, "Proposal number (ICAT NAME), e.g. MX-2345.",
               nullable=False),
        Scalar("visitId", "visit_id", Format.TEXT, "Visit of the proposal (ICAT VISIT_ID).",
               nullable=False),
        Scalar("title", "title", Format.TEXT, "Title of the proposal.", nullable=False),
        Scalar("startDate", "start_date", Format.DATETIME, "When the session started."),
        Scalar("endDate", "end_date", Format.DATETIME, "When the session ended."),
        Scalar("releaseDate", "release_date", Format.DATETIME,
               "When the data become public; null means never automatically (e.g. "
               "proprietary sessions)."),
        Scalar("doi", "doi", Format.TEXT, "The session's DOI."),
        Scalar("isReleased", "release_date", Format.RELEASED,
               "Whether the embargo is over (release date in the past).", nullable=False),
        Scalar("canReadData", "data_visible", Format.BOOLEAN,
               "Whether the caller may read this session's DATA fields.", nullable=False),
        Scalar("summary", "summary", Format.TEXT, "Abstract of the proposal.", DATA),
        Scalar("fileSize", "file_size", Format.LONG,
               "Total size in bytes of the session's files, where ICAT keeps it.", DATA),
        Scalar("fileCount", "file_count", Format.LONG, "Number of files, where ICAT keeps it.",
               DATA),
        Relation("shifts", "The session's beam-time shifts (ICAT SHIFT).", "Shift", "SHIFT",
                 "id", "investigation_id", LIST, ("start_date", "id"), field_class=DATA,
                 nullable=True, compiled=False),
        Relation("publications", "Papers arising from the session (ICAT PUBLICATION).",
                 "Publication", "PUBLICATION", "id", "investigation_id", LIST, ("id",),
                 field_class=DATA, nullable=True, compiled=False),
        Relation("fundingReferences", "Grants that funded the session (ICAT "
                 "INVESTIGATIONFUNDING).", "FundingReference", "FUNDINGREFERENCE", "id", "id",
                 LIST, ("funder_name", "id"),
                 through=Link("INVESTIGATIONFUNDING", "investigation_id", "funding_id"),
                 field_class=DATA, nullable=True, compiled=False),
        Relation("studies", "Studies the session is part of (ICAT STUDYINVESTIGATION).",
                 "Study", "STUDY", "id", "id", LIST, ("name", "id"),
                 through=Link("STUDYINVESTIGATION", "investigation_id", "study_id"),
                 field_class=DATA, nullable=True, compiled=False),
        Relation("facilityCycles", "The facility's operating cycles the session belongs to "
                 "(ICAT INVESTIGATIONFACILITYCYCLE).", "FacilityCycle", "FACILITYCYCLE", "id",
                 "id", LIST, ("start_date", "id"),
                 through=Link("INVESTIGATIONFACILITYCYCLE", "investigation_id",
                              "facility_cycle_id"),
                 compiled=False),
        Relation("facility", "The facility.", "Facility", "FACILITY", "facility_id", "id", ONE),
        Relation("type", "The kind of session.", "InvestigationType", "INVESTIGATIONTYPE",
                 "type_id", "id", ONE),
        Relation("instruments", "The beamlines used (ICAT INVESTIGATIONINSTRUMENT).",
                 "Instrument", "INSTRUMENT", "id", "id", LIST, ("name", "id"),
                 through=Link("INVESTIGATIONINSTRUMENT", "investigation_id", "instrument_id")),
        Relation("team", "The team: proposers, participants, local contacts and "
                 "collaborators, one entry per role, in the order of their catalogue "
                 "entries.", "TeamMember", "INVESTIGATIONUSER", "id", "investigation_id", PAGE,
                 ("id",),
                 written="its rows carry the person's columns, which `myRoles` reads too"),
        Resolved("myRoles", "The caller's roles in this session; empty if none."),
        Relation("keywords", "Keywords.", "String", "KEYWORD", "id", "investigation_id", LIST,
                 ("name", "id"), value="name", field_class=DATA, nullable=True),
        Relation("samples", "Samples measured.", "Sample", "SAMPLE", "id", "investigation_id",
                 LIST, ("name", "id"), field_class=DATA, nullable=True),
        Relation("parameters", "Session-level parameters.", "Parameter",
                 "INVESTIGATIONPARAMETER", "id", "investigation_id", LIST, ("name", "id"),
                 field_class=DATA, nullable=True),
        Relation("datasets", "The session's datasets the caller may see: all of them once "
                 "the session is released or to its team; before that, to others, only "
                 "those a published DOI has made public.", "Dataset", "DATASET", "id",
                 "investigation_id", PAGE, ("start_date", "id"), visibility="dataset_visible",
                 field_class=DATA, filtered=True, written=PAGED),
        Resolved("accessRequests", "Requests to read this session's data, newest first: "
                 "all of them to those who manage its access (the main proposer, staff), "
                 "the caller's own to anyone else.", compiled=False),
        Resolved("reviewerLinks", "The secret links for reviewers that open this session "
                 "or some of its datasets, newest first: to those who manage its access (the "
                 "main proposer, staff); none for anyone else.", compiled=False),
        Resolved("dataCiteMetadata", "The DataCite kernel-4.5 metadata of the session's DOI "
                 "(JSON:API attributes) from its landing facts: title, team, dates, proposal, "
                 "and the published DOIs drawn from it (HasPart); null without a DOI.",
                 compiled=False),
        Resolved("citation", "How to cite the session's DOI (from its DataCite metadata): a "
                 "formatted reference in a CSL style, BibTeX, RIS or CSL-JSON; null without a "
                 "DOI.", compiled=False),
        Resolved("jsonLd", "The schema.org Dataset JSON-LD of the session's landing page: its "
                 "landing facts, plus its abstract, keywords and size where the caller may "
                 "read its data; null without a DOI.", compiled=False),
    ),
    compiled=True,
    table="INVESTIGATION",
)  # fmt: skip

DATASET = ObjectFields(
    "Dataset",
    "A dataset: one acquisition or processing run within a session (ICAT DATASET). DATA "
    "class as a whole: visible once its session is released, to the session's team, or "
    "once a published DOI includes it.",
    (
        *_id("DATASET", DATA),
        Scalar("name", "name", Format.TEXT, "Dataset name.", DATA, nullable=False),
        Scalar("description", "description", Format.TEXT, "Description.", DATA),
        Scalar("location", "location", Format.TEXT, "Storage location (path).", DATA),
        Scalar("doi", "doi", Format.TEXT, "The dataset's own DOI, if it has one.", DATA),
        Scalar("startDate", "start_date", Format.DATETIME, "Acquisition start.", DATA),
        Scalar("endDate", "end_date", Format.DATETIME, "Acquisition end (ICAT END_DATE).",
               DATA),
        Scalar("complete", "complete", Format.BOOLEAN, "Whether acquisition is complete.",
               DATA),
        Scalar("fileSize", "file_size", Format.LONG, "Total bytes, where ICAT keeps it.", DATA),
        Scalar("fileCount", "file_count", Format.LONG, "Number of files, where ICAT keeps it.",
               DATA),
        Relation("type", "The kind of dataset, e.g. acquisition or processed (ICAT "
                 "DATASETTYPE).", "DatasetType", "DATASETTYPE", "type_id", "id", ONE,
                 field_class=DATA,
                 written="read from the dataset's own row (its DATASETTYPE lookup)"),
        Relation("investigation", "The session the dataset belongs to.", "Investigation",
                 "INVESTIGATION", "investigation_id", "id", ONE, field_class=DATA,
                 nullable=True,
                 written="the session's row carries the caller's `data_visible`"),
        Relation("sample", "The sample measured.", "Sample", "SAMPLE", "sample_id", "id", ONE,
                 field_class=DATA, nullable=True, written=PREFETCHED),
        Relation("techniques", "Techniques used.", "Technique", "TECHNIQUE", "id", "id", LIST,
                 ("name", "id"), through=Link("DATASETTECHNIQUE", "dataset_id", "technique_id"),
                 field_class=DATA, written=PREFETCHED),
        Relation("parameters", "The dataset's parameters, with units.", "Parameter",
                 "DATASETPARAMETER", "id", "dataset_id", LIST, ("name", "id"),
                 field_class=DATA, nullable=True, written=PREFETCHED),
        Relation("datafiles", "The dataset's files.", "Datafile", "DATAFILE", "id",
                 "dataset_id", PAGE, ("name", "id"), field_class=DATA, written=PAGED),
        Relation("instruments", "The beamlines the dataset was taken on (ICAT "
                 "DATASETINSTRUMENT).", "Instrument", "INSTRUMENT", "id", "id", LIST,
                 ("name", "id"), through=Link("DATASETINSTRUMENT", "dataset_id", "instrument_id"),
                 field_class=DATA, compiled=False),
        Resolved("downloadSize", "Bytes a download of the dataset holds: its files' sizes "
                 "added up (what prepareDownload checks against the size limit).", DATA,
                 compiled=False),
        Resolved("globusUrl", "A Globus web-app link to the dataset's folder, for large data; "
                 "null where the facility configures no Globus collection or the location "
                 "lies outside it.", DATA, compiled=False),
    ),
    rows=Rows.FILTERED,
    compiled=True,
    table="DATASET",
    lookups=(Lookup("DATASETTYPE", "type_id",
                    (("type_name", "name"), ("type_description", "description"))),),
)  # fmt: skip

DATAFILE = ObjectFields(
    "Datafile",
    "A file of a dataset (ICAT DATAFILE). DATA class as a whole: visible with its dataset, "
    "or once a published DOI names it.",
    (
        *_id("DATAFILE", DATA),
        Scalar("name", "name", Format.TEXT, "File name.", DATA, nullable=False),
        Scalar("description", "description", Format.TEXT, "Description.", DATA),
        Scalar("location", "location", Format.TEXT, "Storage location (path).", DATA),
        Scalar("fileSize", "file_size", Format.LONG, "Size in bytes.", DATA),
        Scalar("checksum", "checksum", Format.TEXT, "Checksum.", DATA),
        Scalar("createTime", "datafile_create_time", Format.DATETIME,
               "When the file was written (ICAT DATAFILECREATETIME).", DATA),
        Scalar("modTime", "datafile_mod_time", Format.DATETIME,
               "When the file was last modified.", DATA),
        Scalar("doi", "doi", Format.TEXT, "The file's own DOI, if any.", DATA),
        Scalar("format", "format_name", Format.TEXT, "The file format, e.g. HDF5.", DATA),
        Relation("dataset", "The dataset the file belongs to.", "Dataset", "DATASET",
                 "dataset_id", "id", ONE, visibility="dataset_row_visible", field_class=DATA,
                 nullable=True, compiled=False,
                 written="by id, with the caller's visibility checked row by row"),
        Relation("parameters", "The file's parameters, with units (ICAT DATAFILEPARAMETER).",
                 "Parameter", "DATAFILEPARAMETER", "id", "datafile_id", LIST, ("name", "id"),
                 field_class=DATA, nullable=True, compiled=False),
        Resolved("relatedDatafiles", "How this file relates to others (ICAT RELATEDDATAFILE, "
                 "this file as the source).", DATA, compiled=False),
    ),
    rows=Rows.FILTERED,
    compiled=True,
    table="DATAFILE",
    lookups=(Lookup("DATAFILEFORMAT", "datafile_format_id", (("format_name", "name"),),
                    optional=True),),
)  # fmt: skip

SAMPLE = ObjectFields(
    "Sample",
    "A sample measured in a session (ICAT SAMPLE). DATA class as a whole.",
    (
        *_id("SAMPLE", DATA),
        Scalar("name", "name", Format.TEXT, "Sample name.", DATA, nullable=False),
        Scalar("pid", "pid", Format.TEXT, "Persistent identifier of the sample.", DATA),
        Scalar("typeName", "type_name", Format.TEXT, "Sample type, e.g. protein crystal.", DATA),
        Scalar("molecularFormula", "type_molecular_formula", Format.TEXT,
               "Molecular formula of the type.", DATA),
        Relation("parameters", "The sample's parameters.", "Parameter", "SAMPLEPARAMETER", "id",
                 "sample_id", LIST, ("name", "id"), field_class=DATA, nullable=True),
    ),
    rows=Rows.FILTERED,
    compiled=True,
    table="SAMPLE",
    lookups=(Lookup("SAMPLETYPE", "type_id",
                    (("type_name", "name"), ("type_molecular_formula", "molecular_formula")),
                    optional=True),),
)  # fmt: skip

PARAMETER = ObjectFields(
    "Parameter",
    "A measured or recorded value with its units (ICAT *PARAMETER and PARAMETERTYPE). "
    "Exactly one of the value fields is set, as `valueKind` says. DATA class as a whole.",
    (
        Scalar("name", "name", Format.TEXT,
               "Parameter name, e.g. InstrumentMonochromator_energy.", DATA, nullable=False),
        Scalar("units", "units", Format.TEXT, "Units symbol, e.g. keV.", DATA),
        Scalar("unitsFullName", "units_full_name", Format.TEXT, "Units spelled out.", DATA),
        Scalar("valueKind", "value_type", Format.VALUE_KIND, "Which value field is set.", DATA,
               nullable=False),
        Scalar("numericValue", "numeric_value", Format.FLOAT, "The value, if numeric.", DATA),
        Scalar("stringValue", "string_value", Format.TEXT, "The value, if a string.", DATA),
        Scalar("dateTimeValue", "datetime_value", Format.DATETIME,
               "The value, if a date and time.", DATA),
        Scalar("error", "error", Format.FLOAT, "Uncertainty of a numeric value.", DATA),
        Scalar("rangeBottom", "range_bottom", Format.FLOAT, "Lower end of a range value.", DATA),
        Scalar("rangeTop", "range_top", Format.FLOAT, "Upper end of a range value.", DATA),
    ),
    rows=Rows.FILTERED,
    compiled=True,
    lookups=(Lookup("PARAMETERTYPE", "parameter_type_id",
                    (("name", "name"), ("units", "units"), ("units_full_name", "units_full_name"),
                     ("value_type", "value_type"))),),
)  # fmt: skip

TECHNIQUE = ObjectFields(
    "Technique",
    "An experimental technique (ICAT TECHNIQUE), e.g. from PaNET. Public.",
    (
        *_id("TECHNIQUE"),
        Scalar("name", "name", Format.TEXT, "Name, e.g. macromolecular crystallography.",
               nullable=False),
        Scalar("pid", "pid", Format.TEXT, "Persistent identifier (e.g. a PaNET IRI)."),
        Scalar("description", "description", Format.TEXT, "Description."),
    ),
    compiled=True,
    table="TECHNIQUE",
)  # fmt: skip

FACILITY = ObjectFields(
    "Facility",
    "A facility (ICAT FACILITY), e.g. a synchrotron. Public.",
    (
        *_id("FACILITY"),
        Scalar("name", "name", Format.TEXT, "Short name, e.g. ESRF.", nullable=False),
        Scalar("fullName", "full_name", Format.TEXT, "Full name."),
        Scalar("description", "description", Format.TEXT, "Description."),
        Scalar("url", "url", Format.TEXT, "Web site."),
        Scalar("daysUntilRelease", "days_until_release", Format.INT,
               "The facility's default embargo, in days after a session ends."),
    ),
    compiled=True,
    table="FACILITY",
)  # fmt: skip

INSTRUMENT = ObjectFields(
    "Instrument",
    "A beamline or instrument (ICAT INSTRUMENT). Public.",
    (
        *_id("INSTRUMENT"),
        Scalar("name", "name", Format.TEXT, "Short name, e.g. ID30A-1.", nullable=False),
        Scalar("fullName", "full_name", Format.TEXT, "Full name."),
        Scalar("description", "description", Format.TEXT, "Description."),
        Scalar("type", "type", Format.TEXT, "Kind of instrument, e.g. MX beamline."),
        Scalar("url", "url", Format.TEXT, "Web page of the beamline."),
        Scalar("pid", "pid", Format.TEXT, "Persistent identifier of the beamline (e.g. PIDINST)."),
        Scalar("startDate", "start_date", Format.DATETIME,
               "When the beamline started operating (ICAT 6.2 STARTDATE; null before 6.2)."),
        Scalar("endDate", "end_date", Format.DATETIME,
               "When the beamline stopped operating, if it has (ICAT 6.2 ENDDATE; null "
               "before 6.2)."),
        Relation("facility", "The facility that runs this beamline.", "Facility", "FACILITY",
                 "facility_id", "id", ONE),
        Relation("scientists", "The beamline's scientists (ICAT INSTRUMENTSCIENTIST), by "
                 "user name.", "User", "USER_", "id", "id", PAGE, ("name", "id"),
                 through=Link("INSTRUMENTSCIENTIST", "instrument_id", "user_id")),
    ),
    compiled=True,
    table="INSTRUMENT",
)  # fmt: skip

PARAMETER_TYPE = ObjectFields(
    "ParameterType",
    "A kind of parameter (ICAT PARAMETERTYPE): its name, units and permitted range, what a "
    "filter panel offers for `datasets(filter: {parameters})`. Public reference data, as "
    "beamlines and techniques are; values are DATA (`Parameter`).",
    (
        Scalar("name", "name", Format.TEXT, "Parameter name, e.g. InstrumentMonochromator_energy.",
               nullable=False),
        Scalar("units", "units", Format.TEXT,
               "Units as the catalogue writes them, e.g. keV (NA: none).", nullable=False),
        Scalar("unitsFullName", "units_full_name", Format.TEXT, "Units spelled out."),
        Scalar("valueKind", "value_type", Format.VALUE_KIND, "Which value field its values set.",
               nullable=False),
        Scalar("description", "description", Format.TEXT, "Description."),
        Scalar("minimumNumericValue", "minimum_numeric_value", Format.FLOAT,
               "Lowest value the facility accepts, in `units`."),
        Scalar("maximumNumericValue", "maximum_numeric_value", Format.FLOAT,
               "Highest value the facility accepts, in `units`."),
        Resolved("siUnits", "The SI base units its values convert to (keV: kilogram * meter ** 2 "
                 "/ second ** 2); null where the units cannot be read (then a range compares "
                 "values as they are)."),
    ),
)  # fmt: skip

INVESTIGATION_TYPE = ObjectFields(
    "InvestigationType",
    "A kind of session (ICAT INVESTIGATIONTYPE), e.g. experiment or proprietary.",
    (
        Scalar("name", "name", Format.TEXT, "Name of the type.", nullable=False),
        Scalar("description", "description", Format.TEXT, "Description."),
    ),
    compiled=True,
    table="INVESTIGATIONTYPE",
)  # fmt: skip

DATASET_TYPE = ObjectFields(
    "DatasetType",
    "A kind of dataset (ICAT DATASETTYPE), e.g. acquisition or processed.",
    (
        Scalar("name", "name", Format.TEXT, "Name of the type.", nullable=False),
        Scalar("description", "description", Format.TEXT, "Description."),
    ),
    compiled=True,
    table="DATASETTYPE",
)  # fmt: skip

USER = ObjectFields(
    "User",
    "A person known to the catalogue (ICAT USER_).",
    (
        *_id("USER_"),
        Scalar("name", "name", Format.TEXT,
               "Login name with its authenticator prefix, e.g. esrf/jdoe.", nullable=False),
        Scalar("fullName", "full_name", Format.TEXT, "Full name."),
        Scalar("givenName", "given_name", Format.TEXT, "Given name."),
        Scalar("familyName", "family_name", Format.TEXT, "Family name."),
        Scalar("orcidId", "orcid_id", Format.TEXT, "ORCID iD."),
        Scalar("affiliation", "affiliation", Format.TEXT, "Affiliation."),
        Scalar("email", "email", Format.TEXT, "E-mail address.", PERSONAL),
        Relation("investigations", "The sessions this person is on the team of (any role), "
                 "filtered and sorted like `investigations` (newest first by default); with "
                 "the ORCID iD, what federation joins people by across facilities.",
                 "Investigation", "INVESTIGATION", "id", "id", PAGE, ("start_date", "id"),
                 through=Link("INVESTIGATIONUSER", "user_id", "investigation_id"),
                 compiled=False, written=PAGED),
    ),
    compiled=True,
    owner="name",
    table="USER_",
)  # fmt: skip

TEAM_MEMBER = ObjectFields(
    "TeamMember",
    "One role a person holds in a session (ICAT INVESTIGATIONUSER). LANDING: public. A "
    "person with several roles appears once per role.",
    (
        Scalar("role", "role", Format.TEXT, "The role as the facility records it, e.g. "
               "Principal investigator, Local contact, Collaborator.", nullable=False),
        Resolved("isMainProposer",
                 "Whether this role is the main proposer's (who may grant access)."),
        Resolved("accessExpiresAt", "When a collaborator's grant ends (`grantAccess` or "
                 "`approveAccessRequest` with `expiresAt`); null: it does not expire. Roles "
                 "from the proposal never do.", compiled=False),
        Resolved("isExpired", "Whether this grant has expired: the person is still listed "
                 "but no longer reads the session's embargoed data through it.",
                 compiled=False),
        Relation("user", "The person.", "User", "USER_", "user_id", "id", ONE,
                 written="the member's row holds the person's columns"),
    ),
    compiled=True,
    table="INVESTIGATIONUSER",
)  # fmt: skip

DATA_PUBLICATION = ObjectFields(
    "DataPublication",
    "A DOI minted for a selection of datasets from one or more sessions. Public once "
    "published (which makes its datasets public); a reservation is visible to the team.",
    (
        *_id("DATAPUBLICATION", DATA),
        Scalar("doi", "pid", Format.TEXT, "The DOI (ICAT PID).", DATA),
        Scalar("title", "title", Format.TEXT, "Title.", DATA, nullable=False),
        Scalar("description", "description", Format.TEXT, "Description.", DATA),
        Scalar("subject", "subject", Format.TEXT, "Subject keywords.", DATA),
        Scalar("publicationDate", "publication_date", Format.DATETIME,
               "When it was (or will be) published; null while reserved.", DATA),
        Scalar("isPublished", "is_published", Format.BOOLEAN, "Whether the DOI is public.",
               DATA, nullable=False),
        Scalar("internalId", "internal_id", Format.TEXT,
               "The facility's own identifier of the publication (ICAT 6.2 INTERNALID; "
               "null before 6.2).", DATA),
        Relation("publicationType", "The kind of publication (ICAT DATAPUBLICATIONTYPE; "
                 "named so beside a session's type).", "DataPublicationType",
                 "DATAPUBLICATIONTYPE", "type_id", "id", ONE, field_class=DATA, nullable=True,
                 compiled=False),
        Relation("fundingReferences", "Grants that funded it (ICAT DATAPUBLICATIONFUNDING).",
                 "FundingReference", "FUNDINGREFERENCE", "id", "id", LIST,
                 ("funder_name", "id"),
                 through=Link("DATAPUBLICATIONFUNDING", "data_publication_id", "funding_id"),
                 field_class=DATA, nullable=True, compiled=False),
        Resolved("parameters", "Parameters of its data collection (ICAT "
                 "DATACOLLECTIONPARAMETER).", DATA, compiled=False),
        Relation("contributors", "Creators and contributors, in order.", "Contributor",
                 "DATAPUBLICATIONUSER", "id", "publication_id", LIST, ("order_key", "id"),
                 field_class=DATA),
        Relation("relatedItems", "Related identifiers.", "RelatedItem", "RELATEDITEM", "id",
                 "publication_id", LIST, ("id",), field_class=DATA),
        Resolved("datasets", "The datasets of the publication that the caller may see.", DATA),
        Resolved("state", "RESERVED (a draft DOI) or PUBLISHED.", DATA),
        Resolved("registered", "Whether its DOI is registered with a registration agency "
                 "(false for the embedded local registrar's, which resolve nowhere).", DATA),
        Relation("dates", "Its dated events (Created, Issued, Collected...).", "PublicationDate",
                 "DATAPUBLICATIONDATE", "id", "publication_id", LIST, ("id",), field_class=DATA),
        Resolved("dataCiteMetadata", "Its DataCite kernel-4.5 metadata (JSON:API attributes), "
                 "as the registrar holds it or will.", DATA),
        Resolved("citation", "How to cite it: a formatted reference in a CSL style, BibTeX, "
                 "RIS or CSL-JSON, from its DataCite metadata.", DATA),
        Resolved("jsonLd", "Its schema.org Dataset JSON-LD, as its landing page embeds it.",
                 DATA),
        Resolved("conceptDoi", "The concept DOI of its versions (it resolves to the latest "
                 "published one); null for a DOI that never had a new version.", DATA,
                 compiled=False),
        Resolved("version", "Its number among the versions under its concept DOI, from 1; "
                 "null for a DOI that never had a new version.", DATA, compiled=False),
        Resolved("versions", "The published versions under its concept DOI, oldest first "
                 "(itself among them); none for a DOI that never had a new version.", DATA,
                 compiled=False),
    ),
    rows=Rows.FILTERED,
    table="DATAPUBLICATION",
)  # fmt: skip

CONTRIBUTOR = ObjectFields(
    "Contributor",
    "A creator or contributor of a data publication (ICAT DATAPUBLICATIONUSER).",
    (
        Scalar("fullName", "full_name", Format.TEXT, "Name as cited.", DATA),
        Scalar("givenName", "given_name", Format.TEXT, "Given name.", DATA),
        Scalar("familyName", "family_name", Format.TEXT, "Family name.", DATA),
        Scalar("contributorType", "contributor_type", Format.TEXT,
               "Creator, or a DataCite contributor type.", DATA, nullable=False),
        Scalar("orderKey", "order_key", Format.TEXT, "Position in the author list.", DATA),
        Scalar("orcid", "orcid", Format.TEXT, "ORCID iD (of the person's catalogue user).",
               DATA),
        Relation("affiliations", "Institutions, in order.", "Affiliation", "AFFILIATION", "id",
                 "user_id", LIST, ("id",), field_class=DATA),
    ),
    rows=Rows.FILTERED,
    table="DATAPUBLICATIONUSER",
    lookups=(Lookup("USER_", "user_id", (("orcid", "orcid_id"),)),),
)  # fmt: skip

AFFILIATION = ObjectFields(
    "Affiliation",
    "An institution a contributor belongs to (ICAT AFFILIATION).",
    (
        Scalar("name", "name", Format.TEXT, "The institution's name.", DATA, nullable=False),
        Scalar("ror", "pid", Format.TEXT, "Its ROR id, where known.", DATA),
    ),
    rows=Rows.FILTERED,
    table="AFFILIATION",
)  # fmt: skip

PUBLICATION_DATE = ObjectFields(
    "PublicationDate",
    "A dated event of a data publication (ICAT DATAPUBLICATIONDATE).",
    (
        Scalar("dateType", "date_type", Format.TEXT, "DataCite dateType: Created, Issued...",
               DATA, nullable=False),
        Scalar("date", "date", Format.TEXT, "ISO 8601 date, or a range.", DATA,
               nullable=False),
    ),
    rows=Rows.FILTERED,
    table="DATAPUBLICATIONDATE",
)  # fmt: skip

RELATED_ITEM = ObjectFields(
    "RelatedItem",
    "An identifier related to a data publication, e.g. the paper (ICAT RELATEDITEM).",
    (
        Scalar("identifier", "identifier", Format.TEXT, "The related identifier, e.g. a DOI.",
               DATA, nullable=False),
        Scalar("relationType", "relation_type", Format.TEXT,
               "DataCite relation, e.g. IsCitedBy.", DATA),
        Scalar("relatedItemType", "related_item_type", Format.TEXT, "DataCite resource type.",
               DATA),
        Scalar("title", "title", Format.TEXT, "Title of the related item.", DATA),
        Scalar("fullReference", "full_reference", Format.TEXT, "Full citation.", DATA),
    ),
    rows=Rows.FILTERED,
    table="RELATEDITEM",
)  # fmt: skip

ACCESS_REQUEST = ObjectFields(
    "AccessRequest",
    "A signed-in user's request to read a session's data, and its answer. Seen by the "
    "requester, by those who manage the session's access and by staff.",
    (
        Scalar("id", "id", Format.GLOBAL_ID, "Global, opaque id of the request.",
               nullable=False),
        Resolved("state", "Pending, approved, declined or cancelled."),
        Scalar("message", "message", Format.TEXT, "What the requester wrote."),
        Scalar("reply", "reply", Format.TEXT, "The answer given with the decision."),
        Scalar("createdAt", "created_at", Format.DATETIME, "When it was asked (UTC).",
               nullable=False),
        Scalar("decidedAt", "decided_at", Format.DATETIME,
               "When it was approved, declined or cancelled (UTC); null while pending."),
        Scalar("decidedBy", "decided_by", Format.TEXT,
               "The ICAT user name of who approved or declined it (the requester, for a "
               "cancellation); null while pending."),
        Resolved("requester", "Who asked."),
        Resolved("investigation", "The session asked for."),
    ),
    rows=Rows.RESTRICTED,
)  # fmt: skip

REVIEWER_LINK = ObjectFields(
    "ReviewerLink",
    "A secret link for a journal's reviewers: whoever holds its token reads the data of the "
    "sessions and datasets it names, read-only and anonymously, until it expires or is "
    "revoked. Seen by those who manage the access of its sessions, and staff.",
    (
        Scalar("id", "id", Format.GLOBAL_ID, "Global, opaque id of the link.", nullable=False),
        Scalar("createdBy", "created_by", Format.TEXT, "Who made it (ICAT user name).",
               nullable=False),
        Scalar("createdAt", "created_at", Format.DATETIME, "When it was made (UTC).",
               nullable=False),
        Scalar("expiresAt", "expires_at", Format.DATETIME, "When it stops working (UTC).",
               nullable=False),
        Scalar("revokedAt", "revoked_at", Format.DATETIME,
               "When it was revoked (UTC); null while it is not."),
        Scalar("note", "note", Format.TEXT, "Its maker's note (the journal, the paper)."),
        Scalar("useCount", "use_count", Format.LONG,
               "Requests made with it (who made them is never recorded).", nullable=False),
        Scalar("lastUsedAt", "last_used_at", Format.DATETIME, "When it was last used (UTC)."),
        Resolved("isActive", "Neither expired nor revoked."),
    ),
    rows=Rows.RESTRICTED,
)  # fmt: skip

ACCESS_EVENT = ObjectFields(
    "AccessEvent",
    "One entry of the audit trail of access: a grant, a revocation, a request or a "
    "decision. Staff only.",
    (
        Scalar("id", "id", Format.GLOBAL_ID, "Global, opaque id of the entry.", nullable=False),
        Scalar("at", "at", Format.DATETIME, "When (UTC).", nullable=False),
        Resolved("action", "What happened."),
        Scalar("actor", "actor", Format.TEXT, "The ICAT user name of who did it.",
               nullable=False),
        Scalar("subject", "subject", Format.TEXT,
               "The ICAT user name of whose access it is about (grantee, requester).",
               nullable=False),
        Scalar("role", "role", Format.TEXT, "The team role granted or revoked."),
        Scalar("reason", "reason", Format.TEXT,
               "Why: the request's message, a decision's reply, or a grant's reason."),
        Resolved("requestId", "The access request it belongs to, if any."),
        Resolved("investigation", "The session."),
    ),
    rows=Rows.RESTRICTED,
)  # fmt: skip

EVENT = ObjectFields(
    "Event",
    "One entry of the event log: a change the gateway made (a grant, a revocation, an "
    "access request or its answer, a DOI's reservation, change, publication or "
    "cancellation, a release date's change or reminder, a prepared download), with who, "
    "what, when, why, and the state before and after. Staff see every event, a session's "
    "team its session's, a person those they did or that are about their access.",
    (
        Scalar("id", "id", Format.GLOBAL_ID, "Global, opaque id of the event.", nullable=False),
        Scalar("type", "type", Format.TEXT,
               "What happened: access.grant, access.revoke, access.request, access.approve, "
               "access.decline, access.cancel, access.link-create, access.link-revoke, "
               "doi.reserve, doi.update, doi.publish, doi.version, doi.amend, "
               "doi.cancel, release_date.change, release_date.reminder, download.prepare.",
               nullable=False),
        Scalar("occurredAt", "occurred_at", Format.DATETIME, "When (UTC).", nullable=False),
        Scalar("actor", "actor", Format.TEXT,
               "The ICAT user name of who did it (gateway: the gateway's scheduled jobs; "
               "anonymous: a download without login).", nullable=False),
        Scalar("subjectKind", "subject_kind", Format.TEXT,
               "What it is about: investigation, access_request, doi or download.",
               nullable=False),
        Scalar("subjectId", "subject_id", Format.TEXT,
               "Which one: the session's or request's ICAT id, the DOI, the download's id.",
               nullable=False),
        Scalar("person", "person", Format.TEXT,
               "The ICAT user name of whose access it is about (grantee, requester)."),
        Scalar("role", "role", Format.TEXT, "The team role granted or revoked."),
        Scalar("reason", "reason", Format.TEXT,
               "Why: a request's message, a decision's reply, a grant's or a release "
               "date's reason."),
        Resolved("before", "The state before the change, as a JSON text (null: none)."),
        Resolved("after", "The state after the change, as a JSON text (null: none)."),
        Resolved("investigation", "The session it concerns (a DOI's first session); null "
                 "for a download."),
    ),
    rows=Rows.RESTRICTED,
)  # fmt: skip

SHIFT = ObjectFields(
    "Shift",
    "A period of beam time of a session (ICAT SHIFT). DATA class as a whole.",
    (
        Scalar("startDate", "start_date", Format.DATETIME, "Start of the shift.", DATA,
               nullable=False),
        Scalar("endDate", "end_date", Format.DATETIME, "End of the shift.", DATA,
               nullable=False),
        Scalar("comment", "comment", Format.TEXT, "A note on the shift.", DATA),
        Relation("instrument", "The beamline of the shift, if recorded.", "Instrument",
                 "INSTRUMENT", "instrument_id", "id", ONE, field_class=DATA, nullable=True,
                 compiled=False),
    ),
    rows=Rows.FILTERED,
)  # fmt: skip

PUBLICATION = ObjectFields(
    "Publication",
    "A paper arising from a session (ICAT PUBLICATION). DATA class as a whole.",
    (
        Scalar("fullReference", "full_reference", Format.TEXT, "The full citation.", DATA,
               nullable=False),
        Scalar("doi", "doi", Format.TEXT, "The paper's DOI.", DATA),
        Scalar("repository", "repository", Format.TEXT, "The repository that holds it.", DATA),
        Scalar("repositoryId", "repository_id", Format.TEXT, "Its identifier there.", DATA),
        Scalar("url", "url", Format.TEXT, "Where to read it.", DATA),
    ),
    rows=Rows.FILTERED,
)  # fmt: skip

FUNDING_REFERENCE = ObjectFields(
    "FundingReference",
    "A grant: funder and award (ICAT FUNDINGREFERENCE). DATA class as a whole.",
    (
        Scalar("funderName", "funder_name", Format.TEXT, "The funder.", DATA, nullable=False),
        Scalar("funderIdentifier", "funder_identifier", Format.TEXT,
               "The funder's identifier (e.g. a Crossref Funder ID or ROR).", DATA),
        Scalar("awardNumber", "award_number", Format.TEXT, "The award's number.", DATA,
               nullable=False),
        Scalar("awardTitle", "award_title", Format.TEXT, "The award's title.", DATA),
        Scalar("acknowledgement", "acknowledgement", Format.TEXT,
               "The acknowledgement to print (ICAT 6.2; null before 6.2).", DATA),
    ),
    rows=Rows.FILTERED,
)  # fmt: skip

STUDY = ObjectFields(
    "Study",
    "A study grouping sessions (ICAT STUDY). DATA class as a whole.",
    (
        Scalar("name", "name", Format.TEXT, "Name of the study.", DATA, nullable=False),
        Scalar("description", "description", Format.TEXT, "Description.", DATA),
        Scalar("pid", "pid", Format.TEXT, "Persistent identifier.", DATA),
        Scalar("startDate", "start_date", Format.DATETIME, "Start of the study.", DATA),
        Scalar("endDate", "end_date", Format.DATETIME, "End of the study.", DATA),
    ),
    rows=Rows.FILTERED,
)  # fmt: skip

FACILITY_CYCLE = ObjectFields(
    "FacilityCycle",
    "An operating cycle of the facility (ICAT FACILITYCYCLE), e.g. a run of the machine. "
    "Public.",
    (
        Scalar("name", "name", Format.TEXT, "Name of the cycle.", nullable=False),
        Scalar("description", "description", Format.TEXT, "Description."),
        Scalar("startDate", "start_date", Format.DATETIME, "Start of the cycle."),
        Scalar("endDate", "end_date", Format.DATETIME, "End of the cycle."),
    ),
)  # fmt: skip

DATA_PUBLICATION_TYPE = ObjectFields(
    "DataPublicationType",
    "A kind of data publication (ICAT DATAPUBLICATIONTYPE), e.g. curated or user-defined. "
    "Public.",
    (
        Scalar("name", "name", Format.TEXT, "Name of the type.", nullable=False),
        Scalar("description", "description", Format.TEXT, "Description."),
    ),
)  # fmt: skip

RELATED_DATAFILE = ObjectFields(
    "RelatedDatafile",
    "How a file relates to another (ICAT RELATEDDATAFILE). DATA class as a whole.",
    (
        Scalar("relation", "relation", Format.TEXT, "The relation, e.g. derived from.", DATA,
               nullable=False),
        Resolved("datafile", "The other file; null where the caller may not see it.", DATA),
    ),
    rows=Rows.FILTERED,
)  # fmt: skip

TYPES: Mapping[str, ObjectFields] = {
    declared.type_name: declared
    for declared in (
        PARAMETER_TYPE,
        INVESTIGATION,
        DATASET,
        DATAFILE,
        SAMPLE,
        PARAMETER,
        TECHNIQUE,
        FACILITY,
        INSTRUMENT,
        INVESTIGATION_TYPE,
        DATASET_TYPE,
        USER,
        TEAM_MEMBER,
        DATA_PUBLICATION,
        CONTRIBUTOR,
        AFFILIATION,
        PUBLICATION_DATE,
        RELATED_ITEM,
        ACCESS_REQUEST,
        ACCESS_EVENT,
        EVENT,
        REVIEWER_LINK,
        SHIFT,
        PUBLICATION,
        FUNDING_REFERENCE,
        STUDY,
        FACILITY_CYCLE,
        DATA_PUBLICATION_TYPE,
        RELATED_DATAFILE,
    )
}
"""Every catalogue type by GraphQL name."""

RESOLVED_ONLY_THE_STANDARD_WAY = frozenset(
    {
        "Query",
        "Mutation",
        "Me",
        "PageInfo",
        "GrantAccessPayload",
        "AccessGrant",
        "RevokeAccessPayload",
        "AccessRequestPayload",
        "NewReviewerLink",
        "CreateReviewerLinkPayload",
        "RevokeReviewerLinkPayload",
        "ChangeReleaseDatePayload",
        "DoiPayload",
        "DoiVersion",
        "Download",
        "DownloadRecord",
        "PrepareDownloadPayload",
        "SessionFacets",
        "DatasetFacets",
        "FacetCount",
        "SearchHighlight",
        "FilterSuggestion",
        "WebhookDelivery",
        "NotificationSettings",
        "SetNotificationSettingsPayload",
    }
)
"""Object types that hold no catalogue columns of their own (the roots, the caller, the
mutations' payloads): resolved by hand, never compiled. Relay connections and edges
(``*Connection``, ``*Edge``) and federation's ``_Service`` are structural too."""


def is_structural(type_name: str) -> bool:
    """Object types of the schema that the catalogue does not declare, on purpose."""
    return (
        type_name in RESOLVED_ONLY_THE_STANDARD_WAY
        or type_name.endswith(("Connection", "Edge"))
        or type_name.startswith("_")
    )
