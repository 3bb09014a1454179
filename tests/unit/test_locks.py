"""The lock files agree with pyproject.toml and with one another: every dependency of a
lock's extras is pinned in it, and a package the locks share has one version in all."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LOCKS = {"serve.lock": (), "dev.lock": ("dev",), "bench.lock": ("dev", "bench")}
_PIN = re.compile(r"^([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?==([^\s\\;]+)", re.MULTILINE)
_NAME = re.compile(r"^[A-Za-z0-9_.-]+")


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(lock: str) -> dict[str, str]:
    text = (ROOT / "requirements" / lock).read_text()
    return {_normal(name): version for name, version in _PIN.findall(text)}


def wanted(extras: tuple[str, ...]) -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = list(project["dependencies"])
    for extra in extras:
        requirements += project["optional-dependencies"][extra]
    names = set()
    for requirement in requirements:
        match = _NAME.match(requirement)
        assert match, requirement
        names.add(_normal(match.group(0)))
    return names


@pytest.mark.parametrize("lock", sorted(LOCKS))
def test_a_lock_pins_every_dependency_of_its_extras(lock: str) -> None:
    missing = wanted(LOCKS[lock]) - set(pins(lock))
    assert not missing, f"requirements/{lock} lacks {sorted(missing)}: run scripts/lock"


def test_the_locks_agree_on_what_they_share() -> None:
    locked = {lock: pins(lock) for lock in LOCKS}
    assert len(locked["serve.lock"]) > 50, "the pins were not read"
    for smaller, larger in (("serve.lock", "dev.lock"), ("dev.lock", "bench.lock")):
        differing = {
            name: (version, locked[larger].get(name))
            for name, version in locked[smaller].items()
            if locked[larger].get(name) != version
        }
        assert not differing, f"{smaller} and {larger} differ: {differing}; run scripts/lock"
