"""The `icat-gateway` command: serve, demo (seed), ingest, export, release-dates,
export-schema, indexes, settings, migrate, register-operations, doi reconcile."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import importlib.metadata
import logging
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from gateway.settings import Settings, SettingsError

if TYPE_CHECKING:
    from gateway.ops.registration import Document

logger = logging.getLogger("gateway.cli")


def _parser() -> argparse.ArgumentParser:
    # Global options on a parent parser too, so that they work after the subcommand
    # (`icat-gateway demo --database-url ...`); SUPPRESS keeps a later default from
    # overwriting a value given earlier.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--database-url",
        default=argparse.SUPPRESS,
        help="SQLAlchemy URL of the catalogue (overrides ICAT_GATEWAY_DATABASE_URL)",
    )
    common.add_argument(
        "--debug",
        action="store_true",
        default=argparse.SUPPRESS,
        help="on a failure, print the traceback too (by default: one line and an exit code)",
    )
    parser = argparse.ArgumentParser(
        prog="icat-gateway",
        description=__doc__,
        parents=[common],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--version", action="version", version=f"%(prog)s {_version()}", help="print the version"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    # `COMMAND --help` shows each option's default beside its help.
    commands.add_parser = functools.partial(  # type: ignore[method-assign]
        commands.add_parser, formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )

    serve = commands.add_parser(
        "serve",
        parents=[common],
        help="run the gateway (seeds demo data into an empty embedded database)",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=int, default=8000, help="port to listen on")
    serve.add_argument(
        "--workers",
        type=int,
        default=int(os.environ.get("WEB_CONCURRENCY") or 1),
        help="uvicorn worker processes (default: $WEB_CONCURRENCY, else 1; README: Serving)",
    )
    serve.add_argument(
        "--no-demo", action="store_true", help="do not seed an empty embedded database"
    )

    demo = commands.add_parser(
        "demo",
        parents=[common],
        help="create the demo facility catalogue (alias: seed)",
        aliases=["seed"],
    )
    demo.add_argument("--seed", type=int, default=1, help="random seed: same seed, same catalogue")
    demo.add_argument(
        "--size", type=int, default=200, help="number of sessions (datasets scale with it)"
    )
    demo.add_argument(
        "--datasets-per-session",
        type=int,
        default=6,
        help="datasets of each session",
    )
    demo.add_argument(
        "--files-per-dataset",
        type=int,
        default=8,
        help="datafiles of each dataset",
    )
    demo.add_argument("--reset", action="store_true", help="drop and recreate the tables first")
    demo.add_argument(
        "--describe-users",
        action="store_true",
        help="seed nothing: print what the demo's fixed users are in this catalogue (the "
        "README's list, generated)",
    )

    ingest = commands.add_parser(
        "ingest",
        parents=[common],
        help="load ICAT dump files (python-icat YAML or XML, ICAT 4.4 to 6.2)",
        description="Load python-icat dump files into the catalogue, in one transaction, and "
        "say what was new, already there, or there with other values.",
    )
    ingest.add_argument(
        "files", nargs="+", type=Path, metavar="FILE", help="dump files, as written by icatdump"
    )
    ingest.add_argument(
        "--duplicate",
        choices=["THROW", "IGNORE", "CHECK", "OVERWRITE"],
        default="THROW",
        help="an object already in the catalogue: an error (THROW, the default), kept as it "
        "is (IGNORE), an error only where the file's values differ (CHECK), or updated with "
        "the file's values (OVERWRITE), as python-icat's icatingest",
    )
    ingest.add_argument(
        "--into-icat",
        action="store_true",
        help="allow a database the gateway did not create (ICAT_GATEWAY_EMBEDDED=false); ids "
        "are allocated as icat.server allocates them",
    )
    ingest.add_argument(
        "--release-dates",
        action="store_true",
        help="then set the missing release dates of the files' sessions by the facility's "
        "rule (see `release-dates`)",
    )

    dump = commands.add_parser(
        "export",
        parents=[common],
        help="write the catalogue, or a part of it, as an ICAT dump file python-icat reads",
    )
    dump.add_argument("file", type=Path, help="the file to write: .yaml or .xml")
    dump.add_argument("--proposal", help="only the sessions of this proposal (NAME)")
    dump.add_argument(
        "--session", type=int, metavar="ID", help="only this session (INVESTIGATION.ID)"
    )
    dump.add_argument(
        "--data-publication", metavar="PID", help="only this data publication (its PID or DOI)"
    )

    releases = commands.add_parser(
        "release-dates",
        parents=[common],
        help="set missing release dates by the facility's rule (end date + embargo)",
        description="Set the release date of every session that has none to its end date plus "
        "the embargo (its facility's DAYSUNTILRELEASE, else ICAT_GATEWAY_EMBARGO_DAYS), "
        "except sessions of a proprietary type (ICAT_GATEWAY_PROPRIETARY_TYPES) and sessions "
        "without an end date; each change is recorded like one made through the API.",
    )
    releases.add_argument(
        "--dry-run", action="store_true", help="only say what would be set; change nothing"
    )

    export = commands.add_parser(
        "export-schema", parents=[common], help="print the GraphQL SDL (or write it to a file)"
    )
    export.add_argument("--output", type=Path, help="write the SDL to this file")

    commands.add_parser(
        "indexes", parents=[common], help="print the CREATE INDEX statements the gateway needs"
    )
    commands.add_parser(
        "settings", parents=[common], help="print every setting as a Markdown table"
    )
    register = commands.add_parser(
        "register-operations",
        parents=[common],
        help="register a frontend's operations for ICAT_GATEWAY_PERSISTED_QUERIES=registered",
        description="Validate a frontend's operations against the schema and store them in "
        "Redis (ICAT_GATEWAY_REDIS_URL), where every replica finds them.",
    )
    register.add_argument(
        "sources",
        nargs="+",
        type=Path,
        metavar="FILE",
        help=".graphql files (or folders of them), or an Apollo or Relay persisted-query "
        "manifest (.json)",
    )
    doi = commands.add_parser(
        "doi", parents=[common], help="DOIs: `doi reconcile` finishes what failures left midway"
    )
    doi_commands = doi.add_subparsers(dest="doi_command", required=True, metavar="ACTION")
    doi_commands.add_parser(
        "reconcile",
        parents=[common],
        help="drive every DOI left midway (a crash, a registrar outage) to its goal or back; "
        "safe on several replicas at once (serve runs it at start-up too)",
    )
    sessions = doi_commands.add_parser(
        "register-sessions",
        parents=[common],
        help="register every session's DOI under the registrar's prefix, findable at its "
        "landing page; only those new or changed since the last run (resumable)",
    )
    sessions.add_argument(
        "--allocate-missing",
        action="store_true",
        help="first give sessions without a DOI one: <prefix>/<facility>-es-<ICAT id>",
    )
    search_index = commands.add_parser(
        "search-index",
        parents=[common],
        help="free text: `search-index refresh` brings the search documents up to date",
    )
    search_commands = search_index.add_subparsers(
        dest="search_command", required=True, metavar="ACTION"
    )
    refresh = search_commands.add_parser(
        "refresh",
        parents=[common],
        help="rebuild the search documents of the sessions changed since the last refresh "
        "(all of them the first time); run it from cron against a facility's ICAT",
    )
    refresh.add_argument("--full", action="store_true", help="rebuild every session's")
    notify = commands.add_parser(
        "notify", parents=[common], help="notifications: `notify reminders` from cron"
    )
    notify_commands = notify.add_subparsers(dest="notify_command", required=True, metavar="ACTION")
    notify_commands.add_parser(
        "reminders",
        parents=[common],
        help="remind the teams of sessions whose release date is within "
        "ICAT_GATEWAY_RELEASE_REMINDER_DAYS (once per release date; run it daily)",
    )
    commands.add_parser(
        "migrate",
        parents=[common],
        help="bring the gateway's own tables to the newest revision (serve does it at start-up)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run a command. A failure is one line on stderr and exit code 1 (2 for a usage or
    settings error); ``--debug`` adds the traceback."""
    args = _parser().parse_args(argv)
    url = getattr(args, "database_url", None)
    try:
        settings = Settings.from_env(**({"database_url": url} if url else {}))
    except SettingsError as error:
        print(f"icat-gateway: {error}", file=sys.stderr)
        return 2
    from gateway.ops.request_log import configure_logging

    configure_logging(settings.log_format)
    try:
        return _run(args, settings, url)
    except KeyboardInterrupt:
        print("icat-gateway: interrupted", file=sys.stderr)
        return 130
    except Exception as error:
        if getattr(args, "debug", False):
            raise
        print(f"icat-gateway {args.command}: {_one_line(error)}", file=sys.stderr)
        return 1


