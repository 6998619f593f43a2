"""Tenants: who they are, their settings laid over the common ones, their rows, their isolation."""

from __future__ import annotations

import os

import pytest

from ci.core import config, reports
from ci.core.errors import ConfigError
from ci.core.results import Run, StageResult, Status
from ci.tenants import isolation, split
from ci.tenants.roster import Roster

TRAIN = (
    "id,clinic,year,x,y\n"
    "P1,north,2023,1.50,0\n"
    "P2,south,2024,2.25,1\n"
    "P3,north,2024,3.125,1\n"
    "P4,east,2025,4.0,0\n"
)
HOLDOUT = "id,clinic,year,x,y\nP5,north,2024,1.0,1\nP6,south,2024,2.0,0\nP7,east,2024,3.0,1\n"


def project(tmp_path, tenants, **sections):
    """A project folder with train and holdout files, and its (tree, validated settings)."""
    (tmp_path / "data").mkdir(exist_ok=True)
    (tmp_path / "data" / "train.csv").write_text(TRAIN)
    (tmp_path / "data" / "holdout.csv").write_text(HOLDOUT)
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "clinic"\nversion = "1.0"\n')
    given = {
        "data": {"datasets": [
            {"name": "train", "path": "data/train.csv", "checks": [{"type": "row_count", "min": 1}]},
            {"name": "holdout", "path": "data/holdout.csv", "reference": "data/train.csv"},
        ]},
        "model": {"path": "models/model.joblib", "train": "invoke train", "holdout": "data/holdout.csv",
                  "baseline": {"path": "metrics/baseline.json"}},
        "tenants": tenants,
        **sections,
    }  # fmt: skip
    tree = config.merged(config.defaults(), given)
    return tree, config.validate(tree, lambda path: "invoke.yaml")


def roster(tmp_path, tenants, **sections):
    return Roster(*project(tmp_path, tenants, **sections), tmp_path)


def test_the_tenants_are_a_columns_values_and_each_gets_places_of_its_own(tmp_path):
    environments = {"staging": {}, "production": {"namespace": "prod"}}
    sections = {
        "push": {"repository": "team/clinic"},
        "deploy": {"name": "clinic", "environments": environments},
    }
    found = roster(tmp_path, {"column": "clinic"}, **sections)
    assert found.names == ["east", "north", "south"]
    north = found.tenants["north"].tree
    assert north["report_dir"] == "build/ci/tenants/north"
    assert north["data"]["datasets"][0]["path"] == "build/tenants/north/data/train.csv"
    assert north["data"]["datasets"][1]["reference"] == "build/tenants/north/data/train.csv"
    assert north["model"]["holdout"] == "build/tenants/north/data/holdout.csv"
    assert north["model"]["path"] == "models/tenants/north/model.joblib"  # the training makes it
    assert north["model"]["baseline"]["path"] == "metrics/baseline.north.json"
    assert (north["package"]["name"], north["package"]["out"]) == ("clinic-north", "dist/tenants/north")
    assert north["image"]["name"] == "clinic-north"
    assert (north["push"]["repository"], north["deploy"]["name"]) == ("team/clinic-north", "clinic-north")
    namespaces = {env: e["namespace"] for env, e in north["deploy"]["environments"].items()}
    assert namespaces == {"staging": "staging-north", "production": "prod-north"}
    assert found.tenants["north"].condition == "clinic = 'north'"


def test_settings_are_laid_common_then_every_tenants_then_its_own(tmp_path):
    tenants = {
        "column": "clinic",
        "settings": {
            "security": {"recipients": ["keys/{tenant}.pub"]},
            "model": {"gates": {"roc_auc": {"min": 0.9}}},
            "data": {"datasets": [{"name": "holdout", "checks": [{"type": "row_count", "min": 1}]}]},
        },
        "list": [{"name": "east", "settings": {"model": {"gates": {"roc_auc": {"min": 0.8}}}}}],
    }
    found = roster(tmp_path, tenants, model={"gates": {"roc_auc": {"min": 0.95, "segments": False}}})
    east, north = found.tenants["east"].tree, found.tenants["north"].tree
    assert east["security"]["recipients"] == ["keys/east.pub"]
    assert east["model"]["gates"]["roc_auc"] == {"min": 0.8, "segments": False}
    assert north["model"]["gates"]["roc_auc"] == {"min": 0.9, "segments": False}
    holdout = north["data"]["datasets"][
        1
    ]  # laid over the common holdout, by name: its path stays the tenant's
    assert holdout["path"] == "build/tenants/north/data/holdout.csv"
    assert holdout["checks"] == [{"type": "row_count", "min": 1}]
    assert config.validate(north, lambda path: "invoke.yaml").tenants.column == "clinic"


