"""The model server in a dsci image: a WSGI app, run by gunicorn.

GET /health (the process answers), GET /ready (the model is loaded), GET
/metadata (what the bundle's manifest says), POST /predict (JSON rows in,
predictions out; a malformed request gets 422 and a message). At start it
checks every file of the bundle against the manifest's sha256 and size, and
refuses to start on any difference; then it loads the model with the model
stage's own code (``dsci_formats``), as ``serving.json`` says the stage did.

`python app.py parity ROWS.json` scores a file of rows with the same
``predict`` and prints it as JSON with what the image runs (Python, platform,
installed distributions): dsci's parity stage compares that with development.
"""

import hashlib
import json
import os
import sys
import tarfile
import tempfile
from pathlib import Path

import dsci_formats  # ci/model/formats.py, copied beside this file: the model stage's own loading code

HERE = Path(__file__).resolve().parent
BUNDLE = os.environ.get("DSCI_BUNDLE", str(HERE / "bundle.tar"))
# How the model stage loaded the model: its path in the bundle, format, method, trusted types, hook.
SERVING = json.loads((HERE / "serving.json").read_text(encoding="utf-8"))


def load(bundle_path):
    """(manifest, model's entry, score) from the bundle, after checking every file against the manifest.

    The checked files are written to a private folder, the model's working folder: a hook finds
    the bundle's files where it found them at the project's root in development."""
    workdir = Path(tempfile.mkdtemp(prefix="dsci-model-"))
    with tarfile.open(bundle_path) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))
        for entry in manifest["files"]:
            data = tar.extractfile(entry["path"]).read()
            if len(data) != entry["size"] or hashlib.sha256(data).hexdigest() != entry["sha256"]:
                raise SystemExit(f"refusing to start: {entry['path']} does not match the bundle's manifest")
            target = workdir / entry["path"]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
    name = SERVING["model"]
    entry = next((e for e in manifest["files"] if e["path"] == name), {"path": name, "sha256": None})
    os.chdir(workdir)
    sys.path.insert(0, str(HERE))  # a hook's module, copied beside this file when not in the wheel
    score, _ = dsci_formats.open_model(
        workdir / name if name else None,
        SERVING["format"],
        method=SERVING["method"],
        trusted=SERVING["trusted"],
        hook=SERVING["hook"],
        root=workdir,
    )
    return manifest, entry, score


MANIFEST, MODEL, SCORE = load(BUNDLE)


def predict(payload):
    """Predictions for {"rows": [{column: value, ...}, ...]}; ValueError for anything else."""
    import pandas as pd

    rows = payload.get("rows") if isinstance(payload, dict) else None
    if not isinstance(rows, list) or not rows or not all(isinstance(row, dict) for row in rows):
        raise ValueError('expected {"rows": [{"column": value, ...}, ...]} with at least one row')
    return SCORE(pd.DataFrame(rows)).to_json()


def respond(start_response, status, body):
    data = json.dumps(body).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]


def application(environ, start_response):
    method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO", "/")
    if method == "GET" and path == "/health":
        return respond(start_response, "200 OK", {"status": "ok"})
    if method == "GET" and path == "/ready":
        return respond(start_response, "200 OK", {"status": "ready", "model": MODEL["path"]})
    if method == "GET" and path == "/metadata":
        keys = ("name", "git", "built", "python", "files", "metrics")
        return respond(start_response, "200 OK", {key: MANIFEST.get(key) for key in keys})
    if path == "/predict" and method == "POST":
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
            payload = json.loads(environ["wsgi.input"].read(length) or b"null")
            return respond(start_response, "200 OK", predict(payload))
        except (ValueError, KeyError, TypeError) as error:  # bad JSON, unknown columns, wrong types
            message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            return respond(start_response, "422 Unprocessable Entity", {"error": message})
    return respond(start_response, "404 Not Found", {"error": f"no route {method} {path}"})


def environment():
    """What this image runs: Python, platform, and every installed distribution with its version."""
    import platform
    from importlib import metadata

    installed = {
        dist.metadata["Name"]: dist.version for dist in metadata.distributions() if dist.metadata["Name"]
    }
    return {"python": platform.python_version(), "platform": platform.platform(), "distributions": installed}


def parity(rows_file):
    """A JSON file's rows scored by ``predict``, with the model, the manifest's lock and the environment."""
    with open(rows_file, encoding="utf-8") as f:
        scored = predict({"rows": json.load(f)})
    return {**scored, "model": MODEL, "lock": MANIFEST.get("lock", []), **environment()}


if __name__ == "__main__" and sys.argv[1:2] == ["parity"]:
    json.dump(parity(sys.argv[2]), sys.stdout)
