"""ICAT's own tables, mapped with SQLAlchemy exactly as icat.server creates them.

icat.server (https://github.com/icatproject/icat.server) is a JPA application: EclipseLink
generates the schema from the entity classes in ``src/main/java/org/icatproject/core/entity``
(``EntityBaseBean`` and one class per table). This module mirrors that schema, table by
table and column by column, for icat.server 5.0 up to 6.2 (the column set is the newest one,
6.2 / master; see "Versions" below). The gateway reads an existing ICAT database through
these models and, in embedded mode, creates the same schema itself.

How EclipseLink names things, and so how the names below were derived:

* Table: the entity class name upper-cased (``INVESTIGATIONUSER``), except where ``@Table``
  renames it: ``USER_`` and ``RULE_`` (``SESSION_`` too, not mapped here: it holds ICAT's
  login sessions, lives in a persistence unit of its own, and is no business of the gateway).
* Column: the Java field name upper-cased (``releaseDate`` -> ``RELEASEDATE``) unless
  ``@Column(name=...)`` says otherwise; hence ``DATASET.END_DATE`` but
  ``INVESTIGATION.ENDDATE``, ``INVESTIGATION.VISIT_ID``, ``DATAPUBLICATIONDATE.DATE_``,
  ``SHIFT."COMMENT"`` (quoted by icat.server because COMMENT is reserved in Oracle), the
  ``*_VALUE`` columns of the parameter tables.
* Many-to-one reference: ``<FIELD>_ID`` (``type`` -> ``TYPE_ID``, ``datafileFormat`` ->
  ``DATAFILEFORMAT_ID``) unless ``@JoinColumn(name=...)`` says otherwise (``SAMPLETYPE_ID``,
  ``DATAPUBLICATIONTYPE_ID``, ``GROUP_ID``, ``PARAMETER_TYPE_ID``, ...).
* Types: ``String`` -> VARCHAR(255) unless ``@Column(length=...)``; ``Long`` -> BIGINT;
  ``Integer`` and enums (stored by ordinal) -> INTEGER; ``Double`` -> DOUBLE (on Oracle
  NUMBER(38,19)); ``Date`` -> DATETIME/TIMESTAMP; ``boolean`` -> a boolean (TINYINT(1) on
  MariaDB). A column is NOT NULL only where the Java says ``nullable = false``; primitive
  ``boolean`` fields without it are nullable in the DDL although ICAT always writes them.
* Unique constraints: ``@Table(uniqueConstraints=...)`` gives the columns but no name;
  EclipseLink then names the constraint ``UNQ_<TABLE>_<n>`` counting from 0, and every ICAT
  table has at most one, so all are ``UNQ_<TABLE>_0``. Foreign keys are named
  ``FK_<TABLE>_<COLUMN>`` (the metadata's naming convention below does that).
* The one secondary index icat.server declares itself is ``DATAFILE(LOCATION)``
  (``@Index(columnList = "location")``, named by EclipseLink ``INDEX_DATAFILE_location``).
  The optional ``indices.sql`` a DBA may apply by hand, and the gateway's own indexes, are
  not part of this file (see ``gateway.catalogue.indexes``).

IDs. Every table has ``ID BIGINT`` as primary key and the four audit columns of
``EntityBaseBean``. The ID is mapped without autoincrement: the gateway supplies it, or
lets AUTO_INCREMENT do so, as icat.server would on that database (``sequence.py``, which
also gives the block arithmetic). icat.server allocates IDs since ICAT 4.5 with
``@GeneratedValue(strategy = SEQUENCE)`` (EclipseLink's native sequencing), which on
MySQL/MariaDB makes ``ID`` an ``AUTO_INCREMENT`` column (one counter per table) and on
Oracle/PostgreSQL draws from the sequence object ``SEQ_GEN_SEQUENCE``. EclipseLink's
``SEQUENCE`` table (``SEQ_NAME``, ``SEQ_COUNT``), mapped here as :class:`Sequence`, is what
ICAT used up to 4.4 (table generator); it survives in databases created by those versions,
and the gateway uses it only in a database it made itself (embedded mode).

Names are written here as EclipseLink writes them, upper case; a real ICAT on PostgreSQL
spells them in lower case, and each engine writes them as its database does (``names.py``).

Versions. The column set is that of 6.2. Added in 6.2 and so absent from a 5.0 to 6.1
database: ``INSTRUMENT.STARTDATE``/``ENDDATE``, ``DATAPUBLICATION.INTERNALID``,
``FUNDINGREFERENCE.ACKNOWLEDGEMENT`` and the table ``SUBJECT``; 6.2 also widened
``DATAFILE.LOCATION`` and ``DATASET.LOCATION`` from VARCHAR(255) to VARCHAR(511)
(``upgrade_mysql_6_2.sql``). Added in 5.0 (present on every supported version, absent only
from a 4.x ICAT): ``INVESTIGATION.FILESIZE``/``FILECOUNT``, ``DATASET.FILESIZE``/
``FILECOUNT`` (``DATAFILE.FILESIZE`` is much older), and the tables TECHNIQUE,
DATASETTECHNIQUE, DATASETINSTRUMENT, DATAPUBLICATION, DATAPUBLICATIONTYPE,
DATAPUBLICATIONUSER, DATAPUBLICATIONDATE, DATAPUBLICATIONFUNDING, AFFILIATION, RELATEDITEM,
FUNDINGREFERENCE, INVESTIGATIONFUNDING, DATACOLLECTIONINVESTIGATION and
INVESTIGATIONFACILITYCYCLE. The FILESIZE/FILECOUNT columns are maintained by icat.server or
by the optional database triggers (``create_triggers_mysql_5_0.sql``) and may be NULL.

Key length on MariaDB. The widest unique constraints are three columns, a BIGINT and two
VARCHAR(255) (INVESTIGATION, DATAFILEFORMAT, PARAMETERTYPE, SAMPLETYPE, APPLICATION), or two
VARCHAR(255) (FUNDINGREFERENCE): at most 8 + 2 * 255 * 4 = 2048 bytes in utf8mb4, inside
InnoDB's 3072-byte limit for the DYNAMIC row format (the default since MariaDB 10.2.2 and
MySQL 5.7.9); ``INDEX_DATAFILE_location`` is 511 * 4 = 2044 bytes. Only the old COMPACT or
REDUNDANT row formats, with their 767-byte limit, would reject these keys under utf8mb4.

Python attribute names are the Java field names in snake_case (``visitId`` -> ``visit_id``,
a reference ``facility`` -> ``facility_id``), with the column named explicitly. The few
exceptions, chosen for clarity: the parameter tables' reference to their type is
``parameter_type_id``, and ``DataPublication.content`` is ``data_collection_id``. There are
no ``relationship()`` attributes: the gateway joins with explicit, batched queries.
"""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Double,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class ParameterValueType(enum.IntEnum):
    """``PARAMETERTYPE.VALUETYPE``: which of a parameter's value columns is used."""

    DATE_AND_TIME = 0
    NUMERIC = 1
    STRING = 2


