"""The command line before the settings are right: it makes keys and says what is missing."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from cryptography.fernet import Fernet

from syndicate.cli import main
from syndicate.sharing.signing import Signer

# A production host on the day of installation: none of the required settings exist yet.
UNCONFIGURED = {
    "SYNDICATE_ENV": "production",
    "SYNDICATE_SECRET_KEY": None,
    "SYNDICATE_SITE_URL": None,
    "SYNDICATE_TOKEN_KEYS": None,
    "SYNDICATE_SHARING_SIGNING_KEY": None,
}


@pytest.mark.parametrize(
    "command, check",
    [
        (["tokens", "new-key"], lambda key: Fernet(key)),
        (["sharing", "new-key"], lambda key: Signer(key)),
    ],
)
def test_keys_can_be_made_before_the_settings_that_need_them_exist(command, check):
    first = CliRunner().invoke(main, command, env=UNCONFIGURED)
    second = CliRunner().invoke(main, command, env=UNCONFIGURED)
    assert first.exit_code == 0, first.output
    check(first.output.strip())  # raises if it is not a usable key
    assert first.output != second.output


@pytest.mark.parametrize("command", [["db", "current"], ["sharing", "re-sign"]])
def test_commands_that_need_the_app_name_the_missing_settings_without_a_traceback(command):
    result = CliRunner().invoke(main, command, env=UNCONFIGURED)
    assert result.exit_code == 1
    assert "Error: Production needs these settings:" in result.output
    assert "SYNDICATE_SHARING_SIGNING_KEY" in result.output
    # Handled by the command line (a ConfigError would be the exception otherwise).
    assert isinstance(result.exception, SystemExit)


def test_help_lists_what_works_and_names_the_missing_settings():
    result = CliRunner().invoke(main, ["--help"], env=UNCONFIGURED)
    assert result.exit_code == 0
    assert "Error: Production needs these settings:" in result.output
    assert "Traceback" not in result.output
    for usable in ("doctor", "tokens", "sharing"):
        assert f"\n  {usable} " in result.output
