"""The stage cache: keys of content alone, entries restored or refused, atomic, bounded; each stage's
declared inputs change its key, and nothing else does."""

from __future__ import annotations

import json
import os
import shutil
import threading
from pathlib import Path

import pytest

from ci.core.cache import Cache, Declared, changes
from ci.core.results import Check, StageResult, Status


def make_cache(root: Path, limit: int = 10**9, said: list[str] | None = None) -> Cache:
    cache = Cache(root / "build/ci/cache", root, limit, say=(said if said is not None else []).append)
    cache.project_files = lambda: sorted(cache.expand(["."]))  # no git in unit tests
    return cache


def settings_of(values: dict):
    return lambda key: values.get(key, {})


def result(name: str = "data", artifacts: list[str] | None = None) -> dict:
    return StageResult(name, [Check("rows", Status.PASSED, "100 rows")], artifacts=artifacts or []).to_dict()


@pytest.fixture
def tree(project):
    (project / "data").mkdir()
    (project / "data/train.csv").write_text("a,b\n1,2\n")
    (project / "model.txt").write_text("weights")
    return project


def stored(cache: Cache, declared: Declared, outputs=("model.txt",), name="data", values=None) -> str:
    inputs = cache.inputs(declared, settings_of(values or {"data": {"x": 1}}), {})
    key = cache.key(name, inputs)
    cache.put(name, key, inputs, result(name, list(outputs)), outputs)
    return key


def test_an_entry_puts_its_outputs_back_and_replays_its_result(tree):
    cache = make_cache(tree)
    declared = Declared(files=["data/train.csv"], settings=["data"])
    key = stored(cache, declared)
    (tree / "model.txt").unlink()

    hit, _ = cache.get("data", key)

    assert hit is not None and hit.result["checks"][0]["message"] == "100 rows"
    assert (tree / "model.txt").read_text() == "weights"


def test_the_key_is_the_content_not_the_folder_or_the_machine(tree, tmp_path_factory):
    """A cache carried to another agent, where the project is checked out elsewhere, hits."""
    elsewhere = tmp_path_factory.mktemp("agent") / "checkout"
    shutil.copytree(tree, elsewhere)
    declared = Declared(files=["data/train.csv"], project=["."], settings=["data"], libraries=["*"])
    here = make_cache(tree).inputs(declared, settings_of({"data": {"x": 1}}), {})
    there = make_cache(elsewhere).inputs(declared, settings_of({"data": {"x": 1}}), {})
    assert Cache.key("data", here) == Cache.key("data", there)
    assert str(tree) not in json.dumps(here)


def test_each_kind_of_input_changes_the_key_and_is_named(tree):
    cache = make_cache(tree)
    declared = Declared(files=["data/train.csv"], settings=["data"], values={"commit": "abc"})
    before = cache.inputs(declared, settings_of({"data": {"x": 1}}), {})
    (tree / "data/train.csv").write_text("a,b\n1,3\n")
    (tree / "data/new.csv").write_text("a\n")
    moved = Declared(files=["data"], settings=["data"], values={"commit": "def"})
    after = cache.inputs(moved, settings_of({"data": {"x": 2}}), {})
    before["version"], after["version"] = {"scikit-learn": "1.9.1"}, {"scikit-learn": "1.9.2"}

    assert Cache.key("data", before) != Cache.key("data", after)
    said = changes(before, after)
    assert "data/train.csv changed" in said
    assert "data/new.csv is new" in said
    assert "ci.data changed" in said
    assert "scikit-learn 1.9.1 -> 1.9.2" in said
    assert "commit abc -> def" in said


def test_a_flag_of_the_command_line_is_an_input(tree):
    cache = make_cache(tree)
    declared = Declared(settings=["data"])
    plain = cache.inputs(declared, settings_of({}), {})
    flagged = cache.inputs(declared, settings_of({}), {"update_baseline": True})
    assert Cache.key("model", plain) != Cache.key("model", flagged)
    assert changes(plain, flagged) == ["--update-baseline changed"]


def test_a_truncated_entry_is_dropped_and_the_stage_runs(tree):
    said: list[str] = []
    cache = make_cache(tree, said=said)
    key = stored(cache, Declared(files=["data/train.csv"]))
    entry = tree / "build/ci/cache/data" / key / "entry.json"
    entry.write_text(entry.read_text()[:40])

    assert cache.get("data", key) == (
        None,
        f"its cache entry {key[:12]} is damaged (entry.json is not whole JSON)",
    )
    assert not entry.parent.exists()


