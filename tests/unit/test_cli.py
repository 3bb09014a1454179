"""The command line: options anywhere, help everywhere, --version, one-line refusals."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from gateway import cli
from gateway.catalogue.demo import DemoSize, seed_demo
from gateway.settings import Settings


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit:
        cli.main(["--version"])
    assert exit.value.code == 0
    assert capsys.readouterr().out.startswith("icat-gateway 0.")


def test_every_option_has_help() -> None:
    parser = cli._parser()
    parsers = [parser]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            parsers += list(action.choices.values())
    undocumented = [
        f"{sub.prog} {option.dest}"
        for sub in parsers
        for option in sub._actions
        if not option.help and not isinstance(option, argparse._SubParsersAction)
    ]
    assert not undocumented


@pytest.mark.parametrize("before", [True, False], ids=["before", "after"])
def test_global_options_work_before_or_after_the_command(before: bool) -> None:
    options = ["--database-url", "sqlite+aiosqlite:///x.sqlite3"]
    argv = [*options, "indexes"] if before else ["indexes", *options]
    assert cli._parser().parse_args(argv).database_url == "sqlite+aiosqlite:///x.sqlite3"


async def test_demo_on_a_seeded_catalogue_says_so_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'seeded.sqlite3'}"
    await seed_demo(Settings(database_url=url), size=DemoSize.for_sessions(3, 1, 0))
    # main runs its own event loop: from a worker thread, as a person's shell would.
    import asyncio

    code = await asyncio.to_thread(cli.main, ["demo", "--size", "3", "--database-url", url])
    assert code == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "already has sessions" in err and "Traceback" not in err


def test_contradicting_settings_are_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ICAT_GATEWAY_DEMO_LOGIN", "true")
    monkeypatch.setenv("ICAT_GATEWAY_EMBEDDED", "false")
    assert cli.main(["indexes"]) == 2
    assert "ICAT_GATEWAY_DEMO_LOGIN" in capsys.readouterr().err


def test_no_progress_bar_off_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    with cli.progress_bar("sessions", 10) as advance:
        for _ in range(10):
            advance(1)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_a_progress_bar_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    import io
    import sys

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    with cli.progress_bar("sessions", 10) as advance:
        for _ in range(10):
            advance(1)
    assert "0/10" in terminal.getvalue() and "sessions" in terminal.getvalue()


def test_serve_runs_uvicorn_as_a_deployment_wants(monkeypatch: pytest.MonkeyPatch) -> None:
    """Several workers: a metrics directory they share, made before they start and removed
    after; forwarded headers left to the gateway; a graceful shutdown timeout; JSON logs."""
    import os

    import uvicorn

    seen: dict[str, object] = {}

    def run(app: str, **options: object) -> None:
        seen.update(options, directory=os.environ["PROMETHEUS_MULTIPROC_DIR"])
        assert Path(str(seen["directory"])).is_dir()

    monkeypatch.setattr(uvicorn, "run", run)
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    monkeypatch.setenv("ICAT_GATEWAY_SHUTDOWN_TIMEOUT", "7")
    assert cli.main(["serve", "--no-demo", "--workers", "3"]) == 0
    # The variable it set goes with the directory: an in-process gateway started later
    # (a test's) would read a directory that is gone.
    assert "PROMETHEUS_MULTIPROC_DIR" not in os.environ
    assert seen["workers"] == 3 and seen["proxy_headers"] is False
    assert seen["timeout_graceful_shutdown"] == 7 and seen["access_log"] is False
    config: dict[str, object] = seen["log_config"]  # type: ignore[assignment]
    assert "JsonFormatter" in str(config["formatters"])
    assert not Path(str(seen["directory"])).exists()


def test_serve_serves_the_catalogue_database_url_names(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The workers build the app from the environment (gateway.asgi): --database-url must
    reach them, or `serve --database-url X` seeds X and serves the default file."""
    import uvicorn

    from gateway.settings import Settings

    url = f"sqlite+aiosqlite:///{tmp_path / 'named.sqlite3'}"
    served: list[str] = []
    monkeypatch.setattr(
        uvicorn, "run", lambda app, **_: served.append(Settings.from_env().database_url)
    )
    monkeypatch.delenv("ICAT_GATEWAY_DATABASE_URL", raising=False)
    assert cli.main(["serve", "--no-demo", "--database-url", url]) == 0
    assert served == [url]


