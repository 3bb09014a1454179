"""An ICAT database as icat.server's EclipseLink builds it, in plain DDL (never our models).

EclipseLink (``create-or-extend-tables``) writes unquoted names, so PostgreSQL folds them
to lower case (``investigation``, ``releasedate``) while MariaDB keeps the upper-case table
names; only SHIFT's ``"COMMENT"`` is quoted and keeps its case. Ids: ``ID BIGINT
AUTO_INCREMENT`` on MariaDB (ICAT 4.5 and later), the sequence ``SEQ_GEN_SEQUENCE``
(``INCREMENT BY 50 START WITH 50``) on PostgreSQL. Constraints are EclipseLink's:
``UNQ_<TABLE>_0`` and ``FK_<TABLE>_<COLUMN>``. The tables are every entity table of ICAT
6.2 (icat.server's ``core/entity/*.java``: columns, lengths, nullability, unique
constraints), all but SESSION_ (icat.server's login sessions, no audit columns).

:class:`IcatServer` inserts rows as icat.server does: plain SQL with unquoted upper-case
names, ids from a preallocated block of SEQ_GEN_SEQUENCE (PostgreSQL) or AUTO_INCREMENT.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

# name: (columns "NAME TYPE[!]" with ! for NOT NULL, unique columns, {column: table})
# Types: Sn VARCHAR(n), T timestamp, I integer, L bigint, D double, Z boolean.
TABLES: dict[str, tuple[str, str, dict[str, str]]] = {
    "FACILITY": (
        "NAME S255!, FULLNAME S255, DESCRIPTION S1023, URL S255, DAYSUNTILRELEASE I",
        "NAME",
        {},
    ),
    "INSTRUMENT": (
        "FACILITY_ID L!, NAME S255!, FULLNAME S255, DESCRIPTION S4000, TYPE S255, "
        "URL S255, PID S255, STARTDATE T, ENDDATE T",
        "FACILITY_ID, NAME",
        {"FACILITY_ID": "FACILITY"},
    ),
    "INVESTIGATIONTYPE": (
        "FACILITY_ID L!, NAME S255!, DESCRIPTION S255",
        "NAME, FACILITY_ID",
        {"FACILITY_ID": "FACILITY"},
    ),
    "DATASETTYPE": (
        "FACILITY_ID L!, NAME S255!, DESCRIPTION S255",
        "FACILITY_ID, NAME",
        {"FACILITY_ID": "FACILITY"},
    ),
    "DATAFILEFORMAT": (
        "FACILITY_ID L!, NAME S255!, VERSION S255!, TYPE S255, DESCRIPTION S255",
        "FACILITY_ID, NAME, VERSION",
        {"FACILITY_ID": "FACILITY"},
    ),
    "SAMPLETYPE": (
        "FACILITY_ID L!, NAME S255!, MOLECULARFORMULA S255!, SAFETYINFORMATION S4000",
        "FACILITY_ID, NAME, MOLECULARFORMULA",
        {"FACILITY_ID": "FACILITY"},
    ),
    "PARAMETERTYPE": (
        "FACILITY_ID L!, NAME S255!, UNITS S255!, UNITSFULLNAME S255, VALUETYPE I!, "
        "DESCRIPTION S255, PID S255, MINIMUMNUMERICVALUE D, MAXIMUMNUMERICVALUE D, "
        "ENFORCED Z, VERIFIED Z, APPLICABLETODATACOLLECTION Z, "
        "APPLICABLETODATAFILE Z, APPLICABLETODATASET Z, "
        "APPLICABLETOINVESTIGATION Z, APPLICABLETOSAMPLE Z",
        "FACILITY_ID, NAME, UNITS",
        {"FACILITY_ID": "FACILITY"},
    ),
    "TECHNIQUE": ("NAME S255!, PID S255, DESCRIPTION S255", "NAME", {}),
    "USER_": (
        "NAME S255!, FULLNAME S255, GIVENNAME S255, FAMILYNAME S255, EMAIL S255, "
        "ORCIDID S255, AFFILIATION S255",
        "NAME",
        {},
    ),
    "INVESTIGATION": (
        "FACILITY_ID L!, TYPE_ID L!, NAME S255!, VISIT_ID S255!, TITLE S255!, "
        "SUMMARY S4000, DOI S255, STARTDATE T, ENDDATE T, RELEASEDATE T, "
        "FILESIZE L, FILECOUNT L",
        "FACILITY_ID, NAME, VISIT_ID",
        {"FACILITY_ID": "FACILITY", "TYPE_ID": "INVESTIGATIONTYPE"},
    ),
    "INVESTIGATIONUSER": (
        "USER_ID L!, INVESTIGATION_ID L!, ROLE S255!",
        "USER_ID, INVESTIGATION_ID, ROLE",
        {"USER_ID": "USER_", "INVESTIGATION_ID": "INVESTIGATION"},
    ),
    "INVESTIGATIONINSTRUMENT": (
        "INVESTIGATION_ID L!, INSTRUMENT_ID L!",
        "INVESTIGATION_ID, INSTRUMENT_ID",
        {"INVESTIGATION_ID": "INVESTIGATION", "INSTRUMENT_ID": "INSTRUMENT"},
    ),
    "INSTRUMENTSCIENTIST": (
        "USER_ID L!, INSTRUMENT_ID L!",
        "USER_ID, INSTRUMENT_ID",
        {"USER_ID": "USER_", "INSTRUMENT_ID": "INSTRUMENT"},
    ),
    "KEYWORD": (
        "INVESTIGATION_ID L!, NAME S255!",
        "NAME, INVESTIGATION_ID",
        {"INVESTIGATION_ID": "INVESTIGATION"},
    ),
    "SHIFT": (
        'INVESTIGATION_ID L!, INSTRUMENT_ID L, STARTDATE T!, ENDDATE T!, "COMMENT" S255',
        "INVESTIGATION_ID, STARTDATE, ENDDATE",
        {"INVESTIGATION_ID": "INVESTIGATION", "INSTRUMENT_ID": "INSTRUMENT"},
    ),
    "SAMPLE": (
        "INVESTIGATION_ID L!, SAMPLETYPE_ID L, NAME S255!, PID S255",
        "INVESTIGATION_ID, NAME",
        {"INVESTIGATION_ID": "INVESTIGATION", "SAMPLETYPE_ID": "SAMPLETYPE"},
    ),
    "DATASET": (
        "INVESTIGATION_ID L!, TYPE_ID L!, SAMPLE_ID L, NAME S255!, DESCRIPTION S255, "
        "DOI S255, LOCATION S511, COMPLETE Z!, STARTDATE T, END_DATE T, FILESIZE L, "
        "FILECOUNT L",
        "INVESTIGATION_ID, NAME",
        {"INVESTIGATION_ID": "INVESTIGATION", "TYPE_ID": "DATASETTYPE", "SAMPLE_ID": "SAMPLE"},
    ),
    "DATASETTECHNIQUE": (
        "DATASET_ID L!, TECHNIQUE_ID L!",
        "DATASET_ID, TECHNIQUE_ID",
        {"DATASET_ID": "DATASET", "TECHNIQUE_ID": "TECHNIQUE"},
    ),
    "DATAFILE": (
        "DATASET_ID L!, DATAFILEFORMAT_ID L, NAME S255!, DESCRIPTION S255, DOI S255, "
        "LOCATION S511, FILESIZE L, CHECKSUM S255, DATAFILECREATETIME T, "
        "DATAFILEMODTIME T",
        "DATASET_ID, NAME",
        {"DATASET_ID": "DATASET", "DATAFILEFORMAT_ID": "DATAFILEFORMAT"},
    ),
    "INVESTIGATIONPARAMETER": (
        "INVESTIGATION_ID L!, PARAMETER_TYPE_ID L!, STRING_VALUE S4000, "
        "NUMERIC_VALUE D, DATETIME_VALUE T, ERROR D, RANGEBOTTOM D, "
        "RANGETOP D",
        "INVESTIGATION_ID, PARAMETER_TYPE_ID",
        {"INVESTIGATION_ID": "INVESTIGATION", "PARAMETER_TYPE_ID": "PARAMETERTYPE"},
    ),
    "DATASETPARAMETER": (
        "DATASET_ID L!, PARAMETER_TYPE_ID L!, STRING_VALUE S4000, "
        "NUMERIC_VALUE D, DATETIME_VALUE T, ERROR D, RANGEBOTTOM D, RANGETOP D",
        "DATASET_ID, PARAMETER_TYPE_ID",
        {"DATASET_ID": "DATASET", "PARAMETER_TYPE_ID": "PARAMETERTYPE"},
    ),
    "SAMPLEPARAMETER": (
        "SAMPLE_ID L!, PARAMETER_TYPE_ID L!, STRING_VALUE S4000, "
        "NUMERIC_VALUE D, DATETIME_VALUE T, ERROR D, RANGEBOTTOM D, RANGETOP D",
        "SAMPLE_ID, PARAMETER_TYPE_ID",
        {"SAMPLE_ID": "SAMPLE", "PARAMETER_TYPE_ID": "PARAMETERTYPE"},
    ),
    "DATACOLLECTION": ("DOI S255", "", {}),
    "DATACOLLECTIONDATASET": (
        "DATACOLLECTION_ID L!, DATASET_ID L!",
        "DATACOLLECTION_ID, DATASET_ID",
        {"DATACOLLECTION_ID": "DATACOLLECTION", "DATASET_ID": "DATASET"},
    ),
    "DATACOLLECTIONDATAFILE": (
        "DATACOLLECTION_ID L!, DATAFILE_ID L!",
        "DATACOLLECTION_ID, DATAFILE_ID",
        {"DATACOLLECTION_ID": "DATACOLLECTION", "DATAFILE_ID": "DATAFILE"},
    ),
    "DATAPUBLICATIONTYPE": (
        "FACILITY_ID L!, NAME S255!, DESCRIPTION S255",
        "FACILITY_ID, NAME",
        {"FACILITY_ID": "FACILITY"},
    ),
    "DATAPUBLICATION": (
        "FACILITY_ID L!, DATACOLLECTION_ID L!, DATAPUBLICATIONTYPE_ID L, "
        "PID S255!, TITLE S255!, PUBLICATIONDATE T, SUBJECT S1023, "
        "DESCRIPTION S4000, INTERNALID S255",
        "FACILITY_ID, PID",
        {
            "FACILITY_ID": "FACILITY",
            "DATACOLLECTION_ID": "DATACOLLECTION",
            "DATAPUBLICATIONTYPE_ID": "DATAPUBLICATIONTYPE",
        },
    ),
    "DATAPUBLICATIONUSER": (
        "DATAPUBLICATION_ID L!, USER_ID L!, CONTRIBUTORTYPE S255!, "
        "ORDERKEY S255, FULLNAME S255, GIVENNAME S255, FAMILYNAME S255, "
        "EMAIL S255",
        "DATAPUBLICATION_ID, USER_ID, CONTRIBUTORTYPE",
        {"DATAPUBLICATION_ID": "DATAPUBLICATION", "USER_ID": "USER_"},
    ),
    "DATAPUBLICATIONDATE": (
        "DATAPUBLICATION_ID L!, DATETYPE S255!, DATE_ S255!",
        "DATAPUBLICATION_ID, DATETYPE",
        {"DATAPUBLICATION_ID": "DATAPUBLICATION"},
    ),
    "AFFILIATION": (
        "DATAPUBLICATIONUSER_ID L!, NAME S255!, FULLREFERENCE S1023, PID S255",
        "DATAPUBLICATIONUSER_ID, NAME",
        {"DATAPUBLICATIONUSER_ID": "DATAPUBLICATIONUSER"},
    ),
    "RELATEDITEM": (
        "DATAPUBLICATION_ID L!, IDENTIFIER S255!, RELATIONTYPE S255!, "
        "FULLREFERENCE S1023, RELATEDITEMTYPE S255, TITLE S255",
        "DATAPUBLICATION_ID, IDENTIFIER",
        {"DATAPUBLICATION_ID": "DATAPUBLICATION"},
    ),
    "SUBJECT": (
        "DATAPUBLICATION_ID L!, NAME S255!, PID S255, SUBJECTSCHEME S255, "
        "SCHEMEURI S255, VALUEURI S255, CLASSIFICATIONCODE S255",
        "DATAPUBLICATION_ID, NAME",
        {"DATAPUBLICATION_ID": "DATAPUBLICATION"},
    ),
    # the entities sessions, datasets, files and publications show (ICAT 6.2's form)
    "PUBLICATION": (
        "INVESTIGATION_ID L!, FULLREFERENCE S511!, DOI S255, REPOSITORY S255, "
        "REPOSITORYID S255, URL S255",
        "",
        {"INVESTIGATION_ID": "INVESTIGATION"},
    ),
    "STUDY": (
        "USER_ID L, NAME S255!, DESCRIPTION S4000, STATUS I, PID S255, STARTDATE T, ENDDATE T",
        "",
        {"USER_ID": "USER_"},
    ),
    "STUDYINVESTIGATION": (
        "STUDY_ID L!, INVESTIGATION_ID L!",
        "STUDY_ID, INVESTIGATION_ID",
        {"STUDY_ID": "STUDY", "INVESTIGATION_ID": "INVESTIGATION"},
    ),
    "FACILITYCYCLE": (
        "FACILITY_ID L!, NAME S255!, DESCRIPTION S255, STARTDATE T, ENDDATE T",
        "FACILITY_ID, NAME",
        {"FACILITY_ID": "FACILITY"},
    ),
    "INVESTIGATIONFACILITYCYCLE": (
        "FACILITYCYCLE_ID L!, INVESTIGATION_ID L!",
        "FACILITYCYCLE_ID, INVESTIGATION_ID",
        {"INVESTIGATION_ID": "INVESTIGATION", "FACILITYCYCLE_ID": "FACILITYCYCLE"},
    ),
    "FUNDINGREFERENCE": (
        "FUNDERNAME S255!, FUNDERIDENTIFIER S255, AWARDNUMBER S255!, AWARDTITLE S255, "
        "ACKNOWLEDGEMENT S1023",
        "FUNDERNAME, AWARDNUMBER",
        {},
    ),
    "INVESTIGATIONFUNDING": (
        "INVESTIGATION_ID L!, FUNDING_ID L!",
        "INVESTIGATION_ID, FUNDING_ID",
        {"FUNDING_ID": "FUNDINGREFERENCE", "INVESTIGATION_ID": "INVESTIGATION"},
    ),
    "DATAPUBLICATIONFUNDING": (
        "DATAPUBLICATION_ID L!, FUNDING_ID L!",
        "DATAPUBLICATION_ID, FUNDING_ID",
        {"DATAPUBLICATION_ID": "DATAPUBLICATION", "FUNDING_ID": "FUNDINGREFERENCE"},
    ),
    "DATACOLLECTIONPARAMETER": (
        "DATACOLLECTION_ID L!, PARAMETER_TYPE_ID L!, STRING_VALUE S4000, NUMERIC_VALUE D, "
        "DATETIME_VALUE T, ERROR D, RANGEBOTTOM D, RANGETOP D",
        "DATACOLLECTION_ID, PARAMETER_TYPE_ID",
        {"PARAMETER_TYPE_ID": "PARAMETERTYPE", "DATACOLLECTION_ID": "DATACOLLECTION"},
    ),
    "DATASETINSTRUMENT": (
        "DATASET_ID L!, INSTRUMENT_ID L!",
        "DATASET_ID, INSTRUMENT_ID",
        {"DATASET_ID": "DATASET", "INSTRUMENT_ID": "INSTRUMENT"},
    ),
    "DATAFILEPARAMETER": (
        "DATAFILE_ID L!, PARAMETER_TYPE_ID L!, STRING_VALUE S4000, NUMERIC_VALUE D, "
        "DATETIME_VALUE T, ERROR D, RANGEBOTTOM D, RANGETOP D",
        "DATAFILE_ID, PARAMETER_TYPE_ID",
        {"DATAFILE_ID": "DATAFILE", "PARAMETER_TYPE_ID": "PARAMETERTYPE"},
    ),
    "RELATEDDATAFILE": (
        "SOURCE_DATAFILE_ID L!, DEST_DATAFILE_ID L!, RELATION S255!",
        "SOURCE_DATAFILE_ID, DEST_DATAFILE_ID",
        {"DEST_DATAFILE_ID": "DATAFILE", "SOURCE_DATAFILE_ID": "DATAFILE"},
    ),
    # The rest of ICAT 6.2's entities (the gateway serves none of them; an ingest of a
    # dump writes them).
    "PERMISSIBLESTRINGVALUE": (
        "PARAMETERTYPE_ID L!, VALUE S255!",
        "VALUE, PARAMETERTYPE_ID",
        {"PARAMETERTYPE_ID": "PARAMETERTYPE"},
    ),
    "DATACOLLECTIONINVESTIGATION": (
        "DATACOLLECTION_ID L!, INVESTIGATION_ID L!",
        "DATACOLLECTION_ID, INVESTIGATION_ID",
        {"DATACOLLECTION_ID": "DATACOLLECTION", "INVESTIGATION_ID": "INVESTIGATION"},
    ),
    "APPLICATION": (
        "FACILITY_ID L!, NAME S255!, VERSION S255!",
        "FACILITY_ID, NAME, VERSION",
        {"FACILITY_ID": "FACILITY"},
    ),
    "JOB": (
        "APPLICATION_ID L!, ARGUMENTS S255, INPUTDATACOLLECTION_ID L, OUTPUTDATACOLLECTION_ID L",
        "",
        {
            "APPLICATION_ID": "APPLICATION",
            "INPUTDATACOLLECTION_ID": "DATACOLLECTION",
            "OUTPUTDATACOLLECTION_ID": "DATACOLLECTION",
        },
    ),
    # Authorization (read under ``icat-rules``), as icat.server's Rule, Grouping, UserGroup,
    # InvestigationGroup and PublicStep declare them.
    "GROUPING": ("NAME S255!", "NAME", {}),
    "USERGROUP": (
        "USER_ID L!, GROUP_ID L!",
        "USER_ID, GROUP_ID",
        {"USER_ID": "USER_", "GROUP_ID": "GROUPING"},
    ),
    "INVESTIGATIONGROUP": (
        "GROUP_ID L!, INVESTIGATION_ID L!, ROLE S255!",
        "GROUP_ID, INVESTIGATION_ID, ROLE",
        {"GROUP_ID": "GROUPING", "INVESTIGATION_ID": "INVESTIGATION"},
    ),
    "RULE_": (
        "GROUPING_ID L, WHAT S1024!, CRUDFLAGS S4!, BEAN S255, ATTRIBUTE S255, CRUDJPQL S1024, "
        "SEARCHJPQL S1024, INCLUDEJPQL S1024, C Z, R Z, U Z, D Z, RESTRICTED Z",
        "",
        {"GROUPING_ID": "GROUPING"},
    ),
    "PUBLICSTEP": ("ORIGIN S32!, FIELD S32!", "ORIGIN, FIELD", {}),
}

# What each ICAT release added to the tables above, from icat.server's release notes
# (src/site/xhtml/release-notes.xhtml; 6.0 and 6.1 changed no table): the table alone, or
# its columns; and 6.2 widened DATASET.LOCATION and DATAFILE.LOCATION from 255 to 511
# (src/main/scripts/upgrade_mysql_6_2.sql).
ADDED: dict[str, dict[str, tuple[str, ...]]] = {
    "6.2": {
        "SUBJECT": (),
        "INSTRUMENT": ("STARTDATE", "ENDDATE"),
        "DATAPUBLICATION": ("INTERNALID",),
        "FUNDINGREFERENCE": ("ACKNOWLEDGEMENT",),
    },
    "5.0": {
        **{
            table: ()
            for table in (
                "DATASETINSTRUMENT",
                "TECHNIQUE",
                "DATASETTECHNIQUE",
                "DATAPUBLICATION",
                "DATAPUBLICATIONDATE",
                "DATAPUBLICATIONUSER",
                "RELATEDITEM",
                "FUNDINGREFERENCE",
                "DATAPUBLICATIONFUNDING",
                "INVESTIGATIONFUNDING",
                "AFFILIATION",
                "DATAPUBLICATIONTYPE",
                "DATACOLLECTIONINVESTIGATION",
                "INVESTIGATIONFACILITYCYCLE",
            )
        },
        "INVESTIGATION": ("FILESIZE", "FILECOUNT"),
        "DATASET": ("FILESIZE", "FILECOUNT"),
    },
}


def as_of(version: str) -> dict[str, tuple[str, str, dict[str, str]]]:
    """The tables of an older ICAT: ``6.1`` (5.0 to 6.1 alike) or ``4.11``, derived
    from 6.2's by taking out what each later release added."""
    later = [
        v for v in ADDED if tuple(map(int, v.split("."))) > tuple(map(int, version.split(".")))
    ]
    tables = dict(TABLES)
    for release in later:
        for table, columns in ADDED[release].items():
            if not columns:
                tables.pop(table, None)
                continue
            if table not in tables:
                continue
            specs, unique, references = tables[table]
            kept = [s for s in specs.split(", ") if s.split(" ")[0] not in columns]
            tables[table] = (", ".join(kept), unique, references)
        if release == "6.2":
            for table in ("DATASET", "DATAFILE"):
                specs, unique, references = tables[table]
                tables[table] = (
                    specs.replace("LOCATION S511", "LOCATION S255"),
                    unique,
                    references,
                )
    return tables


