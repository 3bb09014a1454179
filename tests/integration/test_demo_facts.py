"""The README's list of demo users is what the demo `scripts/serve` seeds really holds."""

from __future__ import annotations

from pathlib import Path

from gateway.app import demo_users
from gateway.catalogue.database import create_engine
from gateway.catalogue.demo import DemoSize, default_anchor, seed_if_empty
from gateway.catalogue.demo_facts import BEGIN, END, describe_demo_users
from gateway.settings import Settings

README = Path(__file__).resolve().parents[2] / "README.md"


async def test_the_readme_says_what_the_served_demo_holds(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/served.sqlite3")
    # what `icat-gateway serve` (scripts/serve) seeds into an empty embedded catalogue
    await seed_if_empty(settings, DemoSize.for_sessions(200))
    engine = create_engine(settings)
    try:
        async with engine.connect() as connection:
            generated = await describe_demo_users(connection, demo_users(), default_anchor())
    finally:
        await engine.dispose()
    text = README.read_text()
    assert BEGIN in text and END in text, "README.md has no generated list of demo users"
    current = text[text.index(BEGIN) : text.index(END) + len(END)] + "\n"
    assert current == generated, (
        "README.md's demo users drifted from the demo: paste the output of "
        "`icat-gateway demo --describe-users` on a freshly served catalogue"
    )
