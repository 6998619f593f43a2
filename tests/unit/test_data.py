import os
import re
from datetime import datetime, timedelta
from types import SimpleNamespace

import msgspec
import polars as pl
import pytest

from benchmarks.data_checks import CHECKS, generate
from ci.core import config
from ci.core.errors import CheckFailed, ConfigError
from ci.core.results import Status
from ci.core.settings import Data
from ci.data import contract, declarations, pii, stage
from ci.data.declarations import Dataset

ROWS = 50_000


def run(project, checks, frame=None, name="d.parquet", samples=3, **spec):
    if frame is not None:
        frame.write_csv(project / name) if name.endswith(".csv") else frame.write_parquet(project / name)
    dataset = msgspec.convert({"name": "d", "path": name, "checks": checks, **spec}, Dataset)
    found, sample_md = contract.run_checks(dataset, "ci.data.datasets[0]", root=project, samples=samples)
    return {c.name: c for c in found}, sample_md


@pytest.fixture(scope="module")
def good():
    return generate(ROWS)


@pytest.fixture(scope="module")
def bad():
    return generate(ROWS, bad=True)


def test_the_seven_benchmark_checks_pass_on_good_data(project, good):
    results, _ = run(project, CHECKS, good)
    assert {c.status for c in results.values()} == {Status.PASSED}
    assert results["not_null id, age, country"].details["rows_checked"] == ROWS


def test_every_one_of_the_seven_fires_on_the_bad_file_with_exact_counts(project, bad):
    checks = [*CHECKS[:5], {"type": "row_count", "min": 1000, "max": ROWS}, CHECKS[6]]
    results, _ = run(project, checks, bad)
    assert {c.status for c in results.values()} == {Status.FAILED}
    failing = {name: c.details.get("failing_rows") for name, c in results.items()}
    assert failing["not_null id, age, country"] == 15
    assert failing["range age"] == 7
    assert failing["range rating"] == 3
    assert failing["allowed country"] == 11
    assert failing["unique id"] == 13
    assert results["row_count"].value == ROWS + 1
    expected_nulls = bad["score"].is_null().sum() + bad["score"].is_nan().sum()
    assert failing["null_fraction score"] == expected_nulls


def test_csv_gives_the_same_counts_as_parquet(project, bad):
    parquet, _ = run(project, CHECKS, bad)
    csv, _ = run(project, CHECKS, bad, name="d.csv")
    for name, check in parquet.items():
        assert csv[name].details.get("failing_rows") == check.details.get("failing_rows"), name


def test_a_csv_is_read_in_small_chunks_and_the_environment_left_as_it_was(monkeypatch):
    csv, parquet = SimpleNamespace(format="csv"), SimpleNamespace(format="parquet")
    monkeypatch.delenv("POLARS_CSV_CHUNK_SIZE", raising=False)
    with contract.csv_chunks(csv):
        assert os.environ["POLARS_CSV_CHUNK_SIZE"] == str(4 * 2**20)
    with contract.csv_chunks(parquet):
        assert "POLARS_CSV_CHUNK_SIZE" not in os.environ
    monkeypatch.setenv("POLARS_CSV_CHUNK_SIZE", "65536")  # one's own wins
    with contract.csv_chunks(csv):
        assert os.environ["POLARS_CSV_CHUNK_SIZE"] == "65536"
    assert os.environ["POLARS_CSV_CHUNK_SIZE"] == "65536"


def test_a_csv_read_in_many_chunks_counts_the_same(project, bad, monkeypatch):
    parquet, _ = run(project, CHECKS, bad)
    monkeypatch.setenv("POLARS_CSV_CHUNK_SIZE", "65536")  # the 50,000 rows' 5 MB in 80 chunks
    csv, _ = run(project, CHECKS, bad, name="d.csv")
    for name, check in parquet.items():
        assert csv[name].details.get("failing_rows") == check.details.get("failing_rows"), name


def test_uniqueness_in_bounded_passes_counts_the_same(project, bad, monkeypatch):
    one_pass, _ = run(project, [CHECKS[4]], bad)
    monkeypatch.setattr(contract, "KEYS_PER_PASS", 7_000)  # eight passes over the key
    many_passes, _ = run(project, [CHECKS[4]], bad)
    assert many_passes["unique id"].details == one_pass["unique id"].details
    assert one_pass["unique id"].details["failing_rows"] == 13