def _one_line(error: BaseException) -> str:
    """What went wrong, in one line: the error's own first line (the database's message,
    not SQLAlchemy's background link), with its type."""
    cause = error
    while cause.__cause__ is not None and not str(cause).strip():
        cause = cause.__cause__
    orig = getattr(cause, "orig", None)  # a DBAPI error wrapped by SQLAlchemy
    message = str(orig if orig is not None else cause).strip().splitlines()
    first = message[0] if message else ""
    kind = type(orig if orig is not None else cause).__name__
    return f"{kind}: {first}"[:300] if first else kind


def _run(args: argparse.Namespace, settings: Settings, url: str | None) -> int:
    if args.command == "export-schema":
        from gateway.schema.export import export_sdl

        sdl = export_sdl(settings.federation_namespace)
        if args.output:
            args.output.write_text(sdl)
        else:
            sys.stdout.write(sdl)
        return 0
    if args.command == "settings":
        from gateway.settings_table import settings_table

        sys.stdout.write(settings_table())
        return 0
    if args.command in ("demo", "seed") and args.describe_users:
        sys.stdout.write(asyncio.run(_describe_demo_users(settings)))
        return 0
    if args.command in ("demo", "seed"):
        from gateway.catalogue.demo import CatalogueNotEmpty, DemoSize, seed_demo

        size = DemoSize.for_sessions(args.size, args.datasets_per_session, args.files_per_dataset)
        try:
            with progress_bar("sessions", size.sessions) as advance:
                counts = asyncio.run(
                    seed_demo(
                        settings, seed=args.seed, size=size, reset=args.reset, progress=advance
                    )
                )
        except CatalogueNotEmpty as error:
            print(f"icat-gateway demo: {error}", file=sys.stderr)
            return 1
        print(", ".join(f"{n} {what}" for what, n in counts.items()))
        return 0
    if args.command == "ingest":
        return _ingest(settings, args)
    if args.command == "export":
        return _export(settings, args)
    if args.command == "release-dates":
        return _release_dates(settings, dry_run=args.dry_run)
    if args.command == "indexes":
        from gateway.catalogue.indexes import print_index_ddl

        asyncio.run(print_index_ddl(settings))
        return 0
    if args.command == "search-index":
        from gateway.catalogue.search_documents import refresh_database

        done = asyncio.run(refresh_database(settings, full=args.full))
        print(
            f"search documents: {done.documents} rebuilt, {done.removed} removed"
            + (" (full)" if done.full else "")
        )
        return 0
    if args.command == "migrate":
        from gateway.catalogue.migrate import migrate_database

        before, after = asyncio.run(migrate_database(settings))
        print(f"gateway tables: {', '.join(before) or 'none'} -> {', '.join(after)}")
        return 0
    if args.command == "doi" and args.doi_command == "register-sessions":
        return asyncio.run(_register_sessions(settings, allocate=args.allocate_missing))
    if args.command == "doi":
        return asyncio.run(_reconcile(settings))
    if args.command == "notify":
        return asyncio.run(_remind(settings))
    if args.command == "serve":
        if url:
            # uvicorn's workers build the app from the environment (gateway.asgi): the
            # catalogue --database-url names is the one they must serve, not the default.
            os.environ["ICAT_GATEWAY_DATABASE_URL"] = url
        return _serve(settings, args)
    if args.command == "register-operations":
        return _register_operations(settings, args.sources)
    return 2


