"""The notebooks stage and ci.notebooks.setup, on the example and on real git repositories."""

import json

import nbformat
import pytest
import yaml

from tests.integration.conftest import commit, git, stage_report

CARD = "5500005555555559"  # a test card number that passes the Luhn check


def report(folder):
    return stage_report(folder, "notebooks")


def write(path, *sources, outputs=None):
    """A notebook of code cells; ``outputs`` maps a 0-based cell index to its printed text."""
    kernel = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": kernel, "language_info": {"name": "python"}})
    nb.cells = [nbformat.v4.new_code_cell(source, id=str(i)) for i, source in enumerate(sources)]
    for index, text in (outputs or {}).items():
        nb.cells[index].outputs = [nbformat.v4.new_output("stream", name="stdout", text=text)]
        nb.cells[index].execution_count = index + 1
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


def settings(folder, **notebooks):
    """``ci.notebooks`` of the project's invoke.yaml, with these settings laid over it."""
    path = folder / "invoke.yaml"
    tree = yaml.safe_load(path.read_text())
    tree["ci"]["notebooks"] = {**tree["ci"].get("notebooks", {}), **notebooks}
    path.write_text(yaml.safe_dump(tree, sort_keys=False))


def test_the_example_notebook_passes(example, invoke):
    done = invoke(example, "ci.notebooks")
    assert done.returncode == 0, done.stdout[-2000:]
    checks, stage = report(example)
    assert stage["status"] == "passed"
    assert checks["notebooks/explore.ipynb"]["message"] == "stripped: no outputs, no execution counts"
    assert checks["ruff"]["message"] == "no findings in 1 notebook(s)"


def test_a_copy_with_outputs_fails_naming_the_cells_and_a_masked_card_number(example, invoke):
    write(
        example / "notebooks" / "patients.ipynb",
        "x = 1", "print('paid with', x)", "x",
        outputs={1: f"paid with {CARD}\n", 2: "1\n"},
    )  # fmt: skip
    commit(example)
    done = invoke(example, "ci.notebooks")
    assert done.returncode == 1
    checks, _ = report(example)
    stripped = checks["notebooks/patients.ipynb"]
    assert stripped["status"] == "failed"
    assert stripped["message"] == (
        "not stripped: outputs in cells 2, 3; execution counts in cells 2, 3; run `nbstripout "
        "notebooks/patients.ipynb`, and `invoke ci.notebooks.setup` once to strip every commit"
    )
    card = checks["card in notebooks/patients.ipynb cell 2"]
    assert card["message"] == "1 card value(s) in the output of cell 2 (e.g. ************5559)"
    everything = done.stdout + done.stderr + "".join(p.read_text() for p in (example / "build").rglob("*.*"))
    assert CARD not in everything


def test_ruff_findings_name_the_cell_and_the_lint_stage_leaves_notebooks_to_it(example, invoke):
    write(example / "notebooks" / "messy.ipynb", "x = 1", "import os\ny = 2")
    commit(example)
    assert invoke(example, "ci.notebooks").returncode == 1
    checks, _ = report(example)
    finding = checks["F401 notebooks/messy.ipynb cell 2, line 1"]
    assert finding["message"] == "`os` imported but unused" and finding["details"]["cell"] == 2
    for paths in (".", "notebooks/messy.ipynb"):  # however the lint stage is pointed at it
        lint = invoke(example, "ci.lint", "--paths", paths)
        assert lint.returncode == 0, lint.stdout[-2000:]  # the same finding is not reported twice


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("{not json", "not valid JSON: "),
        (json.dumps({"nbformat": 3, "nbformat_minor": 0, "worksheets": [], "metadata": {}}),
         "nbformat 3, not 4; convert it with `jupyter nbconvert --to notebook --nbformat 4 --inplace "
         "notebooks/old.ipynb`"),
    ],
)  # fmt: skip
def test_a_notebook_that_cannot_be_read_fails_with_the_reason(example, invoke, content, expected):
    (example / "notebooks" / "old.ipynb").write_text(content)
    commit(example)
    assert invoke(example, "ci.notebooks").returncode == 1
    checks, _ = report(example)
    assert checks["notebooks/old.ipynb"]["message"].startswith(expected)
    assert checks["notebooks/explore.ipynb"]["status"] == "passed"  # the others are still checked