def test_partitioned_files_by_glob(project, good):
    (project / "parts").mkdir()
    for i, part in enumerate(good.iter_slices(20_000)):
        part.write_parquet(project / "parts" / f"part-{i}.parquet")
    results, _ = run(project, [{"type": "row_count", "min": ROWS, "max": ROWS}], name="parts/part-*.parquet")
    assert results["row_count"].value == ROWS


def small():
    return pl.DataFrame(
        {
            "id": ["P0001", "P0002", "X3", "P0004"],
            "city": ["Oslo", "Bergen", "Oslo", "Tromsø"],
            "value": [1.0, 2.0, float("nan"), 40.0],
            "seen": [datetime.now() - timedelta(days=d) for d in (40, 41, 42, 43)],
        }
    )


@pytest.mark.parametrize(
    ("check", "failing"),
    [
        ({"type": "regex", "column": "id", "pattern": "^P[0-9]{4}$"}, 1),
        ({"type": "length", "column": "id", "min": 5, "max": 5}, 1),
        ({"type": "range", "column": "value", "max": 10}, 1),  # NaN is missing, not out of range
        ({"type": "range", "column": "value", "min": 1, "inclusive": False}, 1),
        ({"type": "allowed", "column": "city", "values": ["Oslo", "Bergen"]}, 1),
        ({"type": "not_null", "columns": ["value"]}, 1),  # NaN counts as missing
        ({"type": "unique", "columns": ["city"]}, 1),
        ({"type": "expression", "expr": "value < 10 AND city <> 'Tromsø'"}, 2),
    ],
)
def test_each_row_level_check_fires_on_crafted_data(project, check, failing):
    results, samples = run(project, [check], small())
    (result,) = results.values()
    assert result.status is Status.FAILED and result.details["failing_rows"] == failing
    assert "Failing rows of" in samples


def test_schema_check_reports_missing_wrong_and_extra_columns(project):
    check = {
        "type": "schema",
        "columns": {"id": "str", "value": "int", "age": "int"},
        "extra_columns": "fail",
    }
    results, _ = run(project, [check], small())
    assert results["schema"].status is Status.FAILED
    assert results["schema"].details["problems"] == [
        "value is float, not int",
        "missing column age",
        "columns not declared: city, seen",
    ]


def test_csv_timestamps_count_as_datetime_for_the_schema_check(project):
    results, _ = run(project, [{"type": "schema", "columns": {"seen": "datetime"}}], small(), name="d.csv")
    assert results["schema"].status is Status.PASSED
    results, _ = run(project, [{"type": "schema", "columns": {"city": "datetime"}}], small(), name="d.csv")
    assert results["schema"].details["problems"] == ["city is str, not datetime"]


def test_freshness_on_a_column_that_holds_no_times_is_a_config_error(project):
    with pytest.raises(ConfigError) as caught:
        run(project, [{"type": "freshness", "column": "city", "max_age": "1d"}], small(), name="d.csv")
    assert str(caught.value) == (
        "ci.data.datasets[0].checks[0]: freshness needs a date or datetime column; city is str"
    )
    results, _ = run(
        project, [{"type": "freshness", "column": "seen", "max_age": "6w"}], small(), name="d.csv"
    )
    assert results["freshness seen"].status is Status.PASSED  # CSV timestamps are read as text, then parsed


def test_schema_check_can_allow_missing_columns(project):
    check = {"type": "schema", "columns": {"id": "str", "age": "int"}, "missing_columns": "allow"}
    results, _ = run(project, [check], small())
    assert results["schema"].status is Status.PASSED


def test_freshness_fires_on_old_data_and_passes_on_new(project):
    results, _ = run(project, [{"type": "freshness", "column": "seen", "max_age": "30d"}], small())
    assert results["freshness seen"].status is Status.FAILED
    assert "at most 30d allowed" in results["freshness seen"].message
    results, _ = run(project, [{"type": "freshness", "column": "seen", "max_age": "6w"}], small())
    assert results["freshness seen"].status is Status.PASSED


