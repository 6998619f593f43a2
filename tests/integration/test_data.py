"""ci.data and ci.data.pii on the example, through the real CLI."""

import json

import pytest

pytestmark = pytest.mark.tool("invoke", "git", "polars", "scipy")

CARD, EMAIL = "4111 1111 1111 1111", "jane.doe@example.org"


def test_the_example_contract_passes(example, invoke):
    done = invoke(example, "ci.data")
    assert done.returncode == 0, done.stdout + done.stderr
    summary = (example / "build" / "ci" / "summary.md").read_text()
    assert "| train | unique patient_id | ✅ pass | 0 of 426 rows fail" in summary
    assert "| holdout | drift mean_radius | ✅ pass | psi statistic" in summary


def test_broken_data_fails_with_samples_and_sensitive_ids_masked(example, invoke):
    train = example / "data" / "train.csv"
    lines = train.read_text().splitlines()
    fields = lines[1].split(",")
    fields[1] = "mars"  # clinic
    lines[1] = ",".join(fields)
    train.write_text("\n".join(lines) + "\n")
    done = invoke(example, "ci.data")
    assert done.returncode == 1
    report = json.loads((example / "build" / "ci" / "report.json").read_text())
    check = next(c for c in report["stages"][0]["checks"] if c["name"] == "allowed clinic")
    assert check["status"] == "failed" and check["details"]["failing_rows"] == 1
    assert check["details"]["samples"] == [{"clinic": "mars"}]
    assert (
        "Failing rows of **train: allowed clinic**" in (example / "build" / "ci" / "summary.md").read_text()
    )


def test_pii_scan_finds_a_planted_card_and_email_and_prints_them_only_masked(example, invoke):
    (example / "data" / "contacts.csv").write_text(
        f"id,note\n1,paid with {CARD}\n2,mail {EMAIL}\n3,nothing\n"
    )
    settings = example / "invoke.yaml"
    settings.write_text(settings.read_text().replace("\n  data:\n", "\n  data:\n    pii: {git: true}\n", 1))
    from tests.integration.conftest import git

    git(example, "add", "data/contacts.csv")
    done = invoke(example, "ci.data.pii")
    assert done.returncode == 1
    output = done.stdout + done.stderr
    assert "card in data/contacts.csv:note" in output and "email in data/contacts.csv:note" in output
    assert "***************1111" in output and "****************.org" in output
    written = "".join(
        p.read_text() for p in (example / "build" / "ci").glob("*.*") if p.suffix in (".json", ".md", ".xml")
    )
    for secret in (CARD, EMAIL, CARD.replace(" ", "")):
        assert secret not in output and secret not in written


def test_unknown_check_type_exits_2_naming_the_closest(example, invoke):
    settings = example / "invoke.yaml"
    settings.write_text(settings.read_text().replace("{type: unique,", "{type: uniqe,"))
    done = invoke(example, "ci.data")
    assert done.returncode == 2
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("error: invoke.yaml:")
    assert "ci.data.datasets[0].checks[2].type must be one of" in line and line.endswith(
        'did you mean "unique"?'
    )
