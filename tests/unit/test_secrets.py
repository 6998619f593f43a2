"""Credentials are read at the boundary, from the variable a ``*_env`` setting names, and never shown."""

import pytest
from invoke import Exit

from ci.core import secrets
from ci.core.errors import ConfigError
from ci.tasks._boundary import Settings, boundary


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


def test_a_credential_in_an_error_is_masked_in_what_the_boundary_prints(context, monkeypatch, capsys):
    monkeypatch.setenv("SMTP_PASSWORD", "hunter2-s3cret")
    s = settings(context, "ci:\n  notify:\n    password_env: SMTP_PASSWORD\n")
    password = s.secret("notify.password_env")
    with pytest.raises(Exit) as caught, boundary():
        raise ConfigError(f"the SMTP server refused the password {password}")
    assert caught.value.code == 2
    assert capsys.readouterr().err == "error: the SMTP server refused the password ***\n"


def test_a_user_name_is_no_secret_and_stays_readable(context, monkeypatch):
    monkeypatch.setenv("REG_USER", "robot-account")
    s = settings(context, "ci:\n  push:\n    username_env: REG_USER\n")
    assert s.variable("push.username_env") == "robot-account"
    assert secrets.mask("login as robot-account refused") == "login as robot-account refused"


def test_the_image_stage_asks_for_its_index_before_it_builds_anything(context, project, monkeypatch, capsys):
    from ci.tasks import image

    monkeypatch.delenv("PRIVATE_INDEX", raising=False)
    c = context("ci:\n  model:\n    path: m.joblib\n  image:\n    index_url_env: PRIVATE_INDEX\n")
    with pytest.raises(Exit) as caught:
        image.image(c)
    assert caught.value.code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        "error: ci.image.index_url_env: the environment variable PRIVATE_INDEX is not set"
    )
