"""Export a scikit-learn model to ONNX and prove onnxruntime scores the holdout as Python does.

Known float32 divergences: ONNX's default tensors are float32, so a
StandardScaler, the decision function of an SVM, and the probabilities of a
logistic regression are computed at single precision and differ from
scikit-learn's float64 results by about 1e-7 (label flips only for rows on
the decision boundary). Export with ``double`` where the converter supports
the model's operators, to reach about 1e-16.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ci.core import files
from ci.core.errors import ConfigError
from ci.core.results import Check, Status, group
from ci.core.text import first_line
from ci.model.loading import Predictions, need

WORST_ROWS = 5

JAVA_NOTE = """# Loading {name} from Java

The model was exported by dsci with skl2onnx ({precision}) and checked
against the Python model on the {rows} holdout rows: {flips} labels differed,
and the largest probability difference was {max_diff:.3g} (tolerance {tolerance:g}).

With onnxruntime's Java API (Maven: `com.microsoft.onnxruntime:onnxruntime`):

```java
import ai.onnxruntime.*;
import java.util.Map;

try (OrtEnvironment env = OrtEnvironment.getEnvironment();
     OrtSession session = env.createSession("{name}", new OrtSession.SessionOptions())) {{
    {java_type}[][] rows = {{ /* one row per case, {n_features} features in this order: see below */ }};
    try (OnnxTensor input = OnnxTensor.createTensor(env, rows);
         OrtSession.Result result = session.run(Map.of("{input}", input))) {{
        long[] labels = (long[]) result.get(0).getValue();
        {java_type}[][] probabilities = ({java_type}[][]) result.get(1).getValue();
    }}
}}
```

Input `{input}`: a {java_type} tensor of shape [rows, {n_features}], columns in this order:
{columns}

Scores differ from scikit-learn's by up to about 1e-7 in float32 (scalers,
SVM decision functions, logistic-regression probabilities compute at single
precision); export with `ci.model.onnx.double: true` to match at about 1e-16.
"""


@dataclass
class Parity:
    max_abs_diff: float
    label_flips: int
    rows: int
    worst: list[dict[str, Any]]


def export(estimator: Any, features: Any, path: Path, *, double: bool) -> Path:
    """Convert with skl2onnx (probabilities as a plain tensor, not a ZipMap)."""
    np = need("numpy")
    skl2onnx = need("skl2onnx")
    sample = np.asarray(features, dtype=np.float64 if double else np.float32)[:1]
    try:
        model = skl2onnx.to_onnx(estimator, sample, options={"zipmap": False})
    except Exception as error:  # the converter raises many kinds for what it cannot convert
        detail = first_line(error)
        raise ConfigError(
            f"skl2onnx cannot convert this {type(estimator).__name__}: {detail}; "
            "set ci.model.onnx.enabled to false"
        ) from None
    return files.write_bytes(path, model.SerializeToString())


def parity(python: Predictions, onnx: Predictions) -> Parity:
    np = need("numpy")
    flips = np.asarray(python.labels) != np.asarray(onnx.labels)
    if python.scores is not None and onnx.scores is not None:
        diff = np.abs(np.asarray(python.scores, dtype=np.float64) - np.asarray(onnx.scores, dtype=np.float64))
        per_row = diff.max(axis=1)
    else:
        per_row = np.zeros(len(flips))
    order = np.lexsort((-per_row, ~flips))[:WORST_ROWS]  # flips first, then the largest differences
    worst = [
        {
            "row": int(i),
            "python_label": python.labels[i].item(),
            "onnx_label": onnx.labels[i].item(),
            "max_abs_diff": float(per_row[i]),
        }
        for i in order
    ]
    return Parity(float(per_row.max(initial=0.0)), int(flips.sum()), len(flips), worst)


def to_checks(result: Parity, tolerance: float) -> list[Check]:
    details = {"max_abs_diff": result.max_abs_diff, "label_flips": result.label_flips, "worst": result.worst}
    labels = Check(
        "onnx labels",
        Status.FAILED if result.label_flips else Status.PASSED,
        f"{result.label_flips} of {result.rows} labels differ between scikit-learn and onnxruntime",
        value=result.label_flips,
        threshold=0,
        group=group("model", "onnx"),
        details=details,
    )
    scores = Check(
        "onnx scores",
        Status.FAILED if result.max_abs_diff > tolerance else Status.PASSED,
        f"largest probability difference {result.max_abs_diff:.3g}, tolerance {tolerance:g}",
        value=result.max_abs_diff,
        threshold=tolerance,
        group=group("model", "onnx"),
        details=details,
    )
    return [labels, scores]


def java_note(
    path: Path, onnx_file: Path, columns: list[str], *, double: bool, result: Parity, tolerance: float
) -> Path:
    session = need("onnxruntime").InferenceSession(str(onnx_file), providers=["CPUExecutionProvider"])
    text = JAVA_NOTE.format(
        name=onnx_file.name,
        precision="double precision" if double else "float32",
        rows=result.rows,
        flips=result.label_flips,
        max_diff=result.max_abs_diff,
        tolerance=tolerance,
        java_type="double" if double else "float",
        input=session.get_inputs()[0].name,
        n_features=len(columns),
        columns="\n".join(f"{i}. `{c}`" for i, c in enumerate(columns)),
    )
    return files.write_text(path, text)