class StudyStatus(enum.IntEnum):
    """``STUDY.STATUS`` (an ordinal, like every ICAT enum)."""

    NEW = 0
    IN_PROGRESS = 1
    COMPLETE = 2
    CANCELLED = 3


class IcatBase(DeclarativeBase):
    """Declarative base of ICAT's tables (its own MetaData: ``icat_metadata``)."""

    metadata = MetaData(
        # EclipseLink's name for the foreign key from <TABLE>.<COLUMN>.
        naming_convention={"fk": "FK_%(table_name)s_%(column_0_name)s"},
    )
    # The defaults for unadorned annotations; anything else is spelled out per column.
    # Integers are always given explicitly (BIGINT for Java Long, INTEGER for Integer/enum).
    type_annotation_map = {
        str: String(255),
        datetime: DateTime(),
        float: Double(),
        bool: Boolean(),
    }


icat_metadata = IcatBase.metadata


# --------------------------------------------------------------------------------------
# Mixins: EntityBaseBean and Parameter
# --------------------------------------------------------------------------------------


class EntityBase:
    """The columns every ICAT table has (``EntityBaseBean``)."""

    id: Mapped[int] = mapped_column(
        "ID", BigInteger, primary_key=True, autoincrement=False, sort_order=-1
    )
    create_id: Mapped[str] = mapped_column("CREATE_ID", String(255), sort_order=1)
    create_time: Mapped[datetime] = mapped_column("CREATE_TIME", DateTime, sort_order=1)
    mod_id: Mapped[str] = mapped_column("MOD_ID", String(255), sort_order=1)
    mod_time: Mapped[datetime] = mapped_column("MOD_TIME", DateTime, sort_order=1)


class ParameterBase(EntityBase):
    """The columns the five parameter tables share (``Parameter``).

    Exactly one of the value columns is meant to be set, according to the type's
    ``VALUETYPE``; ``ERROR``, ``RANGEBOTTOM`` and ``RANGETOP`` go with a numeric value.
    """

    parameter_type_id: Mapped[int] = mapped_column(
        "PARAMETER_TYPE_ID", BigInteger, ForeignKey("PARAMETERTYPE.ID")
    )
    string_value: Mapped[str | None] = mapped_column("STRING_VALUE", String(4000))
    # @Column(precision=38, scale=19) only matters on Oracle (NUMBER(38,19)).
    numeric_value: Mapped[float | None] = mapped_column("NUMERIC_VALUE")
    datetime_value: Mapped[datetime | None] = mapped_column("DATETIME_VALUE")
    error: Mapped[float | None] = mapped_column("ERROR")
    range_bottom: Mapped[float | None] = mapped_column("RANGEBOTTOM")
    range_top: Mapped[float | None] = mapped_column("RANGETOP")


# --------------------------------------------------------------------------------------
# Facility and what a facility defines
# --------------------------------------------------------------------------------------


class Facility(EntityBase, IcatBase):
    """An experimental facility."""

    __tablename__ = "FACILITY"
    __table_args__ = (UniqueConstraint("NAME", name="UNQ_FACILITY_0"),)

    name: Mapped[str] = mapped_column("NAME")
    full_name: Mapped[str | None] = mapped_column("FULLNAME")
    description: Mapped[str | None] = mapped_column("DESCRIPTION", String(1023))
    url: Mapped[str | None] = mapped_column("URL")
    days_until_release: Mapped[int | None] = mapped_column("DAYSUNTILRELEASE", Integer)


class FacilityCycle(EntityBase, IcatBase):
    """An operating cycle of a facility."""

    __tablename__ = "FACILITYCYCLE"
    __table_args__ = (UniqueConstraint("FACILITY_ID", "NAME", name="UNQ_FACILITYCYCLE_0"),)

    facility_id: Mapped[int] = mapped_column("FACILITY_ID", BigInteger, ForeignKey("FACILITY.ID"))
    name: Mapped[str] = mapped_column("NAME")
    description: Mapped[str | None] = mapped_column("DESCRIPTION")
    start_date: Mapped[datetime | None] = mapped_column("STARTDATE")
    end_date: Mapped[datetime | None] = mapped_column("ENDDATE")


class Instrument(EntityBase, IcatBase):
    """An instrument (beamline) of a facility."""

    __tablename__ = "INSTRUMENT"
    __table_args__ = (UniqueConstraint("FACILITY_ID", "NAME", name="UNQ_INSTRUMENT_0"),)

    facility_id: Mapped[int] = mapped_column("FACILITY_ID", BigInteger, ForeignKey("FACILITY.ID"))
    name: Mapped[str] = mapped_column("NAME")
    full_name: Mapped[str | None] = mapped_column("FULLNAME")
    description: Mapped[str | None] = mapped_column("DESCRIPTION", String(4000))
    type: Mapped[str | None] = mapped_column("TYPE")
    url: Mapped[str | None] = mapped_column("URL")
    pid: Mapped[str | None] = mapped_column("PID")
    # Since 6.2: commissioning and decommissioning dates.
    start_date: Mapped[datetime | None] = mapped_column("STARTDATE")
    end_date: Mapped[datetime | None] = mapped_column("ENDDATE")


class InvestigationType(EntityBase, IcatBase):
    """A type of investigation, defined by a facility."""

    __tablename__ = "INVESTIGATIONTYPE"
    __table_args__ = (UniqueConstraint("NAME", "FACILITY_ID", name="UNQ_INVESTIGATIONTYPE_0"),)

    facility_id: Mapped[int] = mapped_column("FACILITY_ID", BigInteger, ForeignKey("FACILITY.ID"))
    name: Mapped[str] = mapped_column("NAME")
    description: Mapped[str | None] = mapped_column("DESCRIPTION")


