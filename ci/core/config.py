"""The ``ci:`` tree of invoke.yaml: every key declared once, with its default.

``SETTINGS`` is the single source of truth. From it come the defaults handed
to Invoke (``defaults()``), the validation run before a stage
(``validate()``), the JSON Schema shipped in the package (``json_schema()``)
and the config reference in the README (``reference()``).
"""

from __future__ import annotations

import copy
import json
import os
import shlex
from collections.abc import Callable, Iterable, Iterator, Mapping
from functools import partial
from pathlib import Path
from typing import Any, ClassVar

from ci.core.errors import ConfigError
from ci.core.text import closest, display, show

SCHEMA_RESOURCE = "config.schema.json"
TASKS = ("binary", "multiclass", "regression")
GATE_MODES = ("enforce", "dry-run", "disabled")


class Problem:
    """What is wrong with a value, at ``path`` below the setting: a wrong value or an unknown key."""

    __slots__ = ("expected", "hint", "keys", "missing", "path")

    def __init__(
        self,
        path: tuple[str, ...],
        expected: str = "",
        keys: tuple[str, ...] = (),
        *,
        hint: str | None = None,
        missing: bool = False,
    ) -> None:
        self.path = path
        self.expected = expected
        self.keys = keys  # for an unknown key: the keys valid there
        self.hint = hint  # the value the user probably meant
        self.missing = missing  # a required key is not there

    def below(self, key: str) -> Problem:
        """The same problem, seen from one level up."""
        return Problem((key, *self.path), self.expected, self.keys, hint=self.hint, missing=self.missing)


class Kind:
    """What a setting's value may be: checks values, parses command-line text, describes itself."""

    expected = "a value"

    def accepts(self, value: Any) -> bool:
        raise NotImplementedError

    def problem(self, value: Any) -> Problem | None:
        """The first thing wrong with ``value``, or None."""
        return None if self.accepts(value) else Problem((), self.expected)

    def schema(self) -> dict[str, Any]:
        raise NotImplementedError

    def parse(self, text: str) -> Any:
        """Turn command-line text into a value; ValueError when it cannot, or the value is not accepted."""
        value = self.convert(text)
        if not self.accepts(value):
            raise ValueError(text)
        return value

    def convert(self, text: str) -> Any:
        """Command-line text as a value of this kind's type (before the kind's own checks)."""
        return text


class Str(Kind):
    expected = "a string"

    def accepts(self, value: Any) -> bool:
        return isinstance(value, str)

    def schema(self) -> dict[str, Any]:
        return {"type": "string"}


class Bool(Kind):
    expected = "true or false"

    def accepts(self, value: Any) -> bool:
        return isinstance(value, bool)

    def schema(self) -> dict[str, Any]:
        return {"type": "boolean"}

    def parse(self, text: str) -> bool:
        lowered = text.strip().lower()
        if lowered in {"1", "true", "yes", "on"}:
            return True
        if lowered in {"0", "false", "no", "off"}:
            return False
        raise ValueError(text)


class Number(Kind):
    def __init__(self, minimum: float | None = None, maximum: float | None = None) -> None:
        self.minimum = minimum
        self.maximum = maximum

    @property
    def expected(self) -> str:  # type: ignore[override]
        if self.minimum is not None and self.maximum is not None:
            return f"a number between {self.minimum:g} and {self.maximum:g}"
        if self.minimum is not None:
            return f"a number of at least {self.minimum:g}"
        return "a number"

    def accepts(self, value: Any) -> bool:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        too_low = self.minimum is not None and value < self.minimum
        too_high = self.maximum is not None and value > self.maximum
        return not (too_low or too_high)

    def schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "number"}
        if self.minimum is not None:
            schema["minimum"] = self.minimum
        if self.maximum is not None:
            schema["maximum"] = self.maximum
        return schema

    def convert(self, text: str) -> float:
        return float(text)


class ListOf(Kind):
    def __init__(self, item: Kind) -> None:
        self.item = item

    @property
    def expected(self) -> str:  # type: ignore[override]
        return f"a list of {self.item.expected.removeprefix('a ').removeprefix('an ')}s"

    def accepts(self, value: Any) -> bool:
        return isinstance(value, list) and all(self.item.accepts(v) for v in value)

    def problem(self, value: Any) -> Problem | None:
        if not isinstance(value, list):
            return Problem((), self.expected)
        if isinstance(self.item, (Record, Tagged)):  # say which entry, and what in it
            for index, item in enumerate(value):
                found = self.item.problem(item)
                if found:
                    return found.below(f"[{index}]")
            return None
        return None if self.accepts(value) else Problem((), self.expected)

    def schema(self) -> dict[str, Any]:
        return {"type": "array", "items": self.item.schema()}

    def parse(self, text: str) -> list[Any]:
        """Command lines give lists comma-separated: ``--paths src,tests``."""
        return [self.item.parse(part.strip()) for part in text.split(",") if part.strip()]


