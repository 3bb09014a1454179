"""The packages' dependencies point one way: inwards, to the catalogue and the policy.

Read from the source (every ``import``, function-level ones included), so a shortcut
taken inside a function is caught too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from gateway.catalogue.ordering import NEWEST_FIRST
from gateway.schema.inputs import InvestigationOrder

PACKAGE = Path(__file__).resolve().parents[2] / "gateway"

FORBIDDEN: dict[str, tuple[str, ...]] = {
    "auth": ("schema", "compiled", "resolvers", "usecases", "catalogue", "gate"),
    "fields": ("schema", "compiled", "resolvers", "usecases", "catalogue", "gate"),
    "catalogue": ("schema", "compiled", "resolvers", "usecases", "gate"),
    "compiled": ("schema", "resolvers", "usecases", "gate"),
    "resolvers": ("schema", "usecases", "gate"),
    "usecases": ("schema", "compiled", "resolvers", "gate"),
    "schema": ("gate",),
    # landing pages run the schema's query for the caller, as the gate does, beside it
    "landing": ("gate",),
    # operations plug into the gate's hooks (gate_hooks.py) and know nothing of the rest
    "ops": ("schema", "compiled", "resolvers", "usecases", "catalogue", "auth"),
    # the downloads' adapters (IDS, the store, links, Globus) know nothing of the rest:
    # the use case decides with the catalogue's filters
    "downloads": ("schema", "compiled", "resolvers", "usecases", "catalogue", "auth", "gate"),
}
"""For each package of ``gateway``, the packages it must not import. The request gate
(``gate``) is the HTTP entrypoint's: only ``app`` uses it, and ``ops`` plugs into its
hooks."""

# The policy's SQL form lives beside the catalogue it filters and imports the pure policy
# (``catalogue -> auth.policy``); the policy itself imports nothing of the gateway's.


def imports_of(path: Path) -> set[str]:
    """The ``gateway`` modules a file imports."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return {name for name in found if name.startswith("gateway.")}


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_a_package_imports_no_outer_layer(package: str) -> None:
    offending = [
        f"{path.relative_to(PACKAGE.parent)} imports {module}"
        for path in sorted((PACKAGE / package).rglob("*.py"))
        for module in sorted(imports_of(path))
        if module.split(".")[1] in FORBIDDEN[package]
    ]
    assert not offending, offending


def test_the_auth_package_imports_nothing_outward_except_settings_and_errors() -> None:
    """``auth`` may use the settings and the typed errors; nothing else of the gateway's
    but itself (the check above names the layers; this catches a new one)."""
    allowed = ("gateway.auth", "gateway.errors", "gateway.settings")
    offending = [
        f"{path.name} imports {module}"
        for path in sorted((PACKAGE / "auth").rglob("*.py"))
        for module in sorted(imports_of(path))
        if not module.startswith(allowed)
    ]
    assert not offending, offending


def test_the_check_reads_function_level_imports(tmp_path: Path) -> None:
    source = tmp_path / "module.py"
    source.write_text("def f():\n    from gateway.schema.node import global_id\n")
    assert imports_of(source) == {"gateway.schema.node"}


def test_sessions_default_order_is_the_catalogues() -> None:
    """Operation plans take the default order from the catalogue, the API from its input
    type's defaults: both must say newest first."""
    assert InvestigationOrder().key() == NEWEST_FIRST