def test_a_configured_metrics_directory_is_emptied(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    stale = tmp_path / "counter_123.db"
    stale.write_bytes(b"old counts")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    assert cli._metrics_directory() is None
    assert not stale.exists() and tmp_path.is_dir()


def test_register_operations_needs_redis(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("ICAT_GATEWAY_REDIS_URL", raising=False)
    operations = tmp_path / "me.graphql"
    operations.write_text("{ me { userName } }")
    assert cli.main(["register-operations", str(operations)]) == 2
    assert "ICAT_GATEWAY_REDIS_URL" in capsys.readouterr().err


async def test_migrate_says_where_the_gateway_tables_were_and_are(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import asyncio

    from gateway.catalogue.migrate import heads

    url = f"sqlite+aiosqlite:///{tmp_path / 'migrated.sqlite3'}"
    assert await asyncio.to_thread(cli.main, ["migrate", "--database-url", url]) == 0
    assert await asyncio.to_thread(cli.main, ["migrate", "--database-url", url]) == 0
    first, second = capsys.readouterr().out.splitlines()
    newest = ", ".join(heads())
    assert first == f"gateway tables: none -> {newest}"
    assert second == f"gateway tables: {newest} -> {newest}"


def test_a_failure_is_one_line_and_an_exit_code(capsys: pytest.CaptureFixture[str]) -> None:
    """An unreachable database: one line naming the command and the cause, exit code 1;
    the traceback only with --debug."""
    nowhere = "postgresql+asyncpg://nobody@127.0.0.1:9/none"
    assert cli.main(["migrate", "--database-url", nowhere]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert err.startswith("icat-gateway migrate: ") and "Traceback" not in err
    assert "127.0.0.1" in err  # the database's own message, not SQLAlchemy's link
    with pytest.raises(OSError):
        cli.main(["migrate", "--database-url", nowhere, "--debug"])


def test_every_logger_writes_one_format(capsys: pytest.CaptureFixture[str]) -> None:
    """uvicorn's, Alembic's and Python's warnings go through the gateway's formatter, one
    JSON object a line; Alembic's per-run narration is kept below INFO."""
    import json
    import logging
    import warnings

    from gateway.ops.request_log import configure_logging

    configure_logging("json")
    try:
        logging.getLogger("uvicorn.error").info("started")
        logging.getLogger("alembic.runtime.migration").info("Context impl SQLiteImpl.")
        # pytest records warnings itself; what Python calls to show one is captured here
        warnings.showwarning("a SQLAlchemy-like warning", UserWarning, __file__, 1)
        lines = capsys.readouterr().err.splitlines()
    finally:
        logging.captureWarnings(False)
    records = [json.loads(line) for line in lines]
    assert [(r["logger"], r["level"]) for r in records] == [
        ("uvicorn.error", "INFO"),
        ("py.warnings", "WARNING"),
    ]
    assert "a SQLAlchemy-like warning" in records[1]["message"]


def test_the_demo_login_is_refused_on_a_network_address_unless_asked_for(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The demo login hands out staff tokens to whoever reaches the port: `serve --host
    0.0.0.0` with it on stops at start-up, unless ICAT_GATEWAY_DEMO_LOGIN_ON_NETWORK says
    so; loopback addresses serve it as before. uvicorn gets the gateway's connection
    deadlines."""
    import uvicorn

    seen: list[dict[str, object]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: seen.append(options))
    monkeypatch.setenv("ICAT_GATEWAY_DEMO_LOGIN", "true")
    monkeypatch.setenv("ICAT_GATEWAY_EMBEDDED", "true")
    monkeypatch.delenv("ICAT_GATEWAY_DEMO_LOGIN_ON_NETWORK", raising=False)
    for host in ("0.0.0.0", "192.0.2.7", "::", "gateway.example.org"):
        assert cli.main(["serve", "--no-demo", "--host", host]) == 2
        assert "ICAT_GATEWAY_DEMO_LOGIN_ON_NETWORK" in capsys.readouterr().err
    assert seen == []
    for host in ("127.0.0.1", "::1", "localhost", "127.0.0.2"):
        assert cli.main(["serve", "--no-demo", "--host", host]) == 0
    monkeypatch.setenv("ICAT_GATEWAY_DEMO_LOGIN_ON_NETWORK", "true")
    assert cli.main(["serve", "--no-demo", "--host", "0.0.0.0"]) == 0
    monkeypatch.setenv("ICAT_GATEWAY_DEMO_LOGIN", "false")
    monkeypatch.delenv("ICAT_GATEWAY_DEMO_LOGIN_ON_NETWORK")
    assert cli.main(["serve", "--no-demo", "--host", "0.0.0.0"]) == 0
    assert len(seen) == 6
    assert seen[0]["http"] == "gateway.ops.connections:DeadlineH11Protocol"
    assert seen[0]["timeout_keep_alive"] == 5
