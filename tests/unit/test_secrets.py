"""Credentials are read at the boundary, from the variable a ``*_env`` setting names, and never shown."""

import pytest

from ci.core import secrets
from ci.core.errors import ConfigError
from ci.tasks._boundary import Settings


def settings(context, yaml_text="ci: {}\n"):
    return Settings(context(yaml_text)).validate()


def test_a_variable_comes_from_the_name_the_setting_holds(context, monkeypatch):
    monkeypatch.setenv("REG_USER", "robot")
    monkeypatch.delenv("DSCI_REGISTRY_USER", raising=False)
    s = settings(context, "ci:\n  push:\n    username_env: REG_USER\n")
    assert s.variable("push.username_env") == "robot"
    assert settings(context).variable("push.username_env") == ""  # the default name, unset: no login


def test_a_missing_credential_is_one_config_error_naming_setting_and_variable(context, monkeypatch):
    monkeypatch.delenv("PRIVATE_INDEX", raising=False)
    s = settings(context, "ci:\n  image:\n    index_url_env: PRIVATE_INDEX\n")
    with pytest.raises(ConfigError) as caught:
        s.secret("image.index_url_env", "")
    assert str(caught.value) == "ci.image.index_url_env: the environment variable PRIVATE_INDEX is not set"
    with pytest.raises(ConfigError) as caught:
        settings(context, "ci:\n  azure:\n    token_env: ''\n").secret(
            "azure.token_env", "Azure needs a token"
        )
    assert str(caught.value) == (
        "ci.azure.token_env is empty: name the environment variable that holds it: Azure needs a token"
    )


def test_every_credential_read_is_masked_in_what_is_shown(context, monkeypatch):
    monkeypatch.setenv("SMTP_PASSWORD", "hunter2-s3cret")
    s = settings(context, "ci:\n  notify:\n    password_env: SMTP_PASSWORD\n")
    assert s.secret("notify.password_env") == "hunter2-s3cret"
    assert secrets.mask("login refused for hunter2-s3cret") == "login refused for ***"
