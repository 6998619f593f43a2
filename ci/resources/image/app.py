"""The model server in a dsci image: a WSGI app, run by gunicorn.

GET /health (the process answers), GET /ready (the model is loaded), GET
/metadata (what the bundle's manifest says, and who signed it), POST /predict
(JSON rows in, predictions out; a malformed request gets 422 and a message,
a body over ``max_body`` bytes 413).

When ``serving.json`` names the model's ``features`` (ci.image.predict
arrays: every one a number), a request's rows reach the model as one float
array in that order, without a DataFrame: a third of the time per request.

Before it loads anything it verifies the bundle (``dsci_trust``, the very
checks of `invoke ci.verify`): when the build was signed, a trusted key must
have signed the bundle's provenance and every digest must match it; an
encrypted bundle is decrypted with the age identity whose file
``DSCI_IDENTITY`` names (mounted at run time), into a tmpfs
(``DSCI_MODEL_DIR``, by default under /dev/shm), never onto the image's
disk; then every file is checked against the manifest. Any refusal keeps the
model unloaded: the log says why, /ready answers 503 with the reason, and the
process stays up so that an orchestrator sees a pod that never becomes ready.
Then it loads the model with the model stage's own code (``dsci_formats``),
as ``serving.json`` says the stage did.

`python app.py parity ROWS.json` scores a file of rows with the same
``predict`` and prints it as JSON with what the image runs (Python, platform,
installed distributions): dsci's parity stage compares that with development.
It exits with 4 when verification refused the bundle.
"""

import json
import os
import sys
import tempfile
import warnings
from pathlib import Path

import dsci_formats  # ci/model/formats.py, copied beside this file: the model stage's own loading code
import dsci_trust  # ci/security/trust.py, copied beside this file: the checks of `invoke ci.verify`

# Arrays carry no column names: scikit-learn's warning that they do not is expected, once per request.
warnings.filterwarnings("ignore", message="X does not have valid feature names")
HERE = Path(__file__).resolve().parent
# How the model stage loaded the model: its path in the bundle, format, method, trusted types, hook;
# and the bundle's name, whether its build was signed, and where its provenance is.
SERVING = json.loads((HERE / "serving.json").read_text(encoding="utf-8"))
FOLDER = HERE / "bundle"
BUNDLE = Path(os.environ.get("DSCI_BUNDLE") or FOLDER / SERVING["bundle"])
TRUSTED = os.environ.get("DSCI_TRUSTED_SIGNERS") or str(FOLDER / "trusted_signers")
FEATURES = SERVING.get("features") or []  # the model's columns, when rows may reach it as a float array
MAX_BODY = SERVING.get("max_body") or 10_000_000  # bytes
SECURITY_ERROR = 4  # dsci's exit code for a refused signature or decryption


def model_dir(encrypted):
    """A new private folder for the checked files: on a tmpfs for a decrypted model, or Refused."""
    if not encrypted:
        return Path(tempfile.mkdtemp(prefix="dsci-model-"))
    base = Path(os.environ.get("DSCI_MODEL_DIR") or "/dev/shm")
    if not dsci_trust.in_memory(base):
        raise dsci_trust.Refused(
            f"{base} is not a tmpfs, and the decrypted model must never reach a disk: mount a tmpfs "
            "there, or name one in DSCI_MODEL_DIR"
        )
    return Path(tempfile.mkdtemp(prefix="dsci-model-", dir=base))  # empty: nothing unchecked in it


def trusted_signers():
    """The trusted keys, when the build was signed or whoever runs the image names them (then the
    image's own choice does not count: an image cannot turn its own checks off)."""
    if not (SERVING.get("signed") or os.environ.get("DSCI_TRUSTED_SIGNERS")):
        return None
    try:
        text = Path(TRUSTED).read_text(encoding="utf-8")
    except OSError as error:
        raise dsci_trust.Refused(
            f"{TRUSTED}: no trusted keys to check the signature ({error.strerror})"
        ) from None
    return dsci_trust.read_signers(text, TRUSTED)