def test_chosen_notebooks_run_with_parameters_and_a_failing_cell_is_named(example, invoke):
    tagged = nbformat.v4.new_code_cell("rows = 10", id="p", metadata={"tags": ["parameters"]})
    good = write(example / "notebooks" / "runs.ipynb", "total = rows * 2", "print(total)")
    nb = nbformat.read(good, 4)
    nb.cells.insert(0, tagged)
    nbformat.write(nb, good)
    write(example / "notebooks" / "fails.ipynb", "a = 1", "b = 2", "a / 0", "print('never')")
    commit(example)
    settings(example, execute=["notebooks/runs.ipynb", "notebooks/fails.ipynb"], parameters={"rows": 21})
    done = invoke(example, "ci.notebooks")
    assert done.returncode == 1
    checks, _ = report(example)
    assert checks["run notebooks/runs.ipynb"]["status"] == "passed"
    ran = nbformat.read(example / "build" / "ci" / "notebooks" / "notebooks" / "runs.ipynb", 4)
    assert ran.cells[1].metadata.tags == ["injected-parameters"]
    assert ran.cells[-1].outputs[0].text == "42\n"  # the injected rows, not the notebook's own
    failed = checks["run notebooks/fails.ipynb"]
    assert failed["message"] == "cell 3 failed: ZeroDivisionError: division by zero"
    assert "a / 0" in failed["output"]
    assert json.loads((example / "notebooks" / "runs.ipynb").read_text())["cells"][1]["outputs"] == []


def test_a_hanging_notebook_is_stopped_and_a_missing_kernel_is_exit_3(example, invoke):
    write(example / "notebooks" / "hangs.ipynb", "import time", "time.sleep(60)")
    commit(example)
    settings(example, execute=["notebooks/hangs.ipynb"], timeout=2)
    done = invoke(example, "ci.notebooks")
    assert done.returncode == 1
    checks, _ = report(example)
    assert checks["run notebooks/hangs.ipynb"]["message"] == (
        "ran longer than 2 s (ci.notebooks.timeout): stopped in cell 2"
    )
    settings(example, kernel="julia-1.10")
    missing = invoke(example, "ci.notebooks")
    assert missing.returncode == 3
    assert missing.stderr.strip() == (
        "error: notebooks/hangs.ipynb: kernel 'julia-1.10' is not installed; install it, or set "
        "ci.notebooks.kernel"
    )


def test_setup_strips_commits_and_makes_diffs_readable_in_a_real_repository(example, invoke):
    done = invoke(example, "ci.notebooks.setup")
    assert done.returncode == 0, done.stderr
    assert "dsci: .gitattributes: *.ipynb filter=nbstripout diff=jupyternotebook merge=jupyternotebook" in (
        done.stdout
    )
    path = write(example / "notebooks" / "work.ipynb", "x = 1", "print(x)", outputs={1: "1\n"})
    commit(example, "a notebook with outputs")
    committed = json.loads(git(example, "show", "HEAD:notebooks/work.ipynb"))
    assert [c["outputs"] for c in committed["cells"]] == [[], []]
    assert [c["execution_count"] for c in committed["cells"]] == [None, None]
    assert json.loads(path.read_text())["cells"][1]["outputs"]  # the work tree keeps them
    nb = nbformat.read(path, 4)
    nb.cells[1].source = "print(x + 1)"
    nbformat.write(nb, path)
    diff = git(example, "diff", "--no-color", "notebooks/work.ipynb")
    assert "## modified /cells/1/source:" in diff
    assert "-  print(x)" in diff and "+  print(x + 1)" in diff
    assert invoke(example, "ci.notebooks.setup").stdout.strip() == "dsci: the repository was set up already"
    # The outputs stay on this disk and never reach a commit: the stage judges what git holds.
    assert invoke(example, "ci.notebooks").returncode == 0
    checks, _ = report(example)
    assert checks["notebooks/work.ipynb"]["message"] == "stripped: no outputs, no execution counts"