def test_a_tenants_rows_keep_their_bytes_and_a_file_unchanged_is_not_rewritten(tmp_path):
    found = roster(tmp_path, {"column": "clinic"})
    kept = found.prepare(found.names)
    assert kept["north"] == {"data/train.csv": 2, "data/holdout.csv": 1}
    north = tmp_path / "build/tenants/north/data/train.csv"
    assert (
        north.read_text() == "id,clinic,year,x,y\nP1,north,2023,1.50,0\nP3,north,2024,3.125,1\n"
    )  # 1.50 stays
    before = north.stat().st_mtime_ns
    os.utime(north, ns=(before - 10**9, before - 10**9))
    found.prepare(["north"])
    assert north.stat().st_mtime_ns == before - 10**9


def test_a_filter_is_sql_on_typed_columns_and_parquet_stays_typed(tmp_path):
    import polars as pl

    tenants = {"list": [{"name": "recent", "filter": "year >= 2024 AND clinic <> 'east'"}]}
    found = roster(tmp_path, tenants)
    assert found.prepare(["recent"])["recent"] == {"data/train.csv": 2, "data/holdout.csv": 2}
    source = tmp_path / "data" / "t.parquet"
    pl.read_csv(tmp_path / "data" / "train.csv").write_parquet(source)
    target = tmp_path / "out.parquet"
    table = split.Source(source)
    kept = table.rows(pl.sql_expr("x > 2"), typed=True, shown="x > 2")
    table.write(target, kept)
    assert len(kept) == 3 and pl.read_parquet(target).schema["x"] == pl.Float64


def test_a_filter_that_matches_no_row_is_named_for_that_tenant_only(tmp_path):
    tenants = {"column": "clinic", "list": [{"name": "west", "filter": "clinic = 'wset'"}]}
    found = roster(tmp_path, tenants)
    kept = found.prepare(found.names)
    found.check_rows("north", kept)  # the others are not held up
    with pytest.raises(ConfigError) as error:
        found.check_rows("west", kept)
    assert error.value.message == (
        "tenant west: clinic = 'wset' matches no row of data/train.csv (ci.tenants.list[0] (west)); "
        "fix its filter, or give it files of its own (data)"
    )


@pytest.mark.parametrize(
    ("tenants", "said"),
    [
        ({"list": [{"name": "acme"}]},
         "ci.tenants.list[0] (acme): say which rows are its (filter), give it files of its own (data), or "
         "set ci.tenants.column"),
        ({"list": [{"name": "acme", "filter": "x > 1"}, {"name": "acme"}]},
         "ci.tenants.list[1] (acme): the tenant acme is declared twice"),
        ({"list": [{"name": "acme", "data": {"data/train.csv": "data/acme/train.csv"}}]},
         "ci.tenants.list[0] (acme): ci.data.datasets[1].path is data/holdout.csv, which is neither among "
         "its files (data) nor cut to its rows (filter); it would read every tenant's rows"),
        ({"column": "clinic", "list": [{"name": "north", "data": {"data/tran.csv": "data/n.csv"}}]},
         "ci.tenants.list[0] (north): data names data/tran.csv, which no setting reads; name one of: "
         "data/train.csv, data/holdout.csv"),
        ({"column": "site"},
         "ci.tenants.column: data/train.csv has no column 'site'; columns: id, clinic, year, x, y"),
        ({"column": "x"}, "ci.tenants.column: x holds '1.50', which cannot name a tenant (lowercase letters, "
         "digits and '-', at most 30); give such tenants a filter in ci.tenants.list and leave "
         "ci.tenants.column empty"),
        ({"column": "clinic", "dataset": "scores"},
         "ci.tenants.column: the tenants are read from dataset scores, which ci.data.datasets does not "
         "declare (datasets: train, holdout); set ci.tenants.dataset"),
    ],
)  # fmt: skip
def test_tenants_declared_wrong_are_named(tmp_path, tenants, said):
    with pytest.raises(ConfigError) as error:
        roster(tmp_path, tenants)
    assert error.value.message == said