async def _describe_demo_users(settings: Settings) -> str:
    from gateway.app import demo_users
    from gateway.catalogue.database import create_engine
    from gateway.catalogue.demo import default_anchor
    from gateway.catalogue.demo_facts import describe_demo_users

    engine = create_engine(settings)
    try:
        async with engine.connect() as connection:
            return await describe_demo_users(connection, demo_users(), default_anchor())
    finally:
        await engine.dispose()


def _ingest(settings: Settings, args: argparse.Namespace) -> int:
    from gateway.catalogue.ingest import Duplicate, IngestError, ingest_files
    from gateway.catalogue.release_rule import ReleaseRule

    rule = ReleaseRule(settings.embargo_days, settings.proprietary_types)
    try:
        with progress_bar("objects", None) as advance:
            report = asyncio.run(
                ingest_files(
                    settings,
                    args.files,
                    duplicate=Duplicate(args.duplicate),
                    into_icat=args.into_icat,
                    release_rule=rule if args.release_dates else None,
                    progress=advance,
                )
            )
    except IngestError as error:
        print(f"icat-gateway ingest: {error}", file=sys.stderr)
        return 1
    print("\n".join(report.lines()))
    return 0


def _export(settings: Settings, args: argparse.Namespace) -> int:
    from gateway.catalogue.export import ExportError, Selection, export_file

    selection = Selection(
        proposal=args.proposal, session=args.session, data_publication=args.data_publication
    )
    try:
        counts = asyncio.run(export_file(settings, args.file, selection))
    except ExportError as error:
        print(f"icat-gateway export: {error}", file=sys.stderr)
        return 1
    total = sum(counts.values())
    print(f"{args.file}: {total} objects ({', '.join(f'{n} {e}' for e, n in counts.items())})")
    return 0