def test_setup_does_not_hide_outputs_committed_before_it(example, invoke):
    write(example / "notebooks" / "old.ipynb", "x = 1", f"print({CARD!r})", outputs={1: f"{CARD}\n"})
    commit(example, "outputs, before the filter")
    assert invoke(example, "ci.notebooks.setup").returncode == 0
    assert json.loads(git(example, "show", ":notebooks/old.ipynb"))["cells"][1]["outputs"]
    assert invoke(example, "ci.notebooks").returncode == 1  # git still holds the outputs
    checks, _ = report(example)
    assert checks["notebooks/old.ipynb"]["message"].startswith("not stripped: outputs in cell 2;")
    assert checks["card in notebooks/old.ipynb cell 2"]["status"] == "failed"


def test_a_cell_that_kills_the_kernel_fails_the_notebook_naming_the_cell(example, invoke):
    write(example / "notebooks" / "dies.ipynb", "import os", "os._exit(1)", "print('never')")
    commit(example)
    settings(example, execute=["notebooks/dies.ipynb"])
    done = invoke(example, "ci.notebooks")
    assert done.returncode == 1, done.stderr
    checks, _ = report(example)
    assert checks["run notebooks/dies.ipynb"]["message"].startswith("the kernel died in cell 2: ")


def test_metadata_a_team_keeps_passes_and_setup_gives_the_filter_the_same(example, invoke):
    path = write(example / "notebooks" / "folded.ipynb", "x = 1", "y = 2")
    nb = nbformat.read(path, 4)
    nb.cells[1].metadata["collapsed"] = True
    nb.cells[0].id = "3f2a9c"  # as Jupyter writes ids; nbstripout numbers them
    nbformat.write(nb, path)
    commit(example)
    assert invoke(example, "ci.notebooks").returncode == 1
    checks, _ = report(example)
    assert checks["notebooks/folded.ipynb"]["message"].startswith(
        "not stripped: cell metadata in cell 2; cell ids in cell 1; run `nbstripout notebooks/folded.ipynb`"
    )
    nb.cells[0].id = "0"
    nbformat.write(nb, path)
    commit(example)
    settings(example, keep_metadata=["cell.metadata.collapsed"])
    assert invoke(example, "ci.notebooks").returncode == 0
    assert invoke(example, "ci.notebooks.setup").returncode == 0
    kept = git(example, "config", "--get", "filter.nbstripout.keepmetadatakeys").strip()
    assert kept == "cell.metadata.collapsed"


def test_a_notebook_tracked_but_gone_fails_and_the_others_are_still_checked(example, invoke):
    write(example / "notebooks" / "gone.ipynb", "x = 1")
    commit(example)
    (example / "notebooks" / "gone.ipynb").unlink()
    assert invoke(example, "ci.notebooks").returncode == 1
    checks, _ = report(example)
    assert (
        checks["notebooks/gone.ipynb"]["message"]
        == "tracked by git but not on disk; restore it or `git rm` it"
    )
    assert checks["notebooks/explore.ipynb"]["status"] == "passed"


def test_a_notebook_papermill_saved_is_run_with_dscis_parameters_and_its_own_cell_numbers(example, invoke):
    path = write(example / "notebooks" / "saved.ipynb", "rows = 10", "rows = 3", "x = rows", "1 / (x - 21)")
    nb = nbformat.read(path, 4)
    nb.cells[0].metadata["tags"] = ["parameters"]
    nb.cells[1].metadata["tags"] = ["injected-parameters"]  # what papermill left in it
    nbformat.write(nb, path)
    commit(example)
    settings(example, execute=["notebooks/saved.ipynb"], parameters={"rows": 21})
    assert invoke(example, "ci.notebooks").returncode == 1
    checks, _ = report(example)
    assert (
        checks["run notebooks/saved.ipynb"]["message"] == "cell 4 failed: ZeroDivisionError: division by zero"
    )