def test_a_tenant_with_files_of_its_own_reads_them(tmp_path):
    (tmp_path / "data" / "acme").mkdir(parents=True)
    own = {"data/train.csv": "data/acme/train.csv", "data/holdout.csv": "data/acme/holdout.csv"}
    found = roster(tmp_path, {"list": [{"name": "acme", "data": own}]})
    acme = found.tenants["acme"].tree
    assert acme["data"]["datasets"][0]["path"] == "data/acme/train.csv"
    assert acme["model"]["holdout"] == "data/acme/holdout.csv"
    assert found.prepare(["acme"]) == {"acme": {}}  # nothing to cut
    assert not (tmp_path / "build").exists()


def test_choosing_tenants(tmp_path):
    found = roster(tmp_path, {"column": "clinic"})
    assert found.choose("all") == ["east", "north", "south"]
    assert found.choose("south, north,south") == ["south", "north"]
    with pytest.raises(ConfigError) as error:
        found.choose("north,sout")
    assert (
        error.value.message
        == "--tenants: unknown tenant 'sout'; did you mean 'south'? tenants: east, north, south"
    )
    with pytest.raises(ConfigError) as error:
        roster(tmp_path, {}).choose("all")
    assert error.value.message == "--tenants all: this project has no tenants; declare them in ci.tenants"


def test_shared_keys_are_counted_never_shown(tmp_path):
    tenants = {"column": "clinic", "id_columns": ["id"]}
    found = roster(tmp_path, tenants)
    (check,) = isolation.shared_keys(found, "north")
    assert check.status is Status.PASSED
    assert check.message == "3 id values of tenant north, none among 2 other tenants' 4"
    leak = TRAIN + "P2,north,2024,9.0,1\n"  # south's patient P2, also at north
    tree, values = project(tmp_path, tenants)
    (tmp_path / "data" / "train.csv").write_text(leak)
    (check,) = isolation.shared_keys(Roster(tree, values, tmp_path), "north")
    assert not (tmp_path / "build").exists()  # the others' rows are taken in memory, never written
    assert check.status is Status.FAILED and check.value == 1
    assert check.message == (
        "tenant north and tenant south share 1 id value(s): north's rows of data/train.csv, "
        "south's rows of data/train.csv"
    )
    assert "P2" not in check.message
    assert isolation.shared_keys(roster(tmp_path, {"column": "clinic"}), "north")[0].status is Status.WARNED


def test_recipients_shared_between_tenants_are_refused(tmp_path):
    keys = tmp_path / "keys"
    keys.mkdir()
    for name, key in (
        ("north", "age1" + "n" * 58),
        ("south", "age1" + "s" * 58),
        ("shared", "age1" + "x" * 58),
    ):
        (keys / f"{name}.pub").write_text(f"# {name}\n{key}\n")
    own = {"column": "clinic", "settings": {"security": {"recipients": ["keys/{tenant}.pub"]}}}
    (keys / "east.pub").write_text("age1" + "e" * 58 + "\n")
    assert isolation.shared_recipients(roster(tmp_path, own), "north").status is Status.PASSED
    shared = {
        "column": "clinic",
        "settings": {"security": {"recipients": ["keys/{tenant}.pub", "keys/shared.pub"]}},
    }
    check = isolation.shared_recipients(roster(tmp_path, shared), "north")
    assert check.status is Status.FAILED
    assert check.message == (
        "tenants north and east share the age recipient age1xxxxxxxxxxxx… (keys/shared.pub; keys/shared.pub) "
        "(and 1 more): either's identity opens the other's bundle; give each tenant recipients of its own "
        "(ci.tenants.settings)"
    )
    assert (
        isolation.shared_recipients(roster(tmp_path, {"column": "clinic"}), "north").status is Status.WARNED
    )


