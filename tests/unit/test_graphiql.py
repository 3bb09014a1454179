"""GraphiQL from the package: its files, the page, and no CDN anywhere."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest

from gateway.app import create_app
from gateway.graphiql import assets
from gateway.graphiql.page import EXAMPLE_QUERY, GraphiQLPage
from gateway.settings import Settings

PACKAGE = Path(assets.__file__).resolve().parents[1]
CDN = re.compile(r"https?://[^\s\"'<>)]*(unpkg|jsdelivr|cdnjs|esm\.sh)", re.IGNORECASE)


def served_files() -> list[Path]:
    """Every file of the package that a browser may be sent (and the code that sends it)."""
    return [path for path in PACKAGE.rglob("*") if path.is_file() and path.suffix != ".pyc"]


def test_no_cdn_url_in_the_package() -> None:
    found = [
        f"{path.relative_to(PACKAGE)}: {match.group(0)}"
        for path in served_files()
        for match in CDN.finditer(path.read_text(errors="replace"))
    ]
    assert not found, found


def fake_node_modules(root: Path) -> Path:
    for package in assets.PACKAGES:
        (root / package).mkdir(parents=True, exist_ok=True)
        (root / package / "package.json").write_text(json.dumps({"version": "3.0.1"}))
    for source in assets.FILES.values():
        (root / source).parent.mkdir(parents=True, exist_ok=True)
        (root / source).write_text(f"/* {source} */")
    return root


def test_build_copies_the_files_under_a_path_naming_their_versions(tmp_path: Path) -> None:
    static = tmp_path / "static"
    built = assets.build(fake_node_modules(tmp_path / "node_modules"), static)
    assert sorted(p.name for p in static.iterdir()) == sorted([*assets.FILES, "manifest.json"])
    assert assets.installed(static) == built
    assert re.fullmatch(r"graphiql-3\.0\.1-[0-9a-f]{8}", built.tag)
    # Other file contents, another path: a cached copy is never served for new files.
    (tmp_path / "node_modules" / "react/umd/react.production.min.js").write_text("/* 2 */")
    assert assets.build(tmp_path / "node_modules", static).tag != built.tag


def test_build_says_what_is_missing(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="npm ci"):
        assets.build(tmp_path, tmp_path / "static")
    assert assets.installed(tmp_path / "static") is None


async def get(settings: Settings, path: str, page: GraphiQLPage | None = None) -> httpx.Response:
    app = create_app(settings)
    if page is not None:
        app.state.gate.page = page
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as http,
    ):
        return await http.get(path, headers={"Accept": "text/html"})


@pytest.mark.skipif(assets.installed() is None, reason="GraphiQL's files are not built")
async def test_the_page_loads_the_packages_files_with_long_cache_headers(
    sqlite_settings: Settings,
) -> None:
    response = await get(sqlite_settings, "/graphql")
    assert response.status_code == 200
    assert not CDN.search(response.text)
    assert not re.search(r"(src|href)=\"https?:", response.text)
    sources = re.findall(r"(?:src|href)=\"(/static/[^\"]+)\"", response.text)
    assert len(sources) == 6 and "MyData" in response.text
    app = create_app(sqlite_settings)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as h:
        for source in sources:
            file = await h.get(source)
            assert file.status_code == 200, source
            assert file.headers["cache-control"] == "public, max-age=31536000, immutable"


async def test_without_its_files_the_page_says_so(sqlite_settings: Settings) -> None:
    page = GraphiQLPage(None, missing_from="/nowhere")
    response = await get(sqlite_settings, "/graphql", page)
    assert response.status_code == 503
    assert "were not built" in response.text and "scripts/install" in response.text


async def test_the_root_leads_to_graphiql(sqlite_settings: Settings) -> None:
    app = create_app(sqlite_settings)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as h:
        response = await h.get("/")
    assert response.status_code == 307 and response.headers["location"] == "/graphql"


def test_the_example_query_is_my_data_with_comments() -> None:
    assert EXAMPLE_QUERY.startswith("#")
    assert "me {" in EXAMPLE_QUERY and "datasets { totalCount }" in EXAMPLE_QUERY
