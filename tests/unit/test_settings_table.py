"""README's settings table is the one generated from `Settings`."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

from gateway.settings import PREFIX, Settings
from gateway.settings_table import BEGIN, END, descriptions, settings_table

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_readme_lists_every_setting_as_generated() -> None:
    text = README.read_text()
    assert BEGIN in text and END in text, "README.md has no generated settings table"
    current = text[text.index(BEGIN) : text.index(END) + len(END)] + "\n"
    assert current == settings_table(), (
        "README.md's settings table is stale: paste the output of `icat-gateway settings`"
    )


def test_every_setting_has_a_row_and_its_docstring() -> None:
    table = settings_table()
    meanings = descriptions()
    for field in fields(Settings):
        assert f"`{PREFIX}{field.name.upper()}`" in table
        if field.name in meanings:
            assert meanings[field.name] in table.replace("\\|", "|")
    assert meanings["demo_login"].startswith("Sign in as the demo's fixed users")