_TYPES = {
    "postgresql": {"T": "TIMESTAMP", "I": "INTEGER", "L": "BIGINT", "D": "FLOAT8", "Z": "BOOLEAN"},
    "mariadb": {
        "T": "DATETIME",
        "I": "INTEGER",
        "L": "BIGINT",
        "D": "DOUBLE",
        "Z": "TINYINT(1) default 0",
    },
}


def _type(code: str, dialect: str) -> str:
    if code.startswith("S"):
        return f"VARCHAR({code[1:]})"
    return _TYPES[dialect][code]


def ddl(dialect: str, tables: dict[str, tuple[str, str, dict[str, str]]] = TABLES) -> list[str]:
    """The statements EclipseLink would run (``postgresql`` or ``mariadb``)."""
    ident = "ID BIGINT AUTO_INCREMENT NOT NULL" if dialect == "mariadb" else "ID BIGINT NOT NULL"
    timestamp = _type("T", dialect)
    statements: list[str] = []
    for table, (columns, unique, _) in tables.items():
        parts = [
            ident,
            "CREATE_ID VARCHAR(255) NOT NULL",
            f"CREATE_TIME {timestamp} NOT NULL",
            "MOD_ID VARCHAR(255) NOT NULL",
            f"MOD_TIME {timestamp} NOT NULL",
        ]
        if dialect == "mariadb":  # a quoted name: MySQL's platform quotes with backticks
            columns = columns.replace('"', "`")
        for spec in columns.split(", "):
            name, code = spec.rsplit(" ", 1)
            required = code.endswith("!")
            parts.append(
                f"{name} {_type(code.rstrip('!'), dialect)}" + (" NOT NULL" if required else "")
            )
        statements.append(f"CREATE TABLE {table} ({', '.join(parts)}, PRIMARY KEY (ID))")
        if unique:
            statements.append(f"ALTER TABLE {table} ADD CONSTRAINT UNQ_{table}_0 UNIQUE ({unique})")
    for table, (_, _, references) in tables.items():
        for column, target in references.items():
            statements.append(
                f"ALTER TABLE {table} ADD CONSTRAINT FK_{table}_{column} "
                f"FOREIGN KEY ({column}) REFERENCES {target} (ID)"
            )
    if dialect == "postgresql":
        statements.append("CREATE SEQUENCE SEQ_GEN_SEQUENCE INCREMENT BY 50 START WITH 50")
    return statements