def test_an_output_that_does_not_match_its_sha256_is_refused(tree):
    said: list[str] = []
    cache = make_cache(tree, said=said)
    key = stored(cache, Declared(files=["data/train.csv"]))
    (tree / "build/ci/cache/data" / key / "files/model.txt").write_text("tampered")
    (tree / "model.txt").write_text("the stage's own")

    hit, why = cache.get("data", key)
    assert hit is None and why.endswith("(model.txt does not match its sha256)")
    assert (tree / "model.txt").read_text() == "the stage's own"  # nothing put back from a bad entry


def test_an_unwritable_cache_warns_once_and_the_run_goes_on(tree):
    (tree / "blocked").write_text("a file where the cache's folder would be")
    said: list[str] = []
    cache = Cache(tree / "blocked/cache", tree, 10**9, say=said.append)
    for _ in range(2):
        cache.put("data", "k" * 64, {}, result(), ["model.txt"])
    cache.save()
    assert len(said) == 1
    assert said[0].startswith("warning: the stage cache blocked/cache cannot be written (not a directory)")
    assert cache.get("data", "k" * 64) == (None, "")


def test_two_runs_storing_the_same_entry_leave_one_whole_entry(tree):
    """Each writes its entry aside and renames it into place: the second finds the first's and drops its
    own; a reader never sees half an entry."""
    caches = [make_cache(tree) for _ in range(8)]
    declared = Declared(files=["data/train.csv"])
    inputs = caches[0].inputs(declared, settings_of({}), {})
    key = Cache.key("data", inputs)
    start = threading.Barrier(len(caches))

    def store(cache: Cache) -> None:
        start.wait()
        cache.put("data", key, inputs, result(artifacts=["model.txt"]), ["model.txt"])

    threads = [threading.Thread(target=store, args=(cache,)) for cache in caches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert os.listdir(tree / "build/ci/cache/data") == [key]
    assert make_cache(tree).get("data", key)[0] is not None


def test_the_least_recently_used_entries_go_beyond_the_size(tree):
    (tree / "model.txt").write_text("x" * 1000)
    cache = make_cache(tree, limit=3500)  # three entries of 1000 bytes fit, not four
    keys = []
    for number in range(3):
        keys.append(stored(cache, Declared(values={"n": str(number)})))
        os.utime(tree / "build/ci/cache/data" / keys[-1] / "entry.json", (number, number))
    cache.get("data", keys[0])  # used: the newest now
    stored(cache, Declared(values={"n": "3"}))

    left = set(os.listdir(tree / "build/ci/cache/data"))
    assert keys[0] in left and keys[1] not in left and keys[2] in left


def test_a_stage_that_reruns_says_what_changed_since_its_last_entry(tree):
    cache = make_cache(tree)
    declared = Declared(files=["data/train.csv"])
    stored(cache, declared)
    (tree / "data/train.csv").write_text("a,b\n9,9\n")
    now = cache.inputs(declared, settings_of({"data": {"x": 1}}), {})
    assert changes(cache.last("data"), now) == ["data/train.csv changed"]
    assert changes(cache.last("model"), now) == ["nothing cached yet"]
    assert changes(cache.last("data", tenant="north"), now) == ["nothing cached yet"]


def test_a_file_just_written_is_hashed_again_next_time(tree):
    """Its size and mtime may not change with its next edit (racy git): it is not remembered."""
    cache = make_cache(tree)
    first = cache.hashes.of(tree / "model.txt")
    (tree / "model.txt").write_text("weighty")  # same second, other content
    assert cache.hashes.of(tree / "model.txt") != first


# Each stage's declared inputs (ci/tasks/_inputs.py) -------------------------------------------------

PROJECT = """\
ci:
  lint: {paths: [clinic, tests]}
  data:
    datasets: [{name: train, path: data/train.csv, checks: [{type: row_count, min: 1}]}]
  model:
    train: invoke train
    path: models/model.joblib
    holdout: data/holdout.csv
    baseline: {rev: ""}
  parity: {golden: data/golden.csv}
  security: {key_file: keys/signing, trusted: [keys/signing.pub]}
"""
FILES = {
    "clinic/model.py": "def fit(): ...\n", "tests/test_model.py": "def test(): ...\n",
    "notebooks/explore.ipynb": "{}", "data/train.csv": "a\n1\n", "data/holdout.csv": "a\n2\n",
    "data/golden.csv": "a\n3\n", "models/model.joblib": "model", "build/ci/metrics.json": "{}",
    "build/ci/image/image.json": '{"id": "sha256:1", "tags": ["clinic:1"]}', "dist/clinic.bundle.tar": "b",
    "dist/clinic.intoto.jsonl": "{}", "keys/signing": "private", "keys/signing.pub": "public",
}  # fmt: skip
# stage: (a change that is its input, a change that is not)
STAGES = {
    "lint": ("clinic/model.py", "data/train.csv"),
    "test": ("tests/test_model.py", "build/ci/metrics.json"),
    "notebooks": ("notebooks/explore.ipynb", "tests/test_model.py"),
    "data": ("data/train.csv", "clinic/model.py"),
    "model": ("clinic/model.py", "models/model.joblib"),  # the trained model is its output, not its input
    "onnx": ("models/model.joblib", "data/train.csv"),
    "package": ("build/ci/metrics.json", "build/ci/image/image.json"),
    "sign": ("dist/clinic.bundle.tar", "dist/clinic.intoto.jsonl"),  # the provenance is what it writes
    "image": ("dist/clinic.intoto.jsonl", "tests/test_model.py"),  # its first line: the sign stage's
    "parity": ("build/ci/image/image.json", "clinic/model.py"),
}


@pytest.mark.parametrize("stage", STAGES)
def test_a_stage_key_moves_with_its_inputs_and_only_them(stage, context, monkeypatch):
    from ci.tasks import _inputs
    from ci.tasks._boundary import Settings
    from ci.tasks.pipeline import STAGES as PIPELINE

    monkeypatch.setattr("ci.core.engine.call", lambda method, path: (200, {"Id": "sha256:base"}))
    s = Settings(context(PROJECT)).validate()
    s._stamp = {"commit": "abc1234", "dirty": False}
    for name, text in FILES.items():
        (s.root / name).parent.mkdir(parents=True, exist_ok=True)
        (s.root / name).write_text(text)
    declare = next(candidate.inputs for candidate in PIPELINE if candidate.name == stage)
    assert declare is getattr(_inputs, stage)
    cache = make_cache(s.root)

    def key() -> str:
        cache.hashes.known.clear()
        return Cache.key(stage, cache.inputs(declare(s), s.get, {}))

    first = key()
    assert key() == first
    own, other = STAGES[stage]
    (s.root / other).write_text(FILES[other] + " ")
    assert key() == first, f"{other} changed the key of {stage}"
    (s.root / own).write_text(FILES[own].replace("1", "2") + " ")
    assert key() != first, f"{own} did not change the key of {stage}"


def test_a_glob_is_the_files_it_matches_now(tree):
    cache = make_cache(tree)
    declared = Declared(files=["data/*.csv"])
    before = cache.inputs(declared, settings_of({}), {})
    (tree / "data/more.csv").write_text("a,b\n")
    after = cache.inputs(declared, settings_of({}), {})
    assert list(before["file"]) == ["data/train.csv"]
    assert changes(before, after) == ["data/more.csv is new"]


def test_a_stage_stored_again_under_its_key_replaces_the_entry(tree):
    """--no-cache runs the stage and stores it anew: the entry then holds the outputs the project has."""
    cache = make_cache(tree)
    declared = Declared(files=["data/train.csv"])
    key = stored(cache, declared)
    (tree / "model.txt").write_text("retrained")
    assert stored(cache, declared) == key
    (tree / "model.txt").unlink()
    assert cache.get("data", key)[0] is not None
    assert (tree / "model.txt").read_text() == "retrained"
    assert os.listdir(tree / "build/ci/cache/data") == [key]  # nothing set aside is left behind


@pytest.mark.parametrize(
    ("name", "written"),
    [
        ("clinic/__pycache__/model.cpython-311.pyc", True), (".coverage", True),
        (".coverage.runner.4242.XkqBd", True), ("clinic.egg-info/PKG-INFO", True),
        (".venv/lib/site.py", True),
        ("clinic/model.py", False), ("data/train.csv", False), ("tests/coverage_test.py", False),
    ],
)  # fmt: skip
def test_what_running_the_project_writes_is_no_input(name, written):
    """Bytecode, coverage data and egg-info appear after the first run, whether git ignores them or not:
    were they inputs, the second run would rerun the tests."""
    from ci.core.cache import _written

    assert _written(name) is written