def _release_dates(settings: Settings, *, dry_run: bool) -> int:
    from gateway.usecases.release_dates import set_missing_release_dates

    plan = asyncio.run(set_missing_release_dates(settings, dry_run=dry_run))
    for new in plan.dates:
        print(
            f"{new.proposal} {new.visit_id}: ended {new.end_date:%Y-%m-%d}, released "
            f"{new.release_date:%Y-%m-%d} (+{new.embargo_days} days)"
        )
    print(("dry run, nothing changed: " if dry_run else "") + plan.summary())
    return 0


def _register_operations(settings: Settings, sources: list[Path]) -> int:
    from gateway.ops.registration import RegistrationError, check_documents, read_documents

    if not settings.redis_url:
        print(
            "icat-gateway register-operations: set ICAT_GATEWAY_REDIS_URL (registered "
            "operations are kept in Redis, shared by every replica)",
            file=sys.stderr,
        )
        return 2
    try:
        documents = read_documents(sources)
        from gateway.schema.build import create_schema

        check_documents(create_schema()._schema, documents)
    except (RegistrationError, OSError) as error:
        print(f"icat-gateway register-operations: {error}", file=sys.stderr)
        return 1
    count = asyncio.run(_store_operations(settings, documents))
    print(f"registered {count} operations in {settings.redis_url.rsplit('@', 1)[-1]}")
    return 0


async def _store_operations(settings: Settings, documents: list[Document]) -> int:
    from gateway.ops.persisted import registered_store
    from gateway.ops.registration import register
    from gateway.ops.shared_redis import connect_redis

    client = connect_redis(settings)
    assert client is not None
    try:
        return await register(registered_store(settings, client), documents)
    finally:
        await client.aclose()