class DatasetType(EntityBase, IcatBase):
    """A type of dataset, defined by a facility."""

    __tablename__ = "DATASETTYPE"
    __table_args__ = (UniqueConstraint("FACILITY_ID", "NAME", name="UNQ_DATASETTYPE_0"),)

    facility_id: Mapped[int] = mapped_column("FACILITY_ID", BigInteger, ForeignKey("FACILITY.ID"))
    name: Mapped[str] = mapped_column("NAME")
    description: Mapped[str | None] = mapped_column("DESCRIPTION")


class DatafileFormat(EntityBase, IcatBase):
    """A data file format, defined by a facility."""

    __tablename__ = "DATAFILEFORMAT"
    __table_args__ = (
        UniqueConstraint("FACILITY_ID", "NAME", "VERSION", name="UNQ_DATAFILEFORMAT_0"),
    )

    facility_id: Mapped[int] = mapped_column("FACILITY_ID", BigInteger, ForeignKey("FACILITY.ID"))
    name: Mapped[str] = mapped_column("NAME")
    version: Mapped[str] = mapped_column("VERSION")
    type: Mapped[str | None] = mapped_column("TYPE")
    description: Mapped[str | None] = mapped_column("DESCRIPTION")


class SampleType(EntityBase, IcatBase):
    """A type of sample, defined by a facility."""

    __tablename__ = "SAMPLETYPE"
    __table_args__ = (
        UniqueConstraint("FACILITY_ID", "NAME", "MOLECULARFORMULA", name="UNQ_SAMPLETYPE_0"),
    )

    facility_id: Mapped[int] = mapped_column("FACILITY_ID", BigInteger, ForeignKey("FACILITY.ID"))
    name: Mapped[str] = mapped_column("NAME")
    molecular_formula: Mapped[str] = mapped_column("MOLECULARFORMULA")
    safety_information: Mapped[str | None] = mapped_column("SAFETYINFORMATION", String(4000))


class ParameterType(EntityBase, IcatBase):
    """A kind of parameter: name, units, which value column it uses, where it applies."""

    __tablename__ = "PARAMETERTYPE"
    __table_args__ = (UniqueConstraint("FACILITY_ID", "NAME", "UNITS", name="UNQ_PARAMETERTYPE_0"),)

    facility_id: Mapped[int] = mapped_column("FACILITY_ID", BigInteger, ForeignKey("FACILITY.ID"))
    name: Mapped[str] = mapped_column("NAME")
    units: Mapped[str] = mapped_column("UNITS")
    units_full_name: Mapped[str | None] = mapped_column("UNITSFULLNAME")
    # A ParameterValueType ordinal.
    value_type: Mapped[int] = mapped_column("VALUETYPE", Integer)
    description: Mapped[str | None] = mapped_column("DESCRIPTION")
    pid: Mapped[str | None] = mapped_column("PID")
    minimum_numeric_value: Mapped[float | None] = mapped_column("MINIMUMNUMERICVALUE")
    maximum_numeric_value: Mapped[float | None] = mapped_column("MAXIMUMNUMERICVALUE")
    # Java primitives: always written by ICAT, but nullable in the DDL.
    enforced: Mapped[bool] = mapped_column("ENFORCED", nullable=True)
    verified: Mapped[bool] = mapped_column("VERIFIED", nullable=True)
    applicable_to_data_collection: Mapped[bool] = mapped_column(
        "APPLICABLETODATACOLLECTION", nullable=True
    )
    applicable_to_datafile: Mapped[bool] = mapped_column("APPLICABLETODATAFILE", nullable=True)
    applicable_to_dataset: Mapped[bool] = mapped_column("APPLICABLETODATASET", nullable=True)
    applicable_to_investigation: Mapped[bool] = mapped_column(
        "APPLICABLETOINVESTIGATION", nullable=True
    )
    applicable_to_sample: Mapped[bool] = mapped_column("APPLICABLETOSAMPLE", nullable=True)


class PermissibleStringValue(EntityBase, IcatBase):
    """A value allowed for a string parameter type whose constraints are enforced."""

    __tablename__ = "PERMISSIBLESTRINGVALUE"
    __table_args__ = (
        UniqueConstraint("VALUE", "PARAMETERTYPE_ID", name="UNQ_PERMISSIBLESTRINGVALUE_0"),
    )

    type_id: Mapped[int] = mapped_column(
        "PARAMETERTYPE_ID", BigInteger, ForeignKey("PARAMETERTYPE.ID")
    )
    value: Mapped[str] = mapped_column("VALUE")


class Technique(EntityBase, IcatBase):
    """An experimental technique (ideally a term of a vocabulary such as PaNET)."""

    __tablename__ = "TECHNIQUE"
    __table_args__ = (UniqueConstraint("NAME", name="UNQ_TECHNIQUE_0"),)

    name: Mapped[str] = mapped_column("NAME")
    pid: Mapped[str | None] = mapped_column("PID")
    description: Mapped[str | None] = mapped_column("DESCRIPTION")


# --------------------------------------------------------------------------------------
# Users and groups
# --------------------------------------------------------------------------------------


class User(EntityBase, IcatBase):
    """A user, named as the authenticator names them (``USER_``)."""

    __tablename__ = "USER_"
    __table_args__ = (UniqueConstraint("NAME", name="UNQ_USER__0"),)

    name: Mapped[str] = mapped_column("NAME")
    full_name: Mapped[str | None] = mapped_column("FULLNAME")
    given_name: Mapped[str | None] = mapped_column("GIVENNAME")
    family_name: Mapped[str | None] = mapped_column("FAMILYNAME")
    email: Mapped[str | None] = mapped_column("EMAIL")
    orcid_id: Mapped[str | None] = mapped_column("ORCIDID")
    affiliation: Mapped[str | None] = mapped_column("AFFILIATION")


class Grouping(EntityBase, IcatBase):
    """A named group of users, used by authorization rules."""

    __tablename__ = "GROUPING"
    __table_args__ = (UniqueConstraint("NAME", name="UNQ_GROUPING_0"),)

    name: Mapped[str] = mapped_column("NAME")


class UserGroup(EntityBase, IcatBase):
    """Membership of a user in a group."""

    __tablename__ = "USERGROUP"
    __table_args__ = (UniqueConstraint("USER_ID", "GROUP_ID", name="UNQ_USERGROUP_0"),)

    user_id: Mapped[int] = mapped_column("USER_ID", BigInteger, ForeignKey("USER_.ID"))
    grouping_id: Mapped[int] = mapped_column("GROUP_ID", BigInteger, ForeignKey("GROUPING.ID"))