class Choice(Kind):
    def __init__(self, values: tuple[str, ...]) -> None:
        self.values = values

    @property
    def expected(self) -> str:  # type: ignore[override]
        return "one of " + ", ".join(show(v) for v in self.values)

    def accepts(self, value: Any) -> bool:
        return value in self.values

    def problem(self, value: Any) -> Problem | None:
        if self.accepts(value):
            return None
        return Problem((), self.expected, hint=closest(str(value), self.values) if value else None)

    def schema(self) -> dict[str, Any]:
        return {"enum": list(self.values)}


class Maybe(Kind):
    """A value of ``kind``, or null for "not set"."""

    def __init__(self, kind: Kind) -> None:
        self.kind = kind

    @property
    def expected(self) -> str:  # type: ignore[override]
        return f"{self.kind.expected} or null"

    def accepts(self, value: Any) -> bool:
        return value is None or self.kind.accepts(value)

    def schema(self) -> dict[str, Any]:
        return {"anyOf": [self.kind.schema(), {"type": "null"}]}

    def parse(self, text: str) -> Any:
        return self.kind.parse(text)


class Record(Kind):
    """A mapping with known keys, each of its own kind; keys left out take no value."""

    def __init__(
        self,
        fields: Mapping[str, Kind],
        expected: str = "a mapping of settings",
        required: tuple[str, ...] = (),
    ) -> None:
        self.fields = fields
        self.expected = expected
        self.required = required

    def accepts(self, value: Any) -> bool:
        return self.problem(value) is None

    def problem(self, value: Any) -> Problem | None:
        if not isinstance(value, Mapping):
            return Problem((), self.expected)
        for key, item in value.items():
            if key not in self.fields:
                return Problem((str(key),), keys=tuple(self.fields))
            found = self.fields[key].problem(item)
            if found:
                return found.below(key)
        for key in self.required:
            if key not in value:
                return Problem((key,), self.fields[key].expected, missing=True)
        return None

    def schema(self) -> dict[str, Any]:
        properties = {key: kind.schema() for key, kind in self.fields.items()}
        schema = {"type": "object", "properties": properties, "additionalProperties": False}
        return {**schema, "required": list(self.required)} if self.required else schema


class Tagged(Kind):
    """A mapping whose ``tag`` key picks which fields it takes: ``{type: range, column: x, min: 0}``."""

    def __init__(self, tag: str, variants: Mapping[str, Record], common: Mapping[str, Kind]) -> None:
        self.tag = tag
        self.variants = variants
        self.common = common
        self.expected = f"a mapping with {tag}: one of {', '.join(variants)}"

    def accepts(self, value: Any) -> bool:
        return self.problem(value) is None

    def record(self, name: str) -> Record:
        """The fields of one variant, the tag and the common ones included."""
        variant = self.variants[name]
        fields = {self.tag: Choice(tuple(self.variants)), **self.common, **variant.fields}
        return Record(fields, self.expected, (self.tag, *variant.required))

    def problem(self, value: Any) -> Problem | None:
        if not isinstance(value, Mapping):
            return Problem((), self.expected)
        if self.tag not in value:
            return Problem((self.tag,), Choice(tuple(self.variants)).expected, missing=True)
        found = Choice(tuple(self.variants)).problem(value[self.tag])
        if found:
            return found.below(self.tag)
        return self.record(value[self.tag]).problem(value)

    def schema(self) -> dict[str, Any]:
        return {
            "type": "object",
            "required": [self.tag],
            "properties": {self.tag: {"enum": list(self.variants)}},
            "allOf": [
                {"if": {"properties": {self.tag: {"const": name}}}, "then": self.record(name).schema()}
                for name in self.variants
            ],
        }


class MapOf(Kind):
    """A mapping from names the user chooses (``what``) to values of one kind."""

    def __init__(self, item: Kind, what: str = "a name") -> None:
        self.item = item
        self.what = what

    @property
    def expected(self) -> str:  # type: ignore[override]
        return f"a mapping from {self.what} to {self.item.expected}"

    def accepts(self, value: Any) -> bool:
        return self.problem(value) is None

    def problem(self, value: Any) -> Problem | None:
        if not isinstance(value, Mapping):
            return Problem((), self.expected)
        for key, item in value.items():
            found = self.item.problem(item)
            if found:
                return found.below(str(key))
        return None

    def schema(self) -> dict[str, Any]:
        return {"type": "object", "additionalProperties": self.item.schema()}