def load(bundle):
    """(manifest, model's entry, score, who signed) after every check of the bundle passed."""
    signers = trusted_signers()
    envelopes = FOLDER / SERVING.get("provenance", "provenance.intoto.jsonl") if signers is not None else None
    encrypted = dsci_trust.is_encrypted(bundle)
    identity, where = dsci_trust.environment_identity() if encrypted else (None, "")
    workdir = model_dir(encrypted)
    # Without an identity, open_bundle still checks the signature and the ciphertext before it refuses.
    manifest, _, signer = dsci_trust.open_bundle(
        bundle, envelopes=envelopes, signers=signers or [], identity=identity, workdir=workdir,
        no_identity=where,
    )  # fmt: skip
    name = SERVING["model"]
    entry = next((e for e in manifest["files"] if e["path"] == name), None)
    if name and entry is None:
        raise dsci_trust.Refused(f"{name}: the model is not among the files of {bundle.name}'s manifest")
    os.chdir(workdir)  # the model's working folder: a hook finds the bundle's files as at the project's root
    sys.path.insert(0, str(HERE))  # a hook's module, copied beside this file when not in the wheel
    score, estimator = dsci_formats.open_model(
        workdir / name if name else None,
        SERVING["format"],
        method=SERVING["method"],
        trusted=SERVING["trusted"],
        hook=SERVING["hook"],
        root=workdir,
    )
    signed = f"{signer.name} ({signer.fingerprint})" if signer else None
    known = [str(c) for c in getattr(estimator, "feature_names_in_", [])]
    if FEATURES and known != FEATURES:
        raise dsci_trust.Refused(f"the model's columns are not the {len(FEATURES)} the image was built for")
    return manifest, entry or {"path": name, "sha256": None}, score, signed


def start():
    """Load at import (gunicorn --preload: once, before the workers fork); a refusal is kept, not raised:
    the process stays up, unready, saying why."""
    try:
        manifest, entry, score, signed = load(BUNDLE)
    except dsci_trust.Refused as error:  # any other failure stops the process with its traceback
        return None, None, None, None, (f"refusing to load the model: {error}", SECURITY_ERROR)
    by = f", signed by {signed}" if signed else ""
    print(f"dsci: {BUNDLE.name} verified{by}; model {entry['path']} loaded", file=sys.stderr, flush=True)
    return manifest, entry, score, signed, None


MANIFEST, MODEL, SCORE, SIGNED, REFUSED = start()
if REFUSED:
    print(f"dsci: {REFUSED[0]}", file=sys.stderr, flush=True)


def predict(payload):
    """Predictions for {"rows": [{column: value, ...}, ...]}; ValueError for anything else."""
    rows = payload.get("rows") if isinstance(payload, dict) else None
    if not isinstance(rows, list) or not rows or not all(isinstance(row, dict) for row in rows):
        raise ValueError('expected {"rows": [{"column": value, ...}, ...]} with at least one row')
    if FEATURES:
        return SCORE(as_array(rows)).to_json()
    import pandas as pd

    return SCORE(pd.DataFrame(rows)).to_json()


def as_array(rows):
    """The rows as one float array, the model's columns in its order; ValueError naming a column that
    is missing or unknown, or a value that is no number."""
    import numpy as np

    for row in rows:
        if len(row) != len(FEATURES) or any(column not in row for column in FEATURES):
            missing = [column for column in FEATURES if column not in row]
            unknown = [column for column in row if column not in FEATURES]
            said = f"missing column {missing[0]}" if missing else f"unknown column {unknown[0]}"
            raise ValueError(f"{said}: the model takes {', '.join(FEATURES)}")
    try:  # column-major, as a DataFrame hands its values over: the same sums in the same order, same bits
        return np.array([[row[column] for column in FEATURES] for row in rows], dtype=np.float64, order="F")
    except (TypeError, ValueError):
        raise ValueError("every value must be a number: the model's columns are numeric") from None


def respond(start_response, status, body):
    data = json.dumps(body).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]


def application(environ, start_response):
    method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO", "/")
    if method == "GET" and path == "/health":
        return respond(start_response, "200 OK", {"status": "ok"})
    if REFUSED and path in ("/ready", "/metadata", "/predict"):
        return respond(start_response, "503 Service Unavailable", {"status": "refused", "reason": REFUSED[0]})
    if method == "GET" and path == "/ready":
        return respond(start_response, "200 OK", {"status": "ready", "model": MODEL["path"]})
    if method == "GET" and path == "/metadata":
        keys = ("name", "git", "built", "python", "files", "metrics")
        said = {key: MANIFEST.get(key) for key in keys}
        return respond(start_response, "200 OK", {**said, "signed_by": SIGNED})
    if path == "/predict" and method == "POST":
        length = int(environ.get("CONTENT_LENGTH") or 0)
        if length > MAX_BODY:
            said = f"the request body is {length} bytes, over the limit of {MAX_BODY} (ci.image.max_body)"
            return respond(start_response, "413 Content Too Large", {"error": said})
        try:
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
    if REFUSED:
        sys.exit(REFUSED[1])
    json.dump(parity(sys.argv[2]), sys.stdout)