class Rule(EntityBase, IcatBase):
    """An authorization rule (``RULE_``): a group may do CRUD on what a query selects."""

    __tablename__ = "RULE_"

    grouping_id: Mapped[int | None] = mapped_column(
        "GROUPING_ID", BigInteger, ForeignKey("GROUPING.ID")
    )
    what: Mapped[str] = mapped_column("WHAT", String(1024))
    crud_flags: Mapped[str] = mapped_column("CRUDFLAGS", String(4))
    bean: Mapped[str | None] = mapped_column("BEAN")
    attribute: Mapped[str | None] = mapped_column("ATTRIBUTE")
    crud_jpql: Mapped[str | None] = mapped_column("CRUDJPQL", String(1024))
    search_jpql: Mapped[str | None] = mapped_column("SEARCHJPQL", String(1024))
    include_jpql: Mapped[str | None] = mapped_column("INCLUDEJPQL", String(1024))
    # Java primitives derived from CRUDFLAGS and WHAT; nullable in the DDL.
    c: Mapped[bool] = mapped_column("C", nullable=True)
    r: Mapped[bool] = mapped_column("R", nullable=True)
    u: Mapped[bool] = mapped_column("U", nullable=True)
    d: Mapped[bool] = mapped_column("D", nullable=True)
    restricted: Mapped[bool] = mapped_column("RESTRICTED", nullable=True)


class PublicStep(EntityBase, IcatBase):
    """A relationship anyone may follow in an INCLUDE (origin entity and field)."""

    __tablename__ = "PUBLICSTEP"
    __table_args__ = (UniqueConstraint("ORIGIN", "FIELD", name="UNQ_PUBLICSTEP_0"),)

    origin: Mapped[str] = mapped_column("ORIGIN", String(32))
    field: Mapped[str] = mapped_column("FIELD", String(32))


# --------------------------------------------------------------------------------------
# Investigations (sessions) and what hangs off them
# --------------------------------------------------------------------------------------


class Investigation(EntityBase, IcatBase):
    """An investigation: an experiment, or a visit (session) at a facility."""

    __tablename__ = "INVESTIGATION"
    __table_args__ = (
        UniqueConstraint("FACILITY_ID", "NAME", "VISIT_ID", name="UNQ_INVESTIGATION_0"),
    )

    facility_id: Mapped[int] = mapped_column("FACILITY_ID", BigInteger, ForeignKey("FACILITY.ID"))
    type_id: Mapped[int] = mapped_column("TYPE_ID", BigInteger, ForeignKey("INVESTIGATIONTYPE.ID"))
    name: Mapped[str] = mapped_column("NAME")
    visit_id: Mapped[str] = mapped_column("VISIT_ID")
    title: Mapped[str] = mapped_column("TITLE")
    summary: Mapped[str | None] = mapped_column("SUMMARY", String(4000))
    doi: Mapped[str | None] = mapped_column("DOI")
    start_date: Mapped[datetime | None] = mapped_column("STARTDATE")
    end_date: Mapped[datetime | None] = mapped_column("ENDDATE")
    release_date: Mapped[datetime | None] = mapped_column("RELEASEDATE")
    # Since 5.0: totals over the datafiles, maintained by ICAT or by triggers.
    file_size: Mapped[int | None] = mapped_column("FILESIZE", BigInteger)
    file_count: Mapped[int | None] = mapped_column("FILECOUNT", BigInteger)


class InvestigationUser(EntityBase, IcatBase):
    """A user's role (PI, co-investigator, ...) in an investigation."""

    __tablename__ = "INVESTIGATIONUSER"
    __table_args__ = (
        UniqueConstraint("USER_ID", "INVESTIGATION_ID", "ROLE", name="UNQ_INVESTIGATIONUSER_0"),
    )

    user_id: Mapped[int] = mapped_column("USER_ID", BigInteger, ForeignKey("USER_.ID"))
    investigation_id: Mapped[int] = mapped_column(
        "INVESTIGATION_ID", BigInteger, ForeignKey("INVESTIGATION.ID")
    )
    role: Mapped[str] = mapped_column("ROLE")


class InvestigationGroup(EntityBase, IcatBase):
    """A group's role in an investigation (for authorization rules)."""

    __tablename__ = "INVESTIGATIONGROUP"
    __table_args__ = (
        UniqueConstraint("GROUP_ID", "INVESTIGATION_ID", "ROLE", name="UNQ_INVESTIGATIONGROUP_0"),
    )

    grouping_id: Mapped[int] = mapped_column("GROUP_ID", BigInteger, ForeignKey("GROUPING.ID"))
    investigation_id: Mapped[int] = mapped_column(
        "INVESTIGATION_ID", BigInteger, ForeignKey("INVESTIGATION.ID")
    )
    role: Mapped[str] = mapped_column("ROLE")


class InvestigationInstrument(EntityBase, IcatBase):
    """An instrument used by an investigation."""

    __tablename__ = "INVESTIGATIONINSTRUMENT"
    __table_args__ = (
        UniqueConstraint("INVESTIGATION_ID", "INSTRUMENT_ID", name="UNQ_INVESTIGATIONINSTRUMENT_0"),
    )

    investigation_id: Mapped[int] = mapped_column(
        "INVESTIGATION_ID", BigInteger, ForeignKey("INVESTIGATION.ID")
    )
    instrument_id: Mapped[int] = mapped_column(
        "INSTRUMENT_ID", BigInteger, ForeignKey("INSTRUMENT.ID")
    )


class InstrumentScientist(EntityBase, IcatBase):
    """A user who is a scientist of an instrument (beamline staff)."""

    __tablename__ = "INSTRUMENTSCIENTIST"
    __table_args__ = (
        UniqueConstraint("USER_ID", "INSTRUMENT_ID", name="UNQ_INSTRUMENTSCIENTIST_0"),
    )

    user_id: Mapped[int] = mapped_column("USER_ID", BigInteger, ForeignKey("USER_.ID"))
    instrument_id: Mapped[int] = mapped_column(
        "INSTRUMENT_ID", BigInteger, ForeignKey("INSTRUMENT.ID")
    )