class Args(ListOf):
    """Extra arguments for a tool: a list in config, a shell-quoted string on the command line."""

    def __init__(self) -> None:
        super().__init__(Str())

    @property
    def expected(self) -> str:  # type: ignore[override]
        return "a list of strings (one argument each)"

    def parse(self, text: str) -> list[str]:
        return shlex.split(text)


class Setting:
    """One key of the ``ci:`` tree: its default, the kind of value it takes, what it means."""

    __slots__ = ("default", "help", "kind")

    def __init__(self, default: Any, kind: Kind, help: str) -> None:  # noqa: A002 - the word is right
        self.default = default
        self.kind = kind
        self.help = help


class Scalar(Kind):
    expected = "a string, number or boolean"

    def accepts(self, value: Any) -> bool:
        return isinstance(value, (str, int, float, bool))

    def schema(self) -> dict[str, Any]:
        return {"type": ["string", "number", "boolean"]}


class Duration(Kind):
    """A span of time written as a number and a unit: ``90m``, ``36h``, ``7d``, ``2w``."""

    expected = 'a duration such as "90m", "36h", "7d" or "2w"'
    PATTERN = r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$"
    SECONDS: ClassVar[dict[str, int]] = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}

    def accepts(self, value: Any) -> bool:
        import re

        return isinstance(value, str) and re.match(self.PATTERN, value) is not None

    def schema(self) -> dict[str, Any]:
        return {"type": "string", "pattern": self.PATTERN}

    @classmethod
    def seconds(cls, text: str) -> float:
        import re

        number, unit = re.match(cls.PATTERN, text).groups()  # type: ignore[union-attr]
        return float(number) * cls.SECONDS[unit]


DTYPES = ("int", "float", "str", "bool", "date", "datetime", "categorical")
_COLUMN, _COLUMNS = Str(), ListOf(Str())

# The checks a dataset can declare under ci.data.datasets[].checks; ci/data/ implements each.
CHECK = Tagged(
    "type",
    {
        "schema": Record(
            {
                "columns": MapOf(Choice(DTYPES), what="column names"),
                "extra_columns": Choice(("allow", "fail")),
            },
            required=("columns",),
        ),
        "not_null": Record({"columns": _COLUMNS}, required=("columns",)),
        "null_fraction": Record({"column": _COLUMN, "max": Number(0, 1)}, required=("column", "max")),
        "unique": Record({"columns": _COLUMNS}, required=("columns",)),
        "range": Record(
            {"column": _COLUMN, "min": Maybe(Number()), "max": Maybe(Number()), "inclusive": Bool()},
            required=("column",),
        ),
        "allowed": Record({"column": _COLUMN, "values": ListOf(Scalar())}, required=("column", "values")),
        "regex": Record({"column": _COLUMN, "pattern": Str()}, required=("column", "pattern")),
        "length": Record(
            {"column": _COLUMN, "min": Maybe(Number(0)), "max": Maybe(Number(0))}, required=("column",)
        ),
        "row_count": Record({"min": Maybe(Number(0)), "max": Maybe(Number(0))}),
        "freshness": Record({"column": _COLUMN, "max_age": Duration()}, required=("column", "max_age")),
        "expression": Record({"expr": Str()}, required=("expr",)),
        "drift": Record(
            {
                "column": _COLUMN,
                "method": Choice(("psi", "ks", "chi2")),
                "threshold": Number(0),
                "bins": Number(2, 100),
            },
            required=("column",),
        ),
        "pii": Record({}),
    },
    common={"name": Str(), "severity": Choice(("error", "warn")), "tolerance": Number(0, 1)},
)

