"""ci.parity on the example: the golden set scored in development and inside real images.

Needs the services of `dsci services up` (a Docker engine, the offline base image). The
drifted images are built here from the example's own build context, with the network off.
"""

import contextlib
import io
import json
import re
import shutil
import subprocess
import sys

import numpy
import pytest

from tests.integration.conftest import run_with

pytestmark = pytest.mark.tool("invoke", "git", "build", "docker", "docker-engine")


@contextlib.contextmanager
def replaced(path, content: bytes):
    """``path`` holds ``content`` for the block, then what it held: the shared project stays as built."""
    original = path.read_bytes()
    path.write_bytes(content)
    try:
        yield
    finally:
        path.write_bytes(original)


def parity_checks(folder):
    report = json.loads((folder / "build" / "ci" / "report.json").read_text())
    stage = next(s for s in report["stages"] if s["name"] == "parity")
    return {check["name"].split(" in ")[0]: check for check in stage["checks"]}


def derived(base, tag, *lines, **files):
    """An image FROM ``base`` with more Dockerfile lines (and files to COPY), built with the network off."""
    import tarfile

    import docker

    dockerfile = "\n".join([f"FROM {base}", *lines]) + "\n"
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as tar:
        for name, text in {"Dockerfile": dockerfile, **files}.items():
            info = tarfile.TarInfo(name)
            info.size = len(text.encode())
            tar.addfile(info, io.BytesIO(text.encode()))
    context.seek(0)
    docker.from_env().images.build(fileobj=context, custom_context=True, tag=tag, network_mode="none")
    return tag


# Scores moved by one unit in the last place, as another CPU's BLAS kernels give them: the same on every
# machine that runs the test, unlike a CPU-dependent setting such as OPENBLAS_CORETYPE. A .pth file
# imports it at start (Debian's Python has a sitecustomize of its own, found first).
LAST_BITS = """import numpy
from sklearn.linear_model import LogisticRegression

_predict_proba = LogisticRegression.predict_proba
LogisticRegression.predict_proba = lambda self, X: numpy.nextafter(_predict_proba(self, X), 0.5)
"""


@pytest.fixture(scope="module")
def drifted(built, tmp_path_factory):
    """The example's image rebuilt from its own context with another numpy wheel: what a loose pin does."""
    import docker

    folder, _ = built
    ours = numpy.__version__
    theirs = "2.3.5" if not ours.startswith("2.3.") else "2.2.6"
    context = tmp_path_factory.mktemp("drifted") / "context"
    shutil.copytree(folder / "build" / "ci" / "image" / "context", context)
    requirements = context / "requirements.txt"
    requirements.write_text(re.sub(r"(?m)^numpy==.*$", f"numpy=={theirs}", requirements.read_text()))
    for wheel in (context / "wheelhouse").glob("numpy-*.whl"):
        wheel.unlink()
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--only-binary=:all:", "--no-deps",
         "--dest", str(context / "wheelhouse"), f"numpy=={theirs}"],
        check=True,
    )  # fmt: skip
    docker.from_env().images.build(path=str(context), tag="clinic:numpy-drift", network_mode="none")
    return "clinic:numpy-drift", ours, theirs


def test_the_example_passes_parity_inside_its_image(built, invoke):
    folder, image = built
    done = invoke(folder, "ci.parity")
    assert done.returncode == 0, done.stdout + done.stderr
    checks = parity_checks(folder)
    assert {name: c["status"] for name, c in checks.items()} == {
        "golden": "passed",
        "recorded": "passed",
        "predictions": "passed",
        "libraries": "passed",
        "python": "passed",
    }
    assert "0 label flips in 143 rows" in checks["predictions"]["message"]
    assert checks["predictions"]["value"] == 0.0  # the same wheels: the same bits
    summary = (folder / "build" / "ci" / "summary.md").read_text()
    assert f"| | development | `{image['tags'][0]}` |" in summary
    assert "| label flips | – | 0 |" in summary and "| library differences | – | 0 |" in summary
    written = json.loads((folder / "build" / "ci" / "parity" / "parity.json").read_text())
    assert written["image"]["libraries"]["compared"] >= 10


