import json
import re
from importlib import resources
from pathlib import Path

import jsonschema
import pytest
import yaml

from ci.core import config, precheck, text
from ci.core.errors import ConfigError
from ci.tasks._boundary import Settings

REPO = Path(__file__).parents[2]


def settings(invoke_config, text):
    class C:
        config = invoke_config(text)

    return Settings(C())


def test_every_setting_has_a_default_that_its_declaration_accepts_and_a_description():
    import msgspec

    from ci.core.settings import Settings

    assert msgspec.convert(config.defaults(), Settings) == Settings()
    for path, node in config.sections(config.json_schema()):
        assert node.get("description"), config.dotted(path)


def test_defaults_are_fresh_copies():
    first = config.defaults()
    first["test"]["paths"].append("mutated")
    assert config.defaults()["test"]["paths"] == ["tests"]


def test_wrong_type_names_file_line_key_value_and_expectation(invoke_config):
    s = settings(invoke_config, "ci:\n  test:\n    paths: 5\n")
    with pytest.raises(ConfigError) as caught:
        s.validate()
    assert str(caught.value) == "invoke.yaml:3: ci.test.paths must be a list of strings, got 5"


def test_unknown_key_names_closest_valid_key(invoke_config):
    s = settings(invoke_config, "ci:\n  tset: {}\n")
    with pytest.raises(ConfigError) as caught:
        s.validate()
    assert str(caught.value) == "invoke.yaml:2: unknown key ci.tset; did you mean ci.test?"


def test_unknown_key_with_nothing_close_lists_valid_keys(invoke_config):
    s = settings(invoke_config, "ci:\n  test:\n    zzz: 1\n")
    with pytest.raises(ConfigError, match=r"unknown key ci.test.zzz; valid keys here: args, coverage_source"):
        s.validate()


def test_number_out_of_range_says_the_range(invoke_config):
    s = settings(invoke_config, "ci:\n  test:\n    min_coverage: high\n")
    with pytest.raises(ConfigError) as caught:
        s.validate()
    assert str(caught.value) == (
        'invoke.yaml:3: ci.test.min_coverage must be a number between 0 and 100, got "high"'
    )


def test_boolean_is_not_a_number(invoke_config):
    s = settings(invoke_config, "ci:\n  test:\n    min_coverage: true\n")
    with pytest.raises(ConfigError, match="must be a number between 0 and 100, got true"):
        s.validate()


def test_value_from_environment_variable_names_the_variable(invoke_config, monkeypatch):
    monkeypatch.setenv("INVOKE_CI_REPORT_DIR", "out")
    s = settings(invoke_config, "ci: {}\n")
    s.tree["report_dir"] = 7  # as if the variable had been cast to a number
    with pytest.raises(
        ConfigError, match=r"^environment variable INVOKE_CI_REPORT_DIR: ci\.report_dir must be"
    ):
        s.validate()


def test_valid_config_passes_and_reads_values(invoke_config):
    s = settings(invoke_config, "ci:\n  test:\n    min_coverage: 75\n    args: [-x]\n").validate()
    assert s.get("test.min_coverage") == 75
    assert s.get("test.args") == ["-x"]
    assert s.get("lint.paths") == ["."]


def test_command_line_beats_config(invoke_config):
    s = settings(invoke_config, "ci:\n  test:\n    min_coverage: 75\n    paths: [tests]\n").validate()
    assert s.get("test.min_coverage", "90", "--min-coverage") == 90.0
    assert s.get("test.paths", "a,b", "--paths") == ["a", "b"]
    assert s.get("test.args", "-k 'not slow'", "--args") == ["-k", "not slow"]
    assert s.get("lint.format", "false", "--format") is False
    assert s.get("all.keep_going", True) is True


def test_bad_command_line_value_names_the_flag(invoke_config):
    s = settings(invoke_config, "ci: {}\n").validate()
    with pytest.raises(ConfigError) as caught:
        s.get("test.min_coverage", "lots", "--min-coverage")
    assert str(caught.value) == '--min-coverage must be a number between 0 and 100, got "lots"'
    with pytest.raises(ConfigError, match='--format must be true or false, got "maybe"'):
        s.get("lint.format", "maybe", "--format")


def test_yaml_syntax_error_names_file_line_and_column(project):
    (project / "invoke.yaml").write_text("ci:\n  test:\n    paths: [tests\n  lint: {}\n")
    with pytest.raises(ConfigError) as caught:
        precheck.check_project_file(project)
    message = str(caught.value)
    assert message.startswith("invoke.yaml:4:")
    assert "not valid YAML" in message and "fix the file" in message
    assert "\n" not in message


def test_project_file_shape_errors_that_would_crash_invoke_are_caught_early(project):
    (project / "invoke.yaml").write_text("ci:\n  test: 5\n")
    with pytest.raises(ConfigError, match=r"^invoke.yaml:2: ci.test must be a mapping of settings, got 5$"):
        precheck.check_project_file(project)
    (project / "invoke.yaml").write_text("ci:\n  test:\n    paths: {a: 1}\n")
    with pytest.raises(ConfigError, match=r"^invoke.yaml:3: ci.test.paths must be a list of strings"):
        precheck.check_project_file(project)