SETTINGS: dict[str, Any] = {
    "report_dir": Setting("build/ci", Str(), "Folder for report.json, junit.xml, summary.md and plots."),
    "all": {
        "keep_going": Setting(
            False, Bool(), "Run the remaining stages after one fails (ci.all --keep-going)."
        ),
        "skip": Setting([], ListOf(Str()), "Stages that ci.all leaves out (ci.all --skip)."),
    },
    "lint": {
        "paths": Setting(["."], ListOf(Str()), "Files and folders that ruff checks."),
        "format": Setting(True, Bool(), "Also require `ruff format --check` to pass."),
    },
    "test": {
        "paths": Setting(["tests"], ListOf(Str()), "Test files and folders given to pytest."),
        "args": Setting([], Args(), "Extra pytest arguments, e.g. [-x, -k, 'not slow']."),
        "min_coverage": Setting(
            0.0,
            Number(0, 100),
            "Fail the stage when line coverage, in percent, is below this; 0 turns it off.",
        ),
        "coverage_source": Setting(
            [],
            ListOf(Str()),
            "Packages or folders coverage measures; empty leaves it to coverage's own config.",
        ),
    },
    "data": {
        "datasets": Setting(
            [],
            ListOf(
                Record(
                    {
                        "name": Str(),
                        "path": Str(),
                        "format": Choice(("auto", "csv", "parquet")),
                        "reference": Str(),
                        "sensitive": ListOf(Str()),
                        "pii_allowed": ListOf(Str()),
                        "checks": ListOf(CHECK),
                    },
                    expected="a dataset: name, path, format, reference, sensitive, pii_allowed, checks",
                    required=("name", "path"),
                )
            ),
            "Datasets and their checks: name, path (CSV, Parquet or a glob), format (auto, csv, parquet), "
            "reference (for drift), sensitive columns (masked in samples), pii_allowed columns, checks.",
        ),
        "samples": Setting(5, Number(0, 1000), "Failing rows shown per check, sensitive columns masked."),
        "pii": {
            "git": Setting(
                False, Bool(), "ci.data.pii also scans every CSV, Parquet and JSON file git tracks."
            ),
        },
    },
    "model": {
        "path": Setting("", Str(), "The model file; empty leaves the model stage out."),
        "format": Setting(
            "auto",
            Choice(("auto", "joblib", "pickle", "skops", "onnx", "hook")),
            "How to load it; auto goes by the file's suffix (.joblib, .pkl, .skops, .onnx).",
        ),
        "hook": Setting(
            "",
            Str(),
            "With format hook: module:function that takes the feature DataFrame and returns predictions.",
        ),
        "trusted": Setting([], ListOf(Str()), "Types a .skops file may hold beyond skops' own trusted ones."),
        "train": Setting(
            "", Str(), "A command run first to make the model, e.g. `invoke train`; empty runs none."
        ),
        "holdout": Setting("", Str(), "The holdout data the model is judged on: CSV or Parquet."),
        "target": Setting("target", Str(), "The holdout column with the true values."),
        "features": Setting(
            [], ListOf(Str()), "Feature columns; empty takes every column but target, segment and drop."
        ),
        "drop": Setting([], ListOf(Str()), "Holdout columns that are neither features nor target (ids)."),
        "task": Setting("binary", Choice(TASKS), "binary, multiclass or regression."),
        "method": Setting(
            "auto",
            Choice(("auto", "predict", "predict_proba")),
            "How to score; auto uses predict_proba for classifiers that have it.",
        ),
        "metrics": Setting([], ListOf(Str()), "Metrics to compute; empty computes every metric of the task."),
        "segment_by": Setting("", Str(), "A column (e.g. clinic): metrics and gates also per value of it."),
        "gates": Setting(
            {},
            MapOf(
                Record(
                    {
                        "min": Maybe(Number()),
                        "max": Maybe(Number()),
                        "min_change": Maybe(Number()),
                        "min_relative_change": Maybe(Number()),
                        "mode": Maybe(Choice(GATE_MODES)),
                        "segments": Bool(),
                    },
                    expected="a gate: min, max, min_change, min_relative_change, mode, segments",
                ),
                what="metric names",
            ),
            "Per metric: min/max, and against the baseline min_change/min_relative_change "
            "(positive is better); mode; segments (gate each segment too, default true).",
        ),
        "mode": Setting(
            "enforce", Choice(GATE_MODES), "Gates' default mode: enforce, dry-run (report only) or disabled."
        ),
        "baseline": {
            "path": Setting(
                "", Str(), "Metrics JSON to compare with (`--update-baseline` writes it); empty: none."
            ),
            "rev": Setting(
                "merge-base",
                Str(),
                "Read the baseline at this git revision; merge-base: where HEAD left baseline.branch; "
                "empty: the file as it is.",
            ),
            "branch": Setting("main", Str(), "The main branch, for rev merge-base."),
        },
        "plots": Setting(True, Bool(), "Write ROC curve and confusion matrix (or predicted vs actual) PNGs."),
        "onnx": {
            "enabled": Setting(
                False, Bool(), "In ci.all, export to ONNX and check parity (ci.model.export)."
            ),
            "double": Setting(False, Bool(), "Export in double precision where the converter supports it."),
            "tolerance": Setting(
                1e-5, Number(0), "Largest absolute difference allowed between the two runtimes' scores."
            ),
        },
    },
    "package": {
        "wheel": Setting(
            "auto",
            Choice(("auto", "true", "false")),
            "Build a wheel and sdist with `python -m build`; auto: when the project is a Python package.",
        ),
        "isolation": Setting(
            True,
            Bool(),
            "Build in an isolated environment, as pip does; false builds with what is installed.",
        ),
        "bundle": Setting([], ListOf(Str()), "Files or globs for the model bundle; empty: ci.model.path."),
        "name": Setting("", Str(), "The bundle's name; empty: the project folder's name."),
        "out": Setting("dist", Str(), "Where the wheel, the sdist and the bundle go."),
    },
    "image": {
        "base": Setting(
            "python:3.11-slim",
            Str(),
            "Base image with Python 3 (and its venv module) at the dev Python's version.",
        ),
        "name": Setting("", Str(), "Image name; empty: the project's name."),
        "latest": Setting(False, Bool(), "Also tag the image latest."),
        "requirements": Setting(
            [], ListOf(Str()), "Requirements the image needs beyond the project's own dependencies."
        ),
        "requirements_file": Setting(
            "",
            Str(),
            "A pip requirements file of what the image needs; empty: a package's declared dependencies, "
            "or requirements.txt at the root of a project that is not a package. Pinned to what is "
            "installed in development.",
        ),
        "smoke_timeout": Setting(
            60, Number(1), "Seconds the built image may take to answer /ready before the stage fails."
        ),
        "source": Setting("", Str(), "The repository URL, for the org.opencontainers.image.source label."),
        "system_packages": Setting(
            [],
            ListOf(Str()),
            "Debian packages the image needs; the build is offline, so the base must have them "
            "(`dsci services up` builds one with DSCI_BASE_PACKAGES).",
        ),
        "index_url_env": Setting(
            "",
            Str(),
            "Environment variable holding a private package index URL (credentials in it stay on the host: "
            "the wheels are fetched before the build).",
        ),
    },
    "push": {
        "kind": Setting(
            "generic",
            Choice(("generic", "ecr")),
            "generic: user and password from the environment (Azure ACR too: a token or admin user); "
            "ecr: AWS ECR, its repository created when missing and its token fetched with boto3.",
        ),
        "registry": Setting(
            "", Str(), "Registry host[:port]; empty leaves the push out (for ecr: the token's endpoint)."
        ),
        "repository": Setting("", Str(), "Repository in the registry; empty: the image's name."),
        "username_env": Setting(
            "DSCI_REGISTRY_USER", Str(), "Environment variable holding the registry user name."
        ),
        "password_env": Setting(
            "DSCI_REGISTRY_PASSWORD", Str(), "Environment variable holding the password or token."
        ),
        "scheme": Setting(
            "auto", Choice(("auto", "https", "http")), "For the registry API; auto: http on loopback only."
        ),
        "retries": Setting(
            3, Number(1, 10), "Tries for each call, with backoff, on 5xx or a dropped connection."
        ),
        "aws_region": Setting("us-east-1", Str(), "For ecr: the AWS region."),
        "aws_endpoint_url": Setting(
            "", Str(), "For ecr: another endpoint for the ECR API (a moto server in the tests)."
        ),
    },
    "parity": {
        "golden": Setting(
            "",
            Str(),
            "The golden set (CSV or Parquet) scored in development and inside the image; empty leaves "
            "parity out. Its predictions are stored beside it: `invoke ci.parity --record`.",
        ),
        "sample": Setting(
            200,
            Number(1),
            "Rows of ci.model.holdout that --record writes as the golden set when it is missing.",
        ),
        "seed": Setting(0, Number(0), "Random seed of that sample."),
        "rtol": Setting(0.0, Number(0), "Relative tolerance for scores; labels must always be identical."),
        "atol": Setting(0.0, Number(0), "Absolute tolerance for scores; 0 and 0 ask for the same bits."),
        "worst": Setting(5, Number(0, 100), "Rows with the largest differences shown in the report."),
        "retrained": {
            "atol": Setting(
                1e-9,
                Number(0),
                "A model retrained since the record (its sha256 differs) must still reproduce the recorded "
                "scores within this absolute difference: another CPU or BLAS gives other last bits.",
            ),
            "rtol": Setting(0.0, Number(0), "Relative tolerance of that comparison."),
            "beyond": Setting(
                "warn",
                Choice(("warn", "fail")),
                "What a retrained model that predicts beyond that tolerance (or flips a label) does.",
            ),
        },
        "image": Setting("", Str(), "The image to check; empty: the one ci.image built last."),
        "matrix": Setting(
            [],
            ListOf(Str()),
            "More images (another base or Python) to score the golden set in; their differences warn, "
            "so a team sees before an upgrade what would change.",
        ),
        "timeout": Setting(300, Number(1), "Seconds a container may take to score the golden set."),
    },
    "notify": {
        "recipients": Setting([], ListOf(Str()), "Who `invoke ci.notify` mails when the last run failed."),
        "recipients_env": Setting(
            "DSCI_MAIL_TO",
            Str(),
            "Environment variable with more recipients, comma-separated (jobs seeded by dsci set it).",
        ),
        "sender": Setting("dsci@localhost", Str(), "The From address."),
        "smtp_host": Setting("localhost", Str(), "SMTP server."),
        "smtp_port": Setting(25, Number(1, 65535), "SMTP port (587 with STARTTLS, usually)."),
        "starttls": Setting(False, Bool(), "Upgrade the connection with STARTTLS before logging in."),
        "username_env": Setting(
            "DSCI_SMTP_USER", Str(), "Environment variable holding the SMTP user; unset: no login."
        ),
        "password_env": Setting(
            "DSCI_SMTP_PASSWORD", Str(), "Environment variable holding the SMTP password."
        ),
        "timeout": Setting(30, Number(1), "Seconds to wait for the SMTP server."),
        "retries": Setting(3, Number(1, 10), "Tries, with backoff, on a dropped connection or a 4xx answer."),
    },
    "jenkins": {
        "url": Setting("", Str(), "Jenkins' URL, e.g. https://jenkins.example.com/."),
        "user_env": Setting("JENKINS_USER", Str(), "Environment variable holding the Jenkins user."),
        "token_env": Setting("JENKINS_TOKEN", Str(), "Environment variable holding that user's API token."),
        "jobs": Setting("jenkins/jobs.yaml", Str(), "The jobs file that `invoke ci.jenkins.seed` reads."),
        "retries": Setting(
            3, Number(1, 10), "Tries for each call, with backoff, on 5xx or a dropped connection."
        ),
        "timeout": Setting(30, Number(1), "Seconds to wait for each answer."),
    },
    "azure": {
        "organization": Setting(
            "", Str(), "Azure DevOps organization URL, e.g. https://dev.azure.com/contoso."
        ),
        "project": Setting("", Str(), "The Azure DevOps project."),
        "repository": Setting("", Str(), "The Azure Repos Git repository; empty: the project's name."),
        "pipeline": Setting("", Str(), "The pipeline's name; empty: the repository's name."),
        "folder": Setting("\\", Str(), "The pipeline's folder."),
        "yaml": Setting(
            "azure-pipelines/azure-pipelines.yml",
            Str(),
            "The pipeline file in the repository (ci.init writes it).",
        ),
        "branch": Setting("main", Str(), "The branch a queued run builds."),
        "token_env": Setting(
            "AZURE_DEVOPS_PAT", Str(), "Environment variable holding a personal access token."
        ),
    },
}