@pytest.mark.parametrize(
    ("method", "column"), [("psi", "amount"), ("ks", "amount"), ("psi", "country"), ("chi2", "country")]
)
def test_drift_fires_on_a_shifted_distribution_and_not_on_the_same_one(project, good, method, column):
    good.write_parquet(project / "reference.parquet")
    check = {"type": "drift", "column": column, "method": method}
    same, _ = run(project, [check], good.sample(20_000, seed=1), reference="reference.parquet")
    assert same[f"drift {column}"].status is Status.PASSED, same[f"drift {column}"].message
    shifted = good.with_columns(
        pl.col("amount") * 1.5,
        pl.when(pl.col("country") == "DE").then(pl.lit("FR")).otherwise(pl.col("country")).alias("country"),
    )
    moved, _ = run(project, [check], shifted, reference="reference.parquet")
    assert moved[f"drift {column}"].status is Status.FAILED, moved[f"drift {column}"].message


def test_tolerance_lets_a_small_failing_fraction_pass(project):
    check = {"type": "regex", "column": "id", "pattern": "^P", "tolerance": 0.25}
    results, _ = run(project, [check], small())
    assert results["regex id"].status is Status.PASSED and results["regex id"].details["failing_rows"] == 1


def test_warn_severity_warns_instead_of_failing(project):
    results, _ = run(
        project, [{"type": "regex", "column": "id", "pattern": "^P", "severity": "warn"}], small()
    )
    assert results["regex id"].status is Status.WARNED


def test_samples_are_capped_and_sensitive_columns_masked(project, bad):
    results, _ = run(project, [CHECKS[3]], bad, samples=2)
    assert results["allowed country"].details["samples"] == [{"country": "XX"}, {"country": "XX"}]
    results, _ = run(project, [{"type": "regex", "column": "id", "pattern": "^P"}], small(), sensitive=["id"])
    assert results["regex id"].details["samples"] == [
        {"id": "X3"}
    ]  # four characters or fewer stay as they are
    results, _ = run(project, [{"type": "length", "column": "city", "max": 4}], small(), sensitive=["city"])
    assert results["length city"].details["samples"] == [{"city": "**rgen"}, {"city": "**omsø"}]


def test_pii_check_finds_planted_card_and_email_and_shows_them_masked(project):
    frame = pl.DataFrame(
        {
            "note": ["nothing here", "paid with 4111 1111 1111 1111", "write to jane.doe@example.org", "x"],
            "email": ["a@b.io", "c@d.io", "e@f.io", "g@h.io"],
        }
    )
    results, _ = run(project, [{"type": "pii"}], frame, name="d.csv", pii_allowed=["email"])
    check = results["pii"]
    assert check.status is Status.FAILED
    assert "card" in check.message and "email" in check.message
    assert "4111 1111 1111 1111" not in check.message and "jane.doe@example.org" not in check.message
    assert "***************1111" in check.message and "****************.org" in check.message
    assert "a@b.io" not in check.message  # the email column holds e-mail on purpose


def test_pii_validators():
    assert pii.luhn("4111111111111111") and not pii.luhn("4111111111111112")
    assert pii.iban("GB82 WEST 1234 5698 7654 32") and not pii.iban("GB82 WEST 1234 5698 7654 33")
    assert pii.ssn("123-45-6789") and not pii.ssn("000-12-3456") and not pii.ssn("900-12-3456")
    assert pii.mask("4111111111111111") == "************1111" and pii.mask("abc") == "abc"


def test_pii_stage_scans_datasets_and_git_files(project):
    pl.DataFrame({"note": ["card 5500005555555559"]}).write_csv(project / "a.csv")
    (project / "b.json").write_text('{"contact": "x@example.com"}')
    cfg = {"datasets": [{"name": "a", "path": "a.csv"}], "pii": {"git": True}}

    def git(argv, *, quiet=True):
        from ci.core.process import Completed

        return Completed(tuple(argv), 0, "a.csv\0b.json\0")

    result = stage.scan_pii(msgspec.convert(cfg, Data), root=project, run=git)
    assert sorted(c.details["kind"] for c in result.checks) == ["card", "email"]
    assert result.status is Status.FAILED