def test_an_image_with_another_numpy_fails_and_lists_the_package(drifted, built, invoke):
    folder, _ = built
    tag, ours, theirs = drifted
    done = invoke(folder, "ci.parity", "--image", tag)
    assert done.returncode == 1, done.stdout + done.stderr
    checks = parity_checks(folder)
    assert checks["libraries"]["status"] == "failed"
    assert checks["libraries"]["message"] == f"numpy {ours} in development, {theirs} in the image"
    assert checks["libraries"]["details"]["differences"] == [
        {"package": "numpy", "development": ours, "image": theirs}
    ]
    assert f"| numpy | {ours} | {theirs} |" in done.stdout
    assert checks["predictions"]["details"]["flips"] == 0  # counted, and here none flipped


def test_a_last_bit_difference_fails_exact_parity_and_passes_a_tolerance(built, invoke):
    """Another CPU's kernels sum in another order; here the image's scores move by one ulp, on any CPU."""
    folder, image = built
    site = f"/opt/venv/lib/python3.{sys.version_info.minor}/site-packages/"
    tag = derived(
        image["tags"][0], "clinic:last-bits", "USER root", f"COPY last_bits.py last_bits.pth {site}",
        "USER serve", **{"last_bits.py": LAST_BITS, "last_bits.pth": "import last_bits\n"},
    )  # fmt: skip
    done = invoke(folder, "ci.parity", "--image", tag)
    assert done.returncode == 1, done.stdout + done.stderr
    predictions = parity_checks(folder)["predictions"]
    assert predictions["details"]["flips"] == 0 and predictions["details"]["outside"] > 0
    assert 0 < predictions["value"] < 1e-12
    assert parity_checks(folder)["libraries"]["status"] == "passed"  # same wheels, other numbers
    assert "| row | development | image | difference |" in done.stdout
    assert f"largest score difference {predictions['value']:.3g} (rtol 0, atol 0)" in predictions["message"]

    done = invoke(folder, "ci.parity", "--image", tag, "--atol", "1e-12")
    assert done.returncode == 0, done.stdout + done.stderr

    done = run_with(folder, invoke, "  parity:\n", f"  parity:\n    matrix: ['{tag}']\n", "ci.parity")
    assert done.returncode == 0, done.stdout + done.stderr  # a matrix image warns, never fails
    report = json.loads((folder / "build" / "ci" / "report.json").read_text())
    stage = next(s for s in report["stages"] if s["name"] == "parity")
    statuses = {c["name"]: c["status"] for c in stage["checks"]}
    assert statuses[f"predictions in {image['tags'][0]}"] == "passed"
    assert statuses[f"predictions in {tag}"] == "warned"
    assert f"| | development | `{image['tags'][0]}` | `{tag}` |" in done.stdout


def test_a_golden_file_that_changed_since_its_predictions_is_refused(built, invoke):
    folder, _ = built
    golden = folder / "data" / "golden.csv"
    with replaced(golden, golden.read_bytes().replace(b"20.57", b"20.58", 1)):
        done = invoke(folder, "ci.parity")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "data/golden.csv changed since its predictions were recorded" in done.stderr
    assert "re-record with `invoke ci.parity --record`" in done.stderr
    assert "Traceback" not in done.stdout + done.stderr


def test_hand_edited_predictions_are_refused(built, invoke):
    folder, _ = built
    stored = folder / "data" / "golden.predictions.json"
    record = json.loads(stored.read_text())
    record["predictions"][0] = 1 - record["predictions"][0]
    with replaced(stored, json.dumps(record).encode()):
        done = invoke(folder, "ci.parity")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "data/golden.predictions.json: its predictions do not match their sha256" in done.stderr


def test_record_samples_the_holdout_once_and_the_same_way(built, invoke, tmp_path):
    folder, _ = built
    for name in ("first", "second"):
        done = run_with(
            folder, invoke, "golden: data/golden.csv", f"golden: build/{name}.csv", "ci.parity", "--record"
        )
        assert done.returncode == 0, done.stdout + done.stderr
    first, second = folder / "build" / "first.csv", folder / "build" / "second.csv"
    assert first.read_bytes() == second.read_bytes()
    assert len(first.read_text().splitlines()) == 144  # the header and every one of the 143 holdout rows
    recorded = json.loads((folder / "build" / "first.predictions.json").read_text())
    assert recorded["golden"]["rows"] == 143 and len(recorded["probabilities"]) == 143
    assert recorded["classes"] == [0, 1]