class InvestigationFacilityCycle(EntityBase, IcatBase):
    """An investigation's place in a facility cycle (since 5.0)."""

    __tablename__ = "INVESTIGATIONFACILITYCYCLE"
    __table_args__ = (
        UniqueConstraint(
            "FACILITYCYCLE_ID", "INVESTIGATION_ID", name="UNQ_INVESTIGATIONFACILITYCYCLE_0"
        ),
    )

    facility_cycle_id: Mapped[int] = mapped_column(
        "FACILITYCYCLE_ID", BigInteger, ForeignKey("FACILITYCYCLE.ID")
    )
    investigation_id: Mapped[int] = mapped_column(
        "INVESTIGATION_ID", BigInteger, ForeignKey("INVESTIGATION.ID")
    )


class Keyword(EntityBase, IcatBase):
    """A keyword of an investigation."""

    __tablename__ = "KEYWORD"
    __table_args__ = (UniqueConstraint("NAME", "INVESTIGATION_ID", name="UNQ_KEYWORD_0"),)

    investigation_id: Mapped[int] = mapped_column(
        "INVESTIGATION_ID", BigInteger, ForeignKey("INVESTIGATION.ID")
    )
    name: Mapped[str] = mapped_column("NAME")


class Publication(EntityBase, IcatBase):
    """A publication arising from an investigation."""

    __tablename__ = "PUBLICATION"

    investigation_id: Mapped[int] = mapped_column(
        "INVESTIGATION_ID", BigInteger, ForeignKey("INVESTIGATION.ID")
    )
    full_reference: Mapped[str] = mapped_column("FULLREFERENCE", String(511))
    doi: Mapped[str | None] = mapped_column("DOI")
    repository: Mapped[str | None] = mapped_column("REPOSITORY")
    repository_id: Mapped[str | None] = mapped_column("REPOSITORYID")
    url: Mapped[str | None] = mapped_column("URL")


class Shift(EntityBase, IcatBase):
    """A period of beam time of an investigation, optionally on one instrument."""

    __tablename__ = "SHIFT"
    __table_args__ = (
        UniqueConstraint("INVESTIGATION_ID", "STARTDATE", "ENDDATE", name="UNQ_SHIFT_0"),
    )

    investigation_id: Mapped[int] = mapped_column(
        "INVESTIGATION_ID", BigInteger, ForeignKey("INVESTIGATION.ID")
    )
    instrument_id: Mapped[int | None] = mapped_column(
        "INSTRUMENT_ID", BigInteger, ForeignKey("INSTRUMENT.ID")
    )
    start_date: Mapped[datetime] = mapped_column("STARTDATE")
    end_date: Mapped[datetime] = mapped_column("ENDDATE")
    # icat.server quotes this name (reserved in Oracle); SQLAlchemy quotes it too.
    comment: Mapped[str | None] = mapped_column("COMMENT")


class Study(EntityBase, IcatBase):
    """A study grouping investigations."""

    __tablename__ = "STUDY"

    user_id: Mapped[int | None] = mapped_column("USER_ID", BigInteger, ForeignKey("USER_.ID"))
    name: Mapped[str] = mapped_column("NAME")
    description: Mapped[str | None] = mapped_column("DESCRIPTION", String(4000))
    # A StudyStatus ordinal.
    status: Mapped[int | None] = mapped_column("STATUS", Integer)
    pid: Mapped[str | None] = mapped_column("PID")
    start_date: Mapped[datetime | None] = mapped_column("STARTDATE")
    end_date: Mapped[datetime | None] = mapped_column("ENDDATE")


class StudyInvestigation(EntityBase, IcatBase):
    """An investigation belonging to a study."""

    __tablename__ = "STUDYINVESTIGATION"
    __table_args__ = (
        UniqueConstraint("STUDY_ID", "INVESTIGATION_ID", name="UNQ_STUDYINVESTIGATION_0"),
    )

    study_id: Mapped[int] = mapped_column("STUDY_ID", BigInteger, ForeignKey("STUDY.ID"))
    investigation_id: Mapped[int] = mapped_column(
        "INVESTIGATION_ID", BigInteger, ForeignKey("INVESTIGATION.ID")
    )


class Sample(EntityBase, IcatBase):
    """A sample used in an investigation."""

    __tablename__ = "SAMPLE"
    __table_args__ = (UniqueConstraint("INVESTIGATION_ID", "NAME", name="UNQ_SAMPLE_0"),)

    investigation_id: Mapped[int] = mapped_column(
        "INVESTIGATION_ID", BigInteger, ForeignKey("INVESTIGATION.ID")
    )
    type_id: Mapped[int | None] = mapped_column(
        "SAMPLETYPE_ID", BigInteger, ForeignKey("SAMPLETYPE.ID")
    )
    name: Mapped[str] = mapped_column("NAME")
    pid: Mapped[str | None] = mapped_column("PID")


# --------------------------------------------------------------------------------------
# Datasets and datafiles
# --------------------------------------------------------------------------------------


class Dataset(EntityBase, IcatBase):
    """A dataset: a collection of datafiles within an investigation."""

    __tablename__ = "DATASET"
    __table_args__ = (UniqueConstraint("INVESTIGATION_ID", "NAME", name="UNQ_DATASET_0"),)

    investigation_id: Mapped[int] = mapped_column(
        "INVESTIGATION_ID", BigInteger, ForeignKey("INVESTIGATION.ID")
    )
    type_id: Mapped[int] = mapped_column("TYPE_ID", BigInteger, ForeignKey("DATASETTYPE.ID"))
    sample_id: Mapped[int | None] = mapped_column("SAMPLE_ID", BigInteger, ForeignKey("SAMPLE.ID"))
    name: Mapped[str] = mapped_column("NAME")
    description: Mapped[str | None] = mapped_column("DESCRIPTION")
    doi: Mapped[str | None] = mapped_column("DOI")
    # VARCHAR(511) since 6.2 (VARCHAR(255) before).
    location: Mapped[str | None] = mapped_column("LOCATION", String(511))
    complete: Mapped[bool] = mapped_column("COMPLETE")
    start_date: Mapped[datetime | None] = mapped_column("STARTDATE")
    # Named explicitly by icat.server (unlike INVESTIGATION.ENDDATE).
    end_date: Mapped[datetime | None] = mapped_column("END_DATE")
    # Since 5.0: totals over the datafiles, maintained by ICAT or by triggers.
    file_size: Mapped[int | None] = mapped_column("FILESIZE", BigInteger)
    file_count: Mapped[int | None] = mapped_column("FILECOUNT", BigInteger)


