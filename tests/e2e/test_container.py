"""The Dockerfile builds an image that runs as a non-root user, checks its health and has
production settings by default. Needs a Docker daemon that can pull the base images;
skipped, saying why, where there is none."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
TAG = "icat-gateway:test"


def _docker_problem() -> str | None:
    if shutil.which("docker") is None:
        return "no docker command on this machine"
    info = subprocess.run(["docker", "info"], capture_output=True, text=True, timeout=30)
    if info.returncode != 0:
        return (
            "the Docker daemon does not answer: " + (info.stderr.strip().splitlines() or ["?"])[-1]
        )
    return None


def test_the_files_name_what_the_image_needs() -> None:
    """Without Docker too: the build context holds the sources, the runtime is non-root,
    checks /healthz and runs production settings."""
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert dockerfile.count("\nFROM ") + dockerfile.startswith("FROM ") >= 3  # multi-stage
    assert "npm ci" in dockerfile and "\nUSER gateway" in dockerfile
    assert "HEALTHCHECK" in dockerfile and "/healthz" in dockerfile
    assert "ICAT_GATEWAY_PRODUCTION=true" in dockerfile
    ignored = (ROOT / ".dockerignore").read_text().splitlines()
    assert "*" in ignored and "!gateway/" in ignored
    compose = (ROOT / "compose.yaml").read_text()
    assert "postgres:" in compose and "redis:" in compose and "ICAT_GATEWAY_REDIS_URL" in compose


def _compose_environment(*files: str) -> dict[str, str]:
    """The gateway service's environment as `docker compose -f ... -f ...` merges it over
    the image's ENV lines (${VAR:?...} given a value)."""
    import re

    import yaml

    dockerfile = (ROOT / "Dockerfile").read_text().split("\nFROM ")[-1]
    env_block = re.search(r"\nENV (.*?)\n(?!\s)", dockerfile, re.S)
    assert env_block is not None
    environment = dict(re.findall(r"(\w+)=(\S+)", env_block.group(1).replace("\\\n", " ")))
    for name in files:
        service = yaml.safe_load((ROOT / name).read_text())["services"]["gateway"]
        environment.update({key: str(value) for key, value in service["environment"].items()})
    return {
        key: re.sub(r"\$\{\w+:\?[^}]*\}", "postgresql+asyncpg://icat@db/icat", value)
        for key, value in environment.items()
    }


def test_compose_runs_the_demo_and_switches_to_production() -> None:
    """compose.yaml: a demo whose users can sign in and whose GraphiQL is served;
    with compose.production.yaml over it: production, no demo login, no GraphiQL."""
    from gateway.settings import Settings

    demo = Settings.from_env(_compose_environment("compose.yaml"))
    assert demo.embedded and demo.demo_login_enabled and demo.graphiql
    assert demo.staff_users == frozenset({"esrf/staff1"})
    production = Settings.from_env(_compose_environment("compose.yaml", "compose.production.yaml"))
    assert production.production and not production.embedded
    assert not production.demo_login_enabled and not production.graphiql


def test_the_image_builds_and_runs_as_configured() -> None:
    problem = _docker_problem()
    if problem is not None:
        pytest.skip(f"no image built: {problem}")
    build = subprocess.run(
        ["docker", "build", "-t", TAG, str(ROOT)], capture_output=True, text=True, timeout=900
    )
    assert build.returncode == 0, build.stderr[-3000:]
    inspected = subprocess.run(
        ["docker", "image", "inspect", TAG], capture_output=True, text=True, check=True
    )
    config = json.loads(inspected.stdout)[0]["Config"]
    assert config["User"] == "gateway"
    assert "/healthz" in " ".join(config["Healthcheck"]["Test"])
    assert "ICAT_GATEWAY_PRODUCTION=true" in config["Env"]
    version = subprocess.run(
        ["docker", "run", "--rm", TAG, "icat-gateway", "--version"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert version.returncode == 0 and version.stdout.startswith("icat-gateway "), version.stderr
    whoami = subprocess.run(
        ["docker", "run", "--rm", TAG, "id", "-u"], capture_output=True, text=True, timeout=120
    )
    assert whoami.stdout.strip() not in ("", "0")