def _walk(node: Mapping[str, Any], prefix: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Setting]]:
    for key, value in node.items():
        if isinstance(value, Setting):
            yield (*prefix, key), value
        else:
            yield from _walk(value, (*prefix, key))


def dotted(path: tuple[str, ...], root: str = "ci") -> str:
    """``ci.data.datasets[0].path`` from ``("data", "datasets", "[0]", "path")``."""
    return (root + "".join(p if p.startswith("[") else f".{p}" for p in path)).lstrip(".")


def setting(key: str) -> Setting:
    """The declared setting at ``key`` (``"test.min_coverage"``)."""
    node: Any = SETTINGS
    for part in key.split("."):
        node = node[part]
    assert isinstance(node, Setting), key
    return node


def defaults() -> dict[str, Any]:
    """The ``ci:`` tree with every default: what the collection hands to ``ns.configure``."""

    def build(node: Mapping[str, Any]) -> dict[str, Any]:
        return {
            key: copy.deepcopy(v.default) if isinstance(v, Setting) else build(v) for key, v in node.items()
        }

    return build(SETTINGS)


def merged(base: Any, over: Any) -> Any:
    """``over`` laid on ``base``, mapping by mapping, as Invoke merges its layers."""
    if not (isinstance(base, Mapping) and isinstance(over, Mapping)):
        return copy.deepcopy(over)
    return {
        **copy.deepcopy(dict(base)),
        **{k: merged(base[k], v) if k in base else v for k, v in over.items()},
    }