class DatasetTechnique(EntityBase, IcatBase):
    """A technique used to make a dataset (since 5.0)."""

    __tablename__ = "DATASETTECHNIQUE"
    __table_args__ = (
        UniqueConstraint("DATASET_ID", "TECHNIQUE_ID", name="UNQ_DATASETTECHNIQUE_0"),
    )

    dataset_id: Mapped[int] = mapped_column("DATASET_ID", BigInteger, ForeignKey("DATASET.ID"))
    technique_id: Mapped[int] = mapped_column(
        "TECHNIQUE_ID", BigInteger, ForeignKey("TECHNIQUE.ID")
    )


class DatasetInstrument(EntityBase, IcatBase):
    """An instrument a dataset was collected on (since 5.0)."""

    __tablename__ = "DATASETINSTRUMENT"
    __table_args__ = (
        UniqueConstraint("DATASET_ID", "INSTRUMENT_ID", name="UNQ_DATASETINSTRUMENT_0"),
    )

    dataset_id: Mapped[int] = mapped_column("DATASET_ID", BigInteger, ForeignKey("DATASET.ID"))
    instrument_id: Mapped[int] = mapped_column(
        "INSTRUMENT_ID", BigInteger, ForeignKey("INSTRUMENT.ID")
    )


class Datafile(EntityBase, IcatBase):
    """A data file within a dataset."""

    __tablename__ = "DATAFILE"
    __table_args__ = (
        UniqueConstraint("DATASET_ID", "NAME", name="UNQ_DATAFILE_0"),
        # Declared by icat.server (@Index(columnList = "location")), named by EclipseLink.
        Index("INDEX_DATAFILE_location", "LOCATION"),
    )

    dataset_id: Mapped[int] = mapped_column("DATASET_ID", BigInteger, ForeignKey("DATASET.ID"))
    datafile_format_id: Mapped[int | None] = mapped_column(
        "DATAFILEFORMAT_ID", BigInteger, ForeignKey("DATAFILEFORMAT.ID")
    )
    name: Mapped[str] = mapped_column("NAME")
    description: Mapped[str | None] = mapped_column("DESCRIPTION")
    doi: Mapped[str | None] = mapped_column("DOI")
    # VARCHAR(511) since 6.2 (VARCHAR(255) before).
    location: Mapped[str | None] = mapped_column("LOCATION", String(511))
    file_size: Mapped[int | None] = mapped_column("FILESIZE", BigInteger)
    checksum: Mapped[str | None] = mapped_column("CHECKSUM")
    datafile_create_time: Mapped[datetime | None] = mapped_column("DATAFILECREATETIME")
    datafile_mod_time: Mapped[datetime | None] = mapped_column("DATAFILEMODTIME")


class RelatedDatafile(EntityBase, IcatBase):
    """A typed relation between two datafiles (e.g. "COPY")."""

    __tablename__ = "RELATEDDATAFILE"
    __table_args__ = (
        UniqueConstraint("SOURCE_DATAFILE_ID", "DEST_DATAFILE_ID", name="UNQ_RELATEDDATAFILE_0"),
    )

    source_datafile_id: Mapped[int] = mapped_column(
        "SOURCE_DATAFILE_ID", BigInteger, ForeignKey("DATAFILE.ID")
    )
    dest_datafile_id: Mapped[int] = mapped_column(
        "DEST_DATAFILE_ID", BigInteger, ForeignKey("DATAFILE.ID")
    )
    relation: Mapped[str] = mapped_column("RELATION")


# --------------------------------------------------------------------------------------
# Parameters (all five share ParameterBase)
# --------------------------------------------------------------------------------------


class InvestigationParameter(ParameterBase, IcatBase):
    """A parameter of an investigation."""

    __tablename__ = "INVESTIGATIONPARAMETER"
    __table_args__ = (
        UniqueConstraint(
            "INVESTIGATION_ID", "PARAMETER_TYPE_ID", name="UNQ_INVESTIGATIONPARAMETER_0"
        ),
    )

    investigation_id: Mapped[int] = mapped_column(
        "INVESTIGATION_ID", BigInteger, ForeignKey("INVESTIGATION.ID")
    )


class DatasetParameter(ParameterBase, IcatBase):
    """A parameter of a dataset."""

    __tablename__ = "DATASETPARAMETER"
    __table_args__ = (
        UniqueConstraint("DATASET_ID", "PARAMETER_TYPE_ID", name="UNQ_DATASETPARAMETER_0"),
    )

    dataset_id: Mapped[int] = mapped_column("DATASET_ID", BigInteger, ForeignKey("DATASET.ID"))


class DatafileParameter(ParameterBase, IcatBase):
    """A parameter of a datafile."""

    __tablename__ = "DATAFILEPARAMETER"
    __table_args__ = (
        UniqueConstraint("DATAFILE_ID", "PARAMETER_TYPE_ID", name="UNQ_DATAFILEPARAMETER_0"),
    )

    datafile_id: Mapped[int] = mapped_column("DATAFILE_ID", BigInteger, ForeignKey("DATAFILE.ID"))


class SampleParameter(ParameterBase, IcatBase):
    """A parameter of a sample."""

    __tablename__ = "SAMPLEPARAMETER"
    __table_args__ = (
        UniqueConstraint("SAMPLE_ID", "PARAMETER_TYPE_ID", name="UNQ_SAMPLEPARAMETER_0"),
    )

    sample_id: Mapped[int] = mapped_column("SAMPLE_ID", BigInteger, ForeignKey("SAMPLE.ID"))


class DataCollectionParameter(ParameterBase, IcatBase):
    """A parameter of a data collection."""

    __tablename__ = "DATACOLLECTIONPARAMETER"
    __table_args__ = (
        UniqueConstraint(
            "DATACOLLECTION_ID", "PARAMETER_TYPE_ID", name="UNQ_DATACOLLECTIONPARAMETER_0"
        ),
    )

    data_collection_id: Mapped[int] = mapped_column(
        "DATACOLLECTION_ID", BigInteger, ForeignKey("DATACOLLECTION.ID")
    )


# --------------------------------------------------------------------------------------
# Data collections and data publications
# --------------------------------------------------------------------------------------


class DataCollection(EntityBase, IcatBase):
    """A set of investigations, datasets and datafiles, possibly across facilities."""

    __tablename__ = "DATACOLLECTION"

    doi: Mapped[str | None] = mapped_column("DOI")


