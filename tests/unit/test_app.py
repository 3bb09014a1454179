"""Who counts as staff: configured user names or identity-provider groups."""

from __future__ import annotations

from gateway.app import caller_of
from gateway.auth.principal import ANONYMOUS, Principal
from gateway.settings import Settings

SETTINGS = Settings(staff_users=frozenset({"esrf/boss"}), staff_groups=frozenset({"/staff"}))


def test_staff_by_user_name() -> None:
    assert caller_of(Principal("esrf/boss", via="oidc"), SETTINGS).is_staff


def test_staff_by_group() -> None:
    principal = Principal("esrf/jdoe", frozenset({"/id23", "/staff"}), via="oidc")
    assert caller_of(principal, SETTINGS).is_staff


def test_others_are_not_staff() -> None:
    scientist = Principal("esrf/jdoe", frozenset({"/id23"}), via="oidc")
    assert not caller_of(scientist, SETTINGS).is_staff
    caller = caller_of(ANONYMOUS, SETTINGS)
    assert caller.is_anonymous and not caller.is_staff


def test_settings_from_the_environment() -> None:
    settings = Settings.from_env(
        {
            "ICAT_GATEWAY_STAFF_GROUPS": "/staff, /admins",
            "ICAT_GATEWAY_MAIN_PROPOSER_ROLES": "Principal Investigator,PI",
            "ICAT_GATEWAY_MAX_PAGE_SIZE": "500",
            "ICAT_GATEWAY_EMBEDDED": "false",
        }
    )
    assert settings.staff_groups == {"/staff", "/admins"}
    assert settings.main_proposer_roles == {"principal investigator", "pi"}
    assert settings.max_page_size == 500 and settings.embedded is False