class IcatServer:
    """Inserts rows as icat.server does on the dialect: unquoted upper-case names; ids
    from a block of 50 of SEQ_GEN_SEQUENCE (``nextval`` = v gives v-49..v) on PostgreSQL,
    from AUTO_INCREMENT on MariaDB."""

    def __init__(self, dialect: str, user: str = "db/root") -> None:
        self.dialect = dialect
        self.user = user
        self._block: list[int] = []
        self.ids: list[int] = []

    async def _next_id(self, connection: AsyncConnection) -> int:
        if not self._block:
            last = int(
                (await connection.execute(text("SELECT nextval('SEQ_GEN_SEQUENCE')"))).scalar_one()
            )
            self._block = list(range(last - 49, last + 1))
        return self._block.pop(0)

    async def insert(self, connection: AsyncConnection, table: str, **values: Any) -> int:
        now = datetime(2026, 1, 5, 10, 0, 0)
        row = {
            "CREATE_ID": self.user,
            "CREATE_TIME": now,
            "MOD_ID": self.user,
            "MOD_TIME": now,
            **values,
        }
        if self.dialect == "postgresql":
            row = {"ID": await self._next_id(connection), **row}
        columns = ", ".join(row)
        if self.dialect == "mariadb":
            columns = columns.replace('"', "`")
        binds = ", ".join(f":p{i}" for i in range(len(row)))
        result = await connection.execute(
            text(f"INSERT INTO {table} ({columns}) VALUES ({binds})"),
            {f"p{i}": value for i, value in enumerate(row.values())},
        )
        row_id = int(row["ID"]) if "ID" in row else int(result.lastrowid)
        self.ids.append(row_id)
        return row_id