class DataCollectionInvestigation(EntityBase, IcatBase):
    """An investigation in a data collection (since 5.0)."""

    __tablename__ = "DATACOLLECTIONINVESTIGATION"
    __table_args__ = (
        UniqueConstraint(
            "DATACOLLECTION_ID", "INVESTIGATION_ID", name="UNQ_DATACOLLECTIONINVESTIGATION_0"
        ),
    )

    data_collection_id: Mapped[int] = mapped_column(
        "DATACOLLECTION_ID", BigInteger, ForeignKey("DATACOLLECTION.ID")
    )
    investigation_id: Mapped[int] = mapped_column(
        "INVESTIGATION_ID", BigInteger, ForeignKey("INVESTIGATION.ID")
    )


class DataCollectionDataset(EntityBase, IcatBase):
    """A dataset in a data collection."""

    __tablename__ = "DATACOLLECTIONDATASET"
    __table_args__ = (
        UniqueConstraint("DATACOLLECTION_ID", "DATASET_ID", name="UNQ_DATACOLLECTIONDATASET_0"),
    )

    data_collection_id: Mapped[int] = mapped_column(
        "DATACOLLECTION_ID", BigInteger, ForeignKey("DATACOLLECTION.ID")
    )
    dataset_id: Mapped[int] = mapped_column("DATASET_ID", BigInteger, ForeignKey("DATASET.ID"))


class DataCollectionDatafile(EntityBase, IcatBase):
    """A datafile in a data collection."""

    __tablename__ = "DATACOLLECTIONDATAFILE"
    __table_args__ = (
        UniqueConstraint("DATACOLLECTION_ID", "DATAFILE_ID", name="UNQ_DATACOLLECTIONDATAFILE_0"),
    )

    data_collection_id: Mapped[int] = mapped_column(
        "DATACOLLECTION_ID", BigInteger, ForeignKey("DATACOLLECTION.ID")
    )
    datafile_id: Mapped[int] = mapped_column("DATAFILE_ID", BigInteger, ForeignKey("DATAFILE.ID"))


class DataPublicationType(EntityBase, IcatBase):
    """A type of data publication, defined by a facility (since 5.0)."""

    __tablename__ = "DATAPUBLICATIONTYPE"
    __table_args__ = (UniqueConstraint("FACILITY_ID", "NAME", name="UNQ_DATAPUBLICATIONTYPE_0"),)

    facility_id: Mapped[int] = mapped_column("FACILITY_ID", BigInteger, ForeignKey("FACILITY.ID"))
    name: Mapped[str] = mapped_column("NAME")
    description: Mapped[str | None] = mapped_column("DESCRIPTION")


class DataPublication(EntityBase, IcatBase):
    """A curated data publication (a DOI landing page) of a data collection (since 5.0)."""

    __tablename__ = "DATAPUBLICATION"
    __table_args__ = (UniqueConstraint("FACILITY_ID", "PID", name="UNQ_DATAPUBLICATION_0"),)

    facility_id: Mapped[int] = mapped_column("FACILITY_ID", BigInteger, ForeignKey("FACILITY.ID"))
    # The Java field is ``content``.
    data_collection_id: Mapped[int] = mapped_column(
        "DATACOLLECTION_ID", BigInteger, ForeignKey("DATACOLLECTION.ID")
    )
    type_id: Mapped[int | None] = mapped_column(
        "DATAPUBLICATIONTYPE_ID", BigInteger, ForeignKey("DATAPUBLICATIONTYPE.ID")
    )
    pid: Mapped[str] = mapped_column("PID")
    title: Mapped[str] = mapped_column("TITLE")
    publication_date: Mapped[datetime | None] = mapped_column("PUBLICATIONDATE")
    # Keywords as one string (see also SUBJECT, since 6.2).
    subject: Mapped[str | None] = mapped_column("SUBJECT", String(1023))
    description: Mapped[str | None] = mapped_column("DESCRIPTION", String(4000))
    # Since 6.2.
    internal_id: Mapped[str | None] = mapped_column("INTERNALID")


class DataPublicationUser(EntityBase, IcatBase):
    """A creator of or contributor to a data publication (since 5.0)."""

    __tablename__ = "DATAPUBLICATIONUSER"
    __table_args__ = (
        UniqueConstraint(
            "DATAPUBLICATION_ID", "USER_ID", "CONTRIBUTORTYPE", name="UNQ_DATAPUBLICATIONUSER_0"
        ),
    )

    publication_id: Mapped[int] = mapped_column(
        "DATAPUBLICATION_ID", BigInteger, ForeignKey("DATAPUBLICATION.ID")
    )
    user_id: Mapped[int] = mapped_column("USER_ID", BigInteger, ForeignKey("USER_.ID"))
    # DataCite contributorType, or "Creator".
    contributor_type: Mapped[str] = mapped_column("CONTRIBUTORTYPE")
    order_key: Mapped[str | None] = mapped_column("ORDERKEY")
    full_name: Mapped[str | None] = mapped_column("FULLNAME")
    given_name: Mapped[str | None] = mapped_column("GIVENNAME")
    family_name: Mapped[str | None] = mapped_column("FAMILYNAME")
    email: Mapped[str | None] = mapped_column("EMAIL")


class Affiliation(EntityBase, IcatBase):
    """An affiliation of a data publication's contributor (since 5.0)."""

    __tablename__ = "AFFILIATION"
    __table_args__ = (UniqueConstraint("DATAPUBLICATIONUSER_ID", "NAME", name="UNQ_AFFILIATION_0"),)

    # The Java field is ``user``, a DataPublicationUser (not a User).
    user_id: Mapped[int] = mapped_column(
        "DATAPUBLICATIONUSER_ID", BigInteger, ForeignKey("DATAPUBLICATIONUSER.ID")
    )
    name: Mapped[str] = mapped_column("NAME")
    full_reference: Mapped[str | None] = mapped_column("FULLREFERENCE", String(1023))
    pid: Mapped[str | None] = mapped_column("PID")


class RelatedItem(EntityBase, IcatBase):
    """An external resource related to a data publication (since 5.0)."""

    __tablename__ = "RELATEDITEM"
    __table_args__ = (
        UniqueConstraint("DATAPUBLICATION_ID", "IDENTIFIER", name="UNQ_RELATEDITEM_0"),
    )

    publication_id: Mapped[int] = mapped_column(
        "DATAPUBLICATION_ID", BigInteger, ForeignKey("DATAPUBLICATION.ID")
    )
    identifier: Mapped[str] = mapped_column("IDENTIFIER")
    # DataCite relationType.
    relation_type: Mapped[str] = mapped_column("RELATIONTYPE")
    full_reference: Mapped[str | None] = mapped_column("FULLREFERENCE", String(1023))
    # DataCite resourceTypeGeneral.
    related_item_type: Mapped[str | None] = mapped_column("RELATEDITEMTYPE")
    title: Mapped[str | None] = mapped_column("TITLE")