def test_a_tenants_stages_follow_the_common_ones_tenant_by_tenant():
    run = Run()
    for name in ("south/model", "north/data", "tenants", "lint", "north/model", "south/isolation", "git"):
        run = reports.merge(
            run, StageResult(name, skipped="-"), ["git", "lint", "tenants", "isolation", "data", "model"]
        )
    assert [s.name for s in run.stages] == [
        "git", "lint", "tenants", "north/data", "north/model", "south/isolation", "south/model",
    ]  # fmt: skip


def test_a_csv_keeps_its_line_endings_and_its_text_and_falls_back_where_lines_are_not_rows(tmp_path):
    import polars as pl

    crlf = tmp_path / "crlf.csv"
    crlf.write_bytes(b"id,clinic,code\r\nP1,01,008\r\nP2,02,009\r\nP3,01,010")  # no line break at the end
    table = split.Source(crlf)
    target = tmp_path / "out" / "crlf.csv"
    table.write(target, table.rows(pl.col("clinic") == "01", typed=False, shown="clinic = '01'"))
    assert target.read_bytes() == b"id,clinic,code\r\nP1,01,008\r\nP3,01,010\r\n"
    quoted = tmp_path / "quoted.csv"
    quoted.write_bytes(b'id,clinic,note\nP1,a,"two\nlines"\nP2,b,"x"\nP3,a,y\n')
    table = split.Source(quoted)
    target = tmp_path / "out" / "quoted.csv"
    table.write(target, table.rows(pl.col("clinic") == "a", typed=False, shown="clinic = 'a'"))
    again = pl.read_csv(target, infer_schema=False)
    assert again["id"].to_list() == ["P1", "P3"] and again["note"].to_list() == ["two\nlines", "y"]


def test_a_tenants_settings_may_not_point_back_at_a_common_file(tmp_path):
    tenants = {
        "column": "clinic",
        "list": [{"name": "north", "settings": {"model": {"holdout": "data/holdout.csv"}}}],
    }
    with pytest.raises(ConfigError) as error:
        roster(tmp_path, tenants)
    assert error.value.message == (
        "ci.tenants.list[0] (north): its settings set ci.model.holdout to data/holdout.csv, the common file "
        "with every tenant's rows; give it a file of its own (ci.tenants.list[].data)"
    )


class FakeEngine:
    """docker-py's containers.create(...).export() and remove(), over a tar made here."""

    def __init__(self, tar: bytes) -> None:
        self.tar, self.removed = tar, False
        self.containers = self

    def create(self, image, command):
        return self

    def export(self):
        return (self.tar[i : i + 7000] for i in range(0, len(self.tar), 7000))  # chunks, as docker streams

    def remove(self, force):
        self.removed = True


def image_tar(files: dict[str, bytes]) -> bytes:
    import io
    import tarfile

    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def test_an_image_holding_another_tenants_file_is_found_by_its_bytes(tmp_path):
    theirs = tmp_path / "south.joblib"
    theirs.write_bytes(b"south's model" * 1000)
    same_size = b"x" * theirs.stat().st_size
    clean = FakeEngine(image_tar({"app/model.joblib": same_size, "usr/lib/python3/os.py": b"import sys\n"}))
    check = isolation.foreign_files(clean, "sha256:1", "north", {"south": [theirs]})
    assert check.status is Status.PASSED and clean.removed
    assert check.message == "none of its 2 files is one of the 1 files of other tenants and the common data"
    leaked = FakeEngine(image_tar({"app/model.joblib": same_size, "app/extra/m.joblib": theirs.read_bytes()}))
    check = isolation.foreign_files(leaked, "sha256:1", "north", {"south": [theirs], "every tenant": []})
    assert check.status is Status.FAILED and check.value == 1
    assert check.message == f"tenant north's image holds 1 file(s) of south: /app/extra/m.joblib is {theirs}"