def validate(
    tree: Mapping[str, Any], where: Callable[[tuple[str, ...]], str], *, shapes_only: bool = False
) -> None:
    """Raise ConfigError for the first unknown key or ill-typed value in ``tree``.

    ``where(path)`` names the origin of a key, e.g. ``invoke.yaml:4``. With
    ``shapes_only``, only mappings where values belong (and the reverse) count.
    """

    def problem(node: Mapping[str, Any], value: Any) -> Problem | None:
        if not isinstance(value, Mapping):
            return Problem((), "a mapping of settings")
        for key, item in value.items():
            declared = node.get(key)
            if declared is None:
                found = None if shapes_only else Problem((), keys=tuple(node))
            elif isinstance(declared, Setting):
                wrong_shape = isinstance(item, Mapping) != isinstance(declared.default, Mapping)
                found = declared.kind.problem(item) if wrong_shape or not shapes_only else None
            else:
                found = problem(declared, item)
            if found:
                return found.below(key)
        return None

    found = problem(SETTINGS, tree)
    if found:
        raise complaint(found, tree, where)


def complaint(
    found: Problem, tree: Any, where: Callable[[tuple[str, ...]], str], root: str = "ci"
) -> ConfigError:
    """The one-line error for a problem in ``tree``; keys are named from ``root`` (``ci.lint.paths``)."""
    path, value = found.path, value_at(tree, found.path, None)
    if found.keys:
        close = closest(path[-1], found.keys)
        hint = (
            f"; did you mean {dotted((*path[:-1], close), root)}?"
            if close
            else f"; valid keys here: {', '.join(sorted(found.keys))}"
        )
        return ConfigError(f"{where(path)}: unknown key {dotted(path, root)}{hint}")
    if found.missing:
        return ConfigError(
            f"{where(path[:-1])}: {dotted(path[:-1], root)} needs {path[-1]}: {found.expected}"
        )
    hint = f"; did you mean {show(found.hint)}?" if found.hint else ""
    return ConfigError(
        f"{where(path)}: {dotted(path, root)} must be {found.expected}, got {show(value)}{hint}"
    )