async def _reconcile(settings: Settings) -> int:
    """`icat-gateway doi reconcile`: 0 when every DOI is at rest, 1 when some wait for the
    registrar or another process, 3 when the registrar refused some (see the log)."""
    from gateway.app import doi_use_cases
    from gateway.catalogue.database import create_engine, create_schema

    engine = create_engine(settings)
    try:
        await create_schema(engine, embedded=settings.embedded)
        dois = doi_use_cases(settings, engine)
        counts = await dois.sagas.reconcile()
        left = await dois.sagas.unfinished()
    finally:
        await engine.dispose()
    print(", ".join(f"{n} {what}" for what, n in counts.items()) + f"; {len(left)} unfinished")
    if counts["refused"]:
        return 3
    return 1 if left else 0


async def _remind(settings: Settings) -> int:
    """`icat-gateway notify reminders`: record the release reminders due today."""
    from datetime import UTC, datetime

    from gateway.catalogue.database import create_engine, create_schema
    from gateway.usecases.release_reminders import remind_release_dates

    engine = create_engine(settings)
    try:
        await create_schema(engine, embedded=settings.embedded)
        count = await remind_release_dates(
            engine,
            now=datetime.now(UTC).replace(tzinfo=None),
            days=settings.release_reminder_days,
        )
    finally:
        await engine.dispose()
    print(f"{count} release reminders recorded")
    return 0


async def _check_icat(settings: Settings) -> None:
    """Stop before serving when ICAT's database lacks what the gateway reads (or, unless
    read-only, a way to allocate ids)."""
    from gateway.catalogue.database import create_engine, create_schema

    engine = create_engine(settings)
    try:
        await create_schema(engine, embedded=False, writes=not settings.read_only)
    finally:
        await engine.dispose()


async def _write_demo_files(settings: Settings, root: Path) -> int:
    from gateway.catalogue.database import create_engine
    from gateway.catalogue.demo_files import write_demo_files

    engine = create_engine(settings)
    try:
        return await write_demo_files(engine, root)
    finally:
        await engine.dispose()


async def _register_sessions(settings: Settings, *, allocate: bool) -> int:
    """`icat-gateway doi register-sessions`: 0 when every session DOI is registered, 1
    when the registrar was unavailable for some (run it again), 3 when it refused some."""
    from gateway.app import now_utc
    from gateway.catalogue.database import create_engine, create_schema
    from gateway.doi.configured import configured_registrar, default_licence, landing_url
    from gateway.usecases.session_dois import SessionRegistration

    engine = create_engine(settings)
    try:
        await create_schema(engine, embedded=settings.embedded)
        registration = SessionRegistration(
            engine=engine,
            registrar=configured_registrar(settings, engine),
            landing_url=lambda doi: landing_url(settings, doi),
            main_proposer_roles=settings.main_proposer_roles,
            facility=settings.facility,
            clock=now_utc,
            default_licence=default_licence(settings),
        )
        allocated = await registration.allocate_missing() if allocate else 0
        with progress_bar("sessions", await registration.total()) as advance:
            counts = await registration.run(progress=advance)
        counts.allocated = allocated
    finally:
        await engine.dispose()
    for problem in counts.problems[:20]:
        print(f"refused: {problem}", file=sys.stderr)
    print(counts.summary())
    if counts.refused:
        return 3
    return 1 if counts.unavailable else 0