def test_missing_file_is_a_config_error(project):
    with pytest.raises(ConfigError) as caught:
        run(project, CHECKS, name="nope.parquet")
    assert str(caught.value) == (
        "ci.data.datasets[0]: nope.parquet: no such file; fix the path or create the data first"
    )


def test_corrupt_parquet_is_data_that_fails(project):
    (project / "d.parquet").write_bytes(b"PAR1 this is not parquet PAR1")
    with pytest.raises(CheckFailed, match=r"^d.parquet: cannot be read as parquet: "):
        run(project, CHECKS)


def test_ragged_csv_is_data_that_fails(project):
    (project / "d.csv").write_text("id,age\n1,20\n2,30,extra\n")
    with pytest.raises(CheckFailed, match=r"^d.csv: cannot be read as csv: "):
        run(project, [{"type": "not_null", "columns": ["id"]}], name="d.csv")


def test_bad_encoding_is_data_that_fails(project):
    (project / "d.csv").write_bytes("id,city\n1,Tromsø\n".encode("latin-1"))
    with pytest.raises(CheckFailed, match=r"^d.csv: cannot be read as csv: "):
        run(project, [{"type": "not_null", "columns": ["city"]}], name="d.csv")


def test_check_on_a_missing_column_names_the_closest(project, good):
    with pytest.raises(ConfigError) as caught:
        run(project, [{"type": "range", "column": "agee", "min": 0}], good)
    assert (
        str(caught.value)
        == 'ci.data.datasets[0].checks[0]: d.parquet has no column "agee"; did you mean "age"?'
    )


def test_bad_expression_and_bad_regex_are_config_errors(project):
    with pytest.raises(ConfigError, match=re.escape('ci.data.datasets[0].checks[0].expr: "valu > 1"')):
        run(project, [{"type": "expression", "expr": "valu > 1"}], small())
    with pytest.raises(
        ConfigError, match=re.escape("ci.data.datasets[0].checks[0].pattern: not a valid regular")
    ):
        run(project, [{"type": "regex", "column": "id", "pattern": "(unclosed"}], small())


def test_settings_refuse_unknown_check_types_and_thresholds_that_are_not_numbers():
    def where(path):
        return "invoke.yaml"

    for checks, expected in [
        ([{"type": "rnage", "column": "a"}], 'type must be one of "schema"'),
        ([{"type": "null_fraction", "column": "a", "max": "five percent"}], "max must be a number between 0"),
        (
            [{"type": "range", "column": "a", "tolerance": "high"}],
            "tolerance must be a number between 0 and 1",
        ),
        (
            [{"type": "range", "column": "a", "mni": 0}],
            "unknown key ci.data.datasets[0].checks[0].mni; did you mean ci.data.datasets[0].checks[0].min?",
        ),
        ([{"column": "a"}], 'ci.data.datasets[0].checks[0] needs type: one of "schema", "not_null"'),
    ]:
        tree = {"data": {"datasets": [{"name": "d", "path": "d.csv", "checks": checks}]}}
        with pytest.raises(ConfigError, match=re.escape(expected)):
            config.validate(tree, where)


def test_duplicate_dataset_names_are_refused(project):
    with pytest.raises(ConfigError, match=re.escape("ci.data.datasets[1].name: 'd' is declared twice")):
        declared = {"datasets": [{"name": "d", "path": "a"}, {"name": "d", "path": "b"}], "samples": 1}
        stage.check_all(msgspec.convert(declared, Data), root=project)


def test_no_datasets_skip_the_stage(project):
    result = stage.check_all(Data(datasets=[], samples=5), root=project)
    assert result.skipped == "no datasets declared (ci.data.datasets)"


def test_a_dataset_without_checks_checked_nothing_and_is_never_green(project):
    result = stage.check_all(
        Data(datasets=[Dataset(name="d", path="d.csv", checks=[])], samples=5), root=project
    )
    assert result.status is Status.SKIPPED
    assert result.skipped == "no checks declared (ci.data.datasets[0].checks)"
    assert "| d | d | ⏭️ skip |" in result.summary


def test_every_declared_check_type_is_implemented():
    implemented = set(contract.ROW_LEVEL) | {"schema", "row_count", "freshness", "drift", "pii"}
    assert implemented == set(declarations.TYPES)