def from_command_line(key: str, flag: str, text: str) -> Any:
    """Parse an option's text with its setting's kind; ConfigError names the flag."""
    kind = setting(key).kind
    try:
        return kind.parse(text)
    except ValueError:
        raise ConfigError(f"{flag} must be {kind.expected}, got {show(text)}") from None


def json_schema() -> dict[str, Any]:
    """A JSON Schema for invoke.yaml whose ``ci`` property is the whole ``ci:`` tree."""

    def build(node: Mapping[str, Any], path: tuple[str, ...]) -> dict[str, Any]:
        properties = {}
        for key, value in node.items():
            if isinstance(value, Setting):
                properties[key] = {
                    **value.kind.schema(),
                    "default": value.default,
                    "description": value.help,
                }
            else:
                properties[key] = build(value, (*path, key))
        schema: dict[str, Any] = {"type": "object", "additionalProperties": False}
        if path:
            schema["description"] = f"Settings of {dotted(path)}."
        schema["properties"] = properties
        return schema

    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "dsci settings in invoke.yaml",
        "description": "Generated from ci/core/config.py; run `invoke schema` to refresh.",
        "type": "object",
        "properties": {"ci": build(SETTINGS, ())},
    }


def schema_text() -> str:
    return json.dumps(json_schema(), indent=2) + "\n"


def reference() -> str:
    """The config reference as a Markdown table, for the README."""
    rows = ["| key | default | meaning |", "| --- | --- | --- |"]
    for path, value in _walk(SETTINGS):
        rows.append(f"| `{dotted(path)}` | `{show(value.default)}` | {value.help} |")
    return "\n".join(rows) + "\n"


PROJECT_FILES = ("invoke.yaml", "invoke.yml", "invoke.json")


def locate(filename: str | os.PathLike[str], keys: tuple[str, ...]) -> str:
    """``file:line`` of ``keys`` in a YAML or JSON file; the file alone when the line is unknown."""
    import yaml

    shown = display(filename)
    try:
        with open(filename, encoding="utf-8") as f:
            node = yaml.compose(f)
    except (OSError, yaml.YAMLError):
        return shown
    line = None
    for key in keys:
        if isinstance(node, yaml.SequenceNode) and key.startswith("[") and int(key[1:-1]) < len(node.value):
            node = node.value[int(key[1:-1])]
            line = node.start_mark.line + 1
            continue
        if not isinstance(node, yaml.MappingNode):
            break
        for key_node, value_node in node.value:
            if key_node.value == key:
                line, node = key_node.start_mark.line + 1, value_node
                break
        else:
            break
    return f"{shown}:{line}" if line else shown


def check_project_file(folder: str | os.PathLike[str]) -> dict[str, Any] | None:
    """Refuse an invoke.yaml that Invoke itself would crash on, with a one-line ConfigError.

    Invoke loads the project file before any task runs and shows a traceback
    for a YAML syntax error, or for a value where its defaults hold a mapping
    (and the reverse); everything else is left to ``validate`` when a stage
    runs. Returns the file's ``ci:`` tree, None for a ``ci:`` key with nothing under
    it (Invoke cannot merge that over the declared defaults). It runs at every `invoke --list`, so
    it parses with libyaml where PyYAML has it (Invoke has loaded PyYAML
    already), six times faster than the pure-Python parser; both read YAML 1.1 alike.
    """
    for name in PROJECT_FILES:
        path = Path(folder, name)
        if path.is_file():
            return check_settings_file(path)
    return {}