def is_loopback(host: str) -> bool:
    """Whether a listen address is reachable from this machine only."""
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a name: it may resolve to anything


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    from gateway.app import demo_users
    from gateway.ops.request_log import log_config

    if not settings.embedded:
        from gateway.catalogue.icat_check import IcatSchemaError

        try:  # one clear line now, rather than a worker's traceback at start-up
            asyncio.run(_check_icat(settings))
        except IcatSchemaError as error:
            print(f"icat-gateway: {error}", file=sys.stderr)
            return 2

    if settings.demo_login_enabled and not is_loopback(args.host):
        if not settings.demo_login_on_network:
            print(
                f"icat-gateway serve: the demo login hands out staff tokens to anyone who "
                f"reaches the port, and {args.host} is not a loopback address. Listen on "
                "127.0.0.1, turn the demo login off (ICAT_GATEWAY_DEMO_LOGIN=false), or set "
                "ICAT_GATEWAY_DEMO_LOGIN_ON_NETWORK=true if everyone on that network may act "
                "as the demo's staff member.",
                file=sys.stderr,
            )
            return 2
        logger.warning("the demo login is served on %s: anyone there may act as staff", args.host)

    if settings.embedded and not args.no_demo:
        from gateway.catalogue.demo import DemoSize, seed_if_empty

        size = DemoSize.for_sessions(200)
        with progress_bar("sessions", size.sessions) as advance:
            counts = asyncio.run(seed_if_empty(settings, size, advance))
        if counts is None:
            logger.info("the catalogue has sessions already: kept as it is")
        else:
            made = ", ".join(f"{n} {what}" for what, n in list(counts.items())[:4])
            logger.info("seeded the demo facility: %s", made)
        if settings.downloads == "store" and settings.data_root:
            written = asyncio.run(_write_demo_files(settings, Path(settings.data_root)))
            if written:
                logger.info("wrote %d small demo files under %s", written, settings.data_root)
    if settings.graphiql:
        logger.info("GraphiQL: http://%s:%d/graphql", args.host, args.port)
    if settings.demo_login_enabled:
        logger.info(
            "demo users (pick one in GraphiQL, or POST /dev/oidc/token?user=...): %s",
            ", ".join(demo_users()),
        )
    metrics_dir = _metrics_directory() if settings.metrics and args.workers > 1 else None
    uvicorn.run(
        "gateway.asgi:app",
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level="info",
        log_config=log_config(settings.log_format),
        # The gateway writes its own access line (with the request id and the operation).
        access_log=False,
        # X-Forwarded-For is read by the gateway, from ICAT_GATEWAY_TRUSTED_PROXIES only
        # (uvicorn's own default would trust any process on 127.0.0.1).
        proxy_headers=False,
        server_header=False,
        # SIGTERM: stop accepting, let in-flight requests finish for this long, then close.
        timeout_graceful_shutdown=settings.shutdown_timeout,
        # Idle and slow connections: uvicorn closes an idle kept-alive connection after
        # timeout_keep_alive, but a new connection that sends nothing, or its headers a
        # byte at a time, it keeps for ever; the gateway's protocol closes it after
        # ICAT_GATEWAY_HEADER_TIMEOUT (and the gate a slow body after BODY_TIMEOUT).
        timeout_keep_alive=settings.keep_alive_timeout,
        http="gateway.ops.connections:DeadlineH11Protocol",
        env_file=None,
    )
    if metrics_dir is not None:
        import shutil

        from gateway.ops.metrics import MULTIPROC_ENV

        shutil.rmtree(metrics_dir, ignore_errors=True)
        os.environ.pop(MULTIPROC_ENV, None)  # the process's environment as it was
    return 0


def _metrics_directory() -> Path | None:
    """Where the workers keep their metrics (prometheus_client's multiprocess mode): the
    configured PROMETHEUS_MULTIPROC_DIR, emptied, or a new temporary directory. Set before
    the workers start, so that each of them counts into its own files there. Returns the
    directory if it made one (removed when the server stops)."""
    import tempfile

    from gateway.ops.metrics import MULTIPROC_ENV

    configured = os.environ.get(MULTIPROC_ENV)
    if configured:
        directory = Path(configured)
        directory.mkdir(parents=True, exist_ok=True)
        for stale in directory.glob("*.db"):  # a previous run's counts
            stale.unlink()
        return None
    directory = Path(tempfile.mkdtemp(prefix="icat-gateway-metrics-"))
    os.environ[MULTIPROC_ENV] = str(directory)
    logger.info("the workers' metrics are kept in %s", directory)
    return directory


@contextlib.contextmanager
def progress_bar(unit: str, total: int | None) -> Iterator[Callable[[int], object]]:
    """A progress bar on a terminal; nothing when output goes to a log or a pipe."""
    from tqdm import tqdm

    with tqdm(total=total, unit=f" {unit}", disable=not sys.stderr.isatty(), leave=False) as bar:
        yield bar.update


def _version() -> str:
    try:
        return importlib.metadata.version("icat-gateway")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


if __name__ == "__main__":
    raise SystemExit(main())