class DataPublicationDate(EntityBase, IcatBase):
    """A dated event of a data publication (since 5.0)."""

    __tablename__ = "DATAPUBLICATIONDATE"
    __table_args__ = (
        UniqueConstraint("DATAPUBLICATION_ID", "DATETYPE", name="UNQ_DATAPUBLICATIONDATE_0"),
    )

    publication_id: Mapped[int] = mapped_column(
        "DATAPUBLICATION_ID", BigInteger, ForeignKey("DATAPUBLICATION.ID")
    )
    # DataCite dateType.
    date_type: Mapped[str] = mapped_column("DATETYPE")
    # A string, not a timestamp: ISO 8601, possibly a range ("2020-01-01/2020-06-30").
    date: Mapped[str] = mapped_column("DATE_")


class Subject(EntityBase, IcatBase):
    """A subject, keyword or classification code of a data publication (since 6.2)."""

    __tablename__ = "SUBJECT"
    __table_args__ = (UniqueConstraint("DATAPUBLICATION_ID", "NAME", name="UNQ_SUBJECT_0"),)

    data_publication_id: Mapped[int] = mapped_column(
        "DATAPUBLICATION_ID", BigInteger, ForeignKey("DATAPUBLICATION.ID")
    )
    name: Mapped[str] = mapped_column("NAME")
    pid: Mapped[str | None] = mapped_column("PID")
    subject_scheme: Mapped[str | None] = mapped_column("SUBJECTSCHEME")
    scheme_uri: Mapped[str | None] = mapped_column("SCHEMEURI")
    value_uri: Mapped[str | None] = mapped_column("VALUEURI")
    classification_code: Mapped[str | None] = mapped_column("CLASSIFICATIONCODE")


class FundingReference(EntityBase, IcatBase):
    """A grant: funder and award (since 5.0)."""

    __tablename__ = "FUNDINGREFERENCE"
    __table_args__ = (UniqueConstraint("FUNDERNAME", "AWARDNUMBER", name="UNQ_FUNDINGREFERENCE_0"),)

    funder_name: Mapped[str] = mapped_column("FUNDERNAME")
    funder_identifier: Mapped[str | None] = mapped_column("FUNDERIDENTIFIER")
    award_number: Mapped[str] = mapped_column("AWARDNUMBER")
    award_title: Mapped[str | None] = mapped_column("AWARDTITLE")
    # Since 6.2.
    acknowledgement: Mapped[str | None] = mapped_column("ACKNOWLEDGEMENT", String(1023))


class InvestigationFunding(EntityBase, IcatBase):
    """A grant that funded an investigation (since 5.0)."""

    __tablename__ = "INVESTIGATIONFUNDING"
    __table_args__ = (
        UniqueConstraint("INVESTIGATION_ID", "FUNDING_ID", name="UNQ_INVESTIGATIONFUNDING_0"),
    )

    investigation_id: Mapped[int] = mapped_column(
        "INVESTIGATION_ID", BigInteger, ForeignKey("INVESTIGATION.ID")
    )
    funding_id: Mapped[int] = mapped_column(
        "FUNDING_ID", BigInteger, ForeignKey("FUNDINGREFERENCE.ID")
    )


class DataPublicationFunding(EntityBase, IcatBase):
    """A grant acknowledged by a data publication (since 5.0)."""

    __tablename__ = "DATAPUBLICATIONFUNDING"
    __table_args__ = (
        UniqueConstraint("DATAPUBLICATION_ID", "FUNDING_ID", name="UNQ_DATAPUBLICATIONFUNDING_0"),
    )

    data_publication_id: Mapped[int] = mapped_column(
        "DATAPUBLICATION_ID", BigInteger, ForeignKey("DATAPUBLICATION.ID")
    )
    funding_id: Mapped[int] = mapped_column(
        "FUNDING_ID", BigInteger, ForeignKey("FUNDINGREFERENCE.ID")
    )


# --------------------------------------------------------------------------------------
# Applications and jobs (provenance; rarely used)
# --------------------------------------------------------------------------------------


class Application(EntityBase, IcatBase):
    """A piece of software of a facility."""

    __tablename__ = "APPLICATION"
    __table_args__ = (UniqueConstraint("FACILITY_ID", "NAME", "VERSION", name="UNQ_APPLICATION_0"),)

    facility_id: Mapped[int] = mapped_column("FACILITY_ID", BigInteger, ForeignKey("FACILITY.ID"))
    name: Mapped[str] = mapped_column("NAME")
    version: Mapped[str] = mapped_column("VERSION")


class Job(EntityBase, IcatBase):
    """A run of an application, from an input to an output data collection."""

    __tablename__ = "JOB"

    application_id: Mapped[int] = mapped_column(
        "APPLICATION_ID", BigInteger, ForeignKey("APPLICATION.ID")
    )
    arguments: Mapped[str | None] = mapped_column("ARGUMENTS")
    input_data_collection_id: Mapped[int | None] = mapped_column(
        "INPUTDATACOLLECTION_ID", BigInteger, ForeignKey("DATACOLLECTION.ID")
    )
    output_data_collection_id: Mapped[int | None] = mapped_column(
        "OUTPUTDATACOLLECTION_ID", BigInteger, ForeignKey("DATACOLLECTION.ID")
    )


# --------------------------------------------------------------------------------------
# EclipseLink's ID table
# --------------------------------------------------------------------------------------


class Sequence(IcatBase):
    """EclipseLink's table generator (``SEQUENCE``): one row per sequence name.

    Not an ICAT entity and without the audit columns. icat.server up to 4.4 took IDs from
    here (row ``SEQ_GEN``); since 4.5 it uses native sequencing instead (see the module
    docstring), so a database created by ICAT 5 or 6 does not have this table.
    """

    __tablename__ = "SEQUENCE"

    seq_name: Mapped[str] = mapped_column("SEQ_NAME", String(50), primary_key=True)
    seq_count: Mapped[Decimal | None] = mapped_column("SEQ_COUNT", Numeric(38, 0))