def test_project_file_check_leaves_plain_mistakes_to_stage_time_validation(project):
    (project / "invoke.yaml").write_text("ci:\n  tset: {}\n  test:\n    paths: 5\n")
    precheck.check_project_file(project)  # invoke --list must still work


def test_project_file_that_is_not_a_mapping_is_refused(project):
    (project / "invoke.yaml").write_text("- ci\n")
    with pytest.raises(ConfigError, match=r"^invoke.yaml: must hold a mapping of settings, got \[\"ci\"\]$"):
        precheck.check_project_file(project)


def test_shipped_schema_is_current():
    shipped = resources.files("ci").joinpath("resources", config.SCHEMA_RESOURCE).read_text()
    assert shipped == config.schema_text(), "run `invoke schema` and commit the result"


@pytest.mark.parametrize("path", ["invoke.yaml", "examples/clinic/invoke.yaml"])
def test_schema_accepts_the_repositorys_own_settings(path):
    document = yaml.safe_load((REPO / path).read_text())
    jsonschema.validate(document, config.json_schema())


def test_schema_accepts_defaults_and_refuses_bad_values():
    schema = config.json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate({"ci": config.defaults()}, schema)
    for bad in (
        {"ci": {"test": {"paths": 5}}},
        {"ci": {"tset": {}}},
        {"ci": {"test": {"min_coverage": 101}}},
    ):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, schema)


def test_reference_lists_every_key():
    table = config.reference()
    for path, _ in config.sections(config.json_schema()):
        assert f"`{config.dotted(path)}`" in table


def test_show_writes_values_as_json():
    assert text.show("high") == '"high"'
    assert text.show([1, "a"]) == '[1, "a"]'
    assert json.loads(text.show({"a": None})) == {"a": None}


def test_readme_reference_is_current():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert config.reference() in readme, "run `invoke schema` and commit the result"


@pytest.mark.parametrize(
    ("variable", "value", "project", "expected"),
    [
        (
            "INVOKE_CI_TEST_MIN_COVERAGE",
            "abc",
            {},
            "environment variable INVOKE_CI_TEST_MIN_COVERAGE: ci.test.min_coverage must be "
            'a number between 0 and 100, got "abc"',
        ),
        (
            "INVOKE_CI_TEST_MIN_COVERAGE",
            "92.5",
            {"test": {"min_coverage": 80}},
            "environment variable INVOKE_CI_TEST_MIN_COVERAGE: ci.test.min_coverage must be "
            'a number between 0 and 100 (a whole number, as invoke.yaml has one), got "92.5"',
        ),
        (
            "INVOKE_CI_ALL_KEEP_GOING",
            "false",
            {},
            "environment variable INVOKE_CI_ALL_KEEP_GOING: ci.all.keep_going must be 1 or 0 "
            '(Invoke reads anything else as true), got "false"',
        ),
        (
            "INVOKE_CI_TEST_PATHS",
            "src",
            {},
            "environment variable INVOKE_CI_TEST_PATHS: ci.test.paths is a list, which Invoke "
            "cannot read from the environment; set it in invoke.yaml",
        ),
    ],
)
def test_environment_values_invoke_would_crash_on_or_misread_are_refused(variable, value, project, expected):
    with pytest.raises(ConfigError) as caught:
        precheck.check_environment({variable: value}, project)
    assert str(caught.value) == expected


def test_environment_values_invoke_can_read_pass():
    environ = {
        "INVOKE_CI_TEST_MIN_COVERAGE": "92.5",
        "INVOKE_CI_ALL_KEEP_GOING": "1",
        "INVOKE_CI_REPORT_DIR": "x",
    }
    precheck.check_environment(environ, {})
    precheck.check_environment({"INVOKE_CI_TEST_MIN_COVERAGE": "92"}, {"test": {"min_coverage": 80}})


@pytest.mark.parametrize(("value", "message"), [
    ("", "INVOKE_RUNTIME_CONFIG: '' is no settings file; name one, or unset the variable"),
    ("tenants/north.yaml", "INVOKE_RUNTIME_CONFIG: 'tenants/north.yaml' is no settings file"),
])  # fmt: skip
def test_a_runtime_settings_file_invoke_would_skip_or_crash_on_is_refused(project, value, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        precheck.check_runtime_file({"INVOKE_RUNTIME_CONFIG": value})


def test_a_runtime_settings_file_is_checked_like_invoke_yaml(project):
    (project / "north.yaml").write_text("ci:\n  lint: [src]\n")
    with pytest.raises(ConfigError, match=r"north.yaml:2: ci.lint must be a mapping of settings"):
        precheck.check_runtime_file({"INVOKE_RUNTIME_CONFIG": "north.yaml"})
    (project / "north.yaml").write_text("ci:\n  lint:\n    paths: [src]\n")
    assert precheck.check_runtime_file({"INVOKE_RUNTIME_CONFIG": "north.yaml"}) == {
        "lint": {"paths": ["src"]}
    }
    assert precheck.check_runtime_file({}) == {}
