"""A project that is no Python package (a train.py and a requirements.txt) gets an image that serves.

Every model format the model stage loads is built into an image and must answer /predict as
development does before the image stage passes. Needs the services of `dsci services up`.
"""

import json
import shutil

import pytest

from tests.integration.conftest import EXAMPLE, git

pytestmark = pytest.mark.tool("invoke", "git", "docker", "docker-engine", "sklearn", "pandas")

TRAIN = '''"""Train the clinic model and save it in the format named on the command line."""

import pickle
import sys
from pathlib import Path

import joblib
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

train = pd.read_csv("data/train.csv")
features = train.drop(columns=["patient_id", "clinic", "malignant"])
model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(features, train["malignant"])
Path("models").mkdir(exist_ok=True)
fmt = sys.argv[1]
if fmt == "pickle":
    Path("models/model.pkl").write_bytes(pickle.dumps(model))
elif fmt == "skops":
    import skops.io

    skops.io.dump(model, "models/model.skops")
elif fmt == "onnx":
    from skl2onnx import to_onnx

    onnx = to_onnx(model, features[:1].to_numpy(dtype="float32"))  # one tensor input, as dsci exports
    Path("models/model.onnx").write_bytes(onnx.SerializeToString())
else:  # joblib, and the hook's model
    joblib.dump(model, "models/model.joblib")
'''

# A hook loads its own model, by a path relative to the project's root, as in development.
HOOK = """import joblib
import pandas as pd

_model = []


def proba(frame):
    if not _model:
        _model.append(joblib.load("models/model.joblib"))
    return pd.DataFrame(_model[0].predict_proba(frame), columns=_model[0].classes_)
"""

SETTINGS = """ci:
  model:
    train: python train.py {fmt}
    path: models/model.{suffix}
    format: {format}
    hook: "{hook}"
    method: {method}
    holdout: data/holdout.csv
    target: malignant
    drop: [patient_id, clinic]
    gates:
      roc_auc: {{min: 0.9}}
  image:
    base: dsci/python-base:3.11-bookworm
"""

FORMATS = {  # format: (suffix, requirements.txt, hook, method, tools)
    "joblib": ("joblib", "scikit-learn\npandas\njoblib\n", "", "auto", ()),
    "pickle": ("pkl", "scikit-learn\npandas\n", "", "auto", ()),
    "skops": ("skops", "scikit-learn\npandas\nskops\n", "", "auto", ("skops",)),
    "onnx": ("onnx", "onnxruntime\npandas\n", "", "auto", ("skl2onnx", "onnxruntime")),
    "hook": ("joblib", "scikit-learn\npandas\njoblib\n", "scoring:proba", "predict_proba", ()),
}


def scripted_project(folder, fmt, requirements=None):
    """The clinic data with a train.py and a requirements.txt: no pyproject.toml, no setup.cfg."""
    suffix, needs, hook, method, _ = FORMATS[fmt]
    folder.mkdir(parents=True)
    shutil.copytree(EXAMPLE / "data", folder / "data")
    (folder / "train.py").write_text(TRAIN)
    (folder / "scoring.py").write_text(HOOK)
    (folder / "requirements.txt").write_text(requirements if requirements is not None else needs)
    (folder / "tasks.py").write_text(
        "import ci\nfrom invoke import Collection\n\nns = Collection(ci.namespace(__file__))\n"
    )
    (folder / "invoke.yaml").write_text(
        SETTINGS.format(fmt=fmt, suffix=suffix, format="hook" if hook else "auto", hook=hook, method=method)
    )
    git(folder, "init", "--quiet", "--initial-branch=main")
    git(folder, "add", "--all")
    git(folder, "commit", "--quiet", "--message", f"a {fmt} model, no package")
    return folder


def image_checks(folder):
    report = json.loads((folder / "build" / "ci" / "report.json").read_text())
    stage = next(s for s in report["stages"] if s["name"] == "image")
    return {check["name"]: check for check in stage["checks"]}


@pytest.mark.parametrize(
    "fmt", [pytest.param(fmt, marks=pytest.mark.tool(*spec[4])) for fmt, spec in FORMATS.items()]
)
def test_a_project_that_is_no_package_gets_an_image_that_serves_its_model(tmp_path, invoke, fmt):
    folder = scripted_project(tmp_path / f"scripted-{fmt}", fmt)
    done = invoke(folder, "ci.all", "--only", "model,package,image")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    checks = image_checks(folder)
    assert checks["serves"]["status"] == "passed"
    assert "5 rows as development predicts them" in checks["serves"]["message"]
    built = json.loads((folder / "build" / "ci" / "image" / "image.json").read_text())
    names = {pin.split("==")[0].lower() for pin in built["requirements"]}
    assert set(FORMATS[fmt][1].split()) <= names  # requirements.txt's entries, pinned: no package here
    assert not list((folder / "dist").glob("*.whl"))


def test_an_image_that_cannot_load_its_model_fails_with_the_container_s_own_error(tmp_path, invoke):
    folder = scripted_project(tmp_path / "scripted-broken", "joblib", requirements="pandas\n")
    done = invoke(folder, "ci.all", "--only", "model,package,image")
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-3000:]
    serves = image_checks(folder)["serves"]
    assert serves["status"] == "failed"
    assert "stopped before it was ready; its last lines:" in serves["message"]
    assert "No module named 'joblib'" in serves["message"]
    assert not (folder / "build" / "ci" / "image" / "image.json").exists()  # push and parity find none


def test_a_dependency_development_lacks_is_named_with_its_line(tmp_path, invoke):
    folder = scripted_project(
        tmp_path / "scripted-unknown", "joblib", requirements="scikit-learn\nno-such-distribution-here\n"
    )
    done = invoke(folder, "ci.all", "--only", "model,package,image")
    assert done.returncode == 2, done.stdout[-3000:] + done.stderr[-3000:]
    assert done.stderr.strip().splitlines()[-1] == (
        "error: requirements.txt:2: no-such-distribution-here is needed in the image but not installed here: "
        "install it (`pip install no-such-distribution-here`) so the image gets the version you develop with"
    )
