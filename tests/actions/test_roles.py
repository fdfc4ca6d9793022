"""assign_role's bad input: a role name that is not a built-in one is refused, naming the known ones."""

from __future__ import annotations

import pytest

from pytest_acalab.actions.roles import BUILTIN_ROLES, role_id
from pytest_acalab.errors import ActionError


def test_role_names_are_matched_case_insensitively() -> None:
    assert role_id("key vault secrets user") == BUILTIN_ROLES["Key Vault Secrets User"]


def test_an_unknown_role_is_refused_naming_the_known_ones() -> None:
    with pytest.raises(ActionError) as refused:
        role_id("Key Vault Secret User")
    assert "unknown built-in role 'Key Vault Secret User'" in str(refused.value)
    assert "Key Vault Secrets User" in str(refused.value)