def test_a_golden_column_the_model_does_not_know_is_named(built, invoke):
    folder, _ = built
    odd = folder / "build" / "odd.csv"
    odd.write_text((folder / "data" / "golden.csv").read_text().replace("mean_texture", "mean_textur", 1))
    done = run_with(
        folder, invoke, "golden: data/golden.csv", "golden: build/odd.csv", "ci.parity", "--record"
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert (
        'build/odd.csv: column "mean_textur" is unknown to models/model.joblib; did you mean "mean_texture"?'
        in done.stderr
    )


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            "golden: data/nowhere.csv",
            "ci.parity.golden: data/nowhere.csv: no such file; `invoke ci.parity --record`",
        ),
        (
            "golden: data/train.csv",
            "data/train.csv has no recorded predictions (data/train.predictions.json)",
        ),
        (
            "golden: data/golden.csv\n    image: clinic:never-built",
            "image clinic:never-built is not in the Docker engine; build it, or fix ci.parity.image",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_2(built, invoke, edit, message):
    folder, _ = built
    done = run_with(folder, invoke, "golden: data/golden.csv", edit, "ci.parity")
    assert done.returncode == 2, done.stdout + done.stderr
    assert message in done.stderr
    assert "Traceback" not in done.stdout + done.stderr


def test_no_image_built_yet_names_the_task_that_builds_it(example, invoke):
    done = invoke(example, "ci.parity")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "no image built yet; `invoke ci.image` builds one" in done.stderr


def test_a_container_that_fails_to_start_shows_its_last_lines(built, invoke):
    folder, image = built
    tag = derived(image["tags"][0], "clinic:no-bundle", "ENV DSCI_BUNDLE=/app/missing.tar")
    done = invoke(folder, "ci.parity", "--image", tag)
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"{tag} exited with 1 while scoring the golden set; its last lines:" in done.stderr
    assert "No such file or directory: '/app/missing.tar'" in done.stderr
    assert "Traceback" not in done.stderr.split("its last lines:")[0]


def test_an_image_of_another_model_says_to_rebuild_it(built, invoke):
    folder, _ = built
    other = (
        "from clinic.model import train; train('data/holdout.csv', 'data/holdout.csv', 'build/other.joblib')"
    )
    subprocess.run([sys.executable, "-c", other], cwd=folder, check=True)
    with replaced(folder / "models" / "model.joblib", (folder / "build" / "other.joblib").read_bytes()):
        done = invoke(folder, "ci.parity")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "rebuild the image (`invoke ci.package ci.image`)" in done.stderr


def moved_record(folder, by):
    """The golden predictions as another CPU records them: the model's bits differ, its scores by ``by``."""
    from ci.parity import Scored

    stored = folder / "data" / "golden.predictions.json"
    record = json.loads(stored.read_text())
    scores = numpy.asarray(record["probabilities"])
    record["probabilities"] = (by(scores[:, 1:]) if callable(by) else scores[:, 1:] + by).tolist()
    record["probabilities"] = [[1 - p[0], p[0]] for p in record["probabilities"]]
    record["model"]["sha256"] = "0" * 64  # trained elsewhere: another file
    record["sha256"] = Scored.of(record).sha256()
    return stored, json.dumps(record).encode()


def few_ulps(scores):
    for _ in range(3):
        scores = numpy.nextafter(scores, 1.0)
    return scores


def test_a_record_from_another_cpu_a_few_ulps_away_passes_as_retrained(built, invoke):
    folder, _ = built
    stored, content = moved_record(folder, few_ulps)
    with replaced(stored, content):
        done = invoke(folder, "ci.parity")
    assert done.returncode == 0, done.stdout + done.stderr
    recorded = parity_checks(folder)["recorded"]
    assert recorded["status"] == "passed"
    assert recorded["message"].startswith("retrained since the record of ")
    assert "reproduces the recorded predictions within atol 1e-09, rtol 0" in recorded["message"]
    assert 0 < recorded["value"] < 1e-12


def test_a_retrained_model_beyond_the_tolerance_warns_or_fails_as_asked(built, invoke):
    folder, _ = built
    stored, content = moved_record(folder, 1e-6)
    with replaced(stored, content):
        warned = invoke(folder, "ci.parity")
        recorded = parity_checks(folder)["recorded"]
        failed = invoke(folder, "ci.parity", INVOKE_CI_PARITY_RETRAINED_BEYOND="fail")
    assert warned.returncode == 0, warned.stdout + warned.stderr
    assert recorded["status"] == "warned"
    assert "rows outside the tolerance, largest score difference 1e-06" in recorded["message"]
    assert "most: row " in recorded["message"]
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert parity_checks(folder)["recorded"]["status"] == "failed"