def check_runtime_file(environ: Mapping[str, str]) -> dict[str, Any] | None:
    """The settings file named by ``INVOKE_RUNTIME_CONFIG`` (a tenant's, in the Azure templates), checked.

    Invoke would silently skip a file that is not there, and crash on an empty name."""
    name = environ.get("INVOKE_RUNTIME_CONFIG")
    if name is None:
        return {}
    path = Path(name)
    if not name.strip() or not path.is_file():
        raise ConfigError(
            f"INVOKE_RUNTIME_CONFIG: {name!r} is no settings file; name one, or unset the variable"
        )
    return check_settings_file(path)


def check_settings_file(path: Path) -> dict[str, Any] | None:
    """A settings file's ``ci:`` tree (None for an empty ``ci:``), or a one-line ConfigError for what
    Invoke would crash on or silently misread."""
    import yaml

    safe_loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        with open(path, encoding="utf-8") as f:
            loader = safe_loader(f)  # a safe loader, C or Python
            try:
                node = loader.get_single_node()
                if node is not None:
                    _refuse_duplicate_keys(node, path)
                data = loader.construct_document(node) if node is not None else None
            finally:
                loader.dispose()
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        at = f":{mark.line + 1}:{mark.column + 1}" if mark else ""
        problem = error.problem or error.context or "syntax error"
        message = f"{display(path)}{at}: not valid YAML: {problem}; fix the file and run again"
        raise ConfigError(message) from None
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise ConfigError(f"{display(path)}: cannot be read as YAML: {error}") from None
    if not isinstance(data, (dict, type(None))):
        raise ConfigError(f"{display(path)}: must hold a mapping of settings, got {show(data)}")
    data = data or {}
    if "ci" in data and data["ci"] is None:  # `ci:` with every setting commented out
        return None
    tree = data.get("ci") or {}
    validate(tree, partial(_locate_ci, path), shapes_only=True)
    return tree


def _refuse_duplicate_keys(node: Any, path: Path, keys: tuple[str, ...] = ()) -> None:
    """YAML takes the last of two equal keys silently: refuse them, naming both lines."""
    import yaml

    if isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _refuse_duplicate_keys(item, path, (*keys, f"[{index}]"))
    elif isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            key, line = str(key_node.value), key_node.start_mark.line + 1
            if key in seen:
                raise ConfigError(
                    f"{display(path)}:{line}: {dotted((*keys, key), '')} is set twice, on lines {seen[key]} "
                    f"and {line}; keep one"
                )
            seen[key] = line
            _refuse_duplicate_keys(value_node, path, (*keys, key))


def check_environment(environ: Mapping[str, str], project: Mapping[str, Any] | None) -> None:
    """Refuse ``INVOKE_CI_*`` values that Invoke would crash on or silently misread.

    Invoke casts an environment value to the type of the value it replaces:
    it refuses lists with a traceback, reads every boolean but ``0`` and the
    empty string as true, and fails on ``92.5`` where invoke.yaml holds ``80``.
    """
    for path, declared in _walk(SETTINGS):
        name = "INVOKE_" + "_".join(("ci", *path)).upper()
        if name not in environ:
            continue
        text, where = environ[name], f"environment variable {name}: {dotted(path)}"
        current = value_at(project, path, declared.default)
        if isinstance(current, bool):
            if text not in ("0", "1", ""):
                raise ConfigError(
                    f"{where} must be 1 or 0 (Invoke reads anything else as true), got {show(text)}"
                )
        elif isinstance(current, list):
            raise ConfigError(
                f"{where} is a list, which Invoke cannot read from the environment; set it in invoke.yaml"
            )
        elif isinstance(current, (int, float)):
            try:
                accepted = declared.kind.accepts(type(current)(text))
            except ValueError:
                accepted = False
            if not accepted:
                whole = " (a whole number, as invoke.yaml has one)" if isinstance(current, int) else ""
                raise ConfigError(f"{where} must be {declared.kind.expected}{whole}, got {show(text)}")


def value_at(tree: Any, path: Iterable[str], default: Any) -> Any:
    """The value at ``path`` (keys, and ``[i]`` for list items) in nested data, or ``default``."""
    for key in path:
        if isinstance(tree, list) and key.startswith("["):
            index = int(key[1:-1])
            if index >= len(tree):
                return default
            tree = tree[index]
        elif isinstance(tree, Mapping) and key in tree:
            tree = tree[key]
        else:
            return default
    return tree


def _locate_ci(path: Path, keys: tuple[str, ...]) -> str:
    return locate(path, ("ci", *keys))
