"""A model file (or hook) turned into predictions, for every format dsci knows.

Standalone on purpose: it imports only the standard library, and the model's own
libraries when a model needs them. The serving image ships this very file beside
its app, so the image loads and scores a model exactly as the model stage did.
``ci.model.loading`` wraps it with dsci's messages and exit codes.
"""

from __future__ import annotations

import importlib
import pickle
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SUFFIXES = {".joblib": "joblib", ".pkl": "pickle", ".pickle": "pickle", ".skops": "skops", ".onnx": "onnx"}


class Unusable(Exception):
    """The object loaded, or what a hook returned, cannot serve as the settings ask."""


class Untrusted(Exception):
    """A skops file holds types that nobody said to trust."""

    def __init__(self, types: Sequence[str]) -> None:
        super().__init__(", ".join(types))
        self.types = list(types)


@dataclass
class Predictions:
    """What a model said about some rows: labels (or values), class scores, the classes."""

    labels: Any  # numpy array: class labels, or values for regression
    scores: Any = None  # numpy array (n, k) of class probabilities, when the model gives them
    classes: Any = None  # numpy array of the k class labels, in score order

    def to_json(self) -> dict[str, Any]:
        """As the serving app answers /predict: plain lists, and no key for what the model lacks."""
        answer = {"predictions": _plain(self.labels)}
        if self.scores is not None:
            answer["probabilities"] = _plain(self.scores)
        if self.classes is not None:
            answer["classes"] = _plain(self.classes)
        return answer


def _plain(values: Any) -> list[Any]:
    return values.tolist() if hasattr(values, "tolist") else list(values)


def format_of(file: Path) -> str:
    """The format a file's suffix names, or "" when it names none."""
    return SUFFIXES.get(file.suffix.lower(), "")


def load(file: Path, fmt: str, trusted: Sequence[str] = ()) -> Any:
    """The Python object in a joblib, pickle or skops file; Untrusted for a skops file's unknown types."""
    if fmt == "joblib":
        return importlib.import_module("joblib").load(file)
    if fmt == "pickle":
        with open(file, "rb") as f:
            return pickle.load(f)
    if fmt == "skops":
        skops = importlib.import_module("skops.io")
        untrusted = sorted(set(skops.get_untrusted_types(file=file)) - set(trusted))
        if untrusted:
            raise Untrusted(untrusted)
        return skops.load(file, trusted=list(trusted) or None)
    raise ValueError(f"unknown model format {fmt!r}")


def estimator_scorer(estimator: Any, method: str = "auto") -> Callable[[Any], Predictions]:
    """Scoring by the estimator's predict (and predict_proba unless ``method`` is predict)."""
    has_proba = callable(getattr(estimator, "predict_proba", None))
    if not callable(getattr(estimator, "predict", None)):
        raise Unusable(f"is not a model: a {type(estimator).__name__} has no predict method")
    if method == "predict_proba" and not has_proba:
        raise Unusable("has no predict_proba; set ci.model.method to predict")
    use_proba = has_proba and method != "predict"

    def score(features: Any) -> Predictions:
        labels = estimator.predict(features)
        if not use_proba:
            return Predictions(labels, classes=getattr(estimator, "classes_", None))
        return Predictions(labels, estimator.predict_proba(features), estimator.classes_)

    return score


def onnx_scorer(file: Path) -> Callable[[Any], Predictions]:
    """Scoring by onnxruntime on the CPU, the features cast to the graph's input type."""
    ort = importlib.import_module("onnxruntime")
    np = importlib.import_module("numpy")
    session = ort.InferenceSession(str(file), providers=["CPUExecutionProvider"])
    (feed,) = session.get_inputs()[:1] or [None]
    dtype = np.float64 if "double" in feed.type else np.float32
    classes = onnx_classes(file)

    def score(features: Any) -> Predictions:
        outputs = session.run(None, {feed.name: np.asarray(features, dtype=dtype)})
        labels = outputs[0]
        scores = outputs[1] if len(outputs) > 1 else None
        if isinstance(scores, list):  # a ZipMap: one {class: probability} per row
            order = list(scores[0])
            scores = np.array([[row[c] for c in order] for row in scores])
            return Predictions(labels, scores, np.array(order))
        return Predictions(labels, scores, classes)

    return score


def onnx_classes(file: Path) -> Any:
    """The class labels an ONNX classifier stores in its graph, or None (also where onnx is missing)."""
    try:
        onnx = importlib.import_module("onnx")
    except ImportError:
        return None
    np = importlib.import_module("numpy")
    for node in onnx.load(str(file)).graph.node:
        for attribute in node.attribute:
            if attribute.name in ("classlabels_int64s", "classlabels_ints"):
                return np.array(list(attribute.ints))
            if attribute.name == "classlabels_strings":
                return np.array([s.decode() for s in attribute.strings])
    return None


def hook_function(hook: str, root: Path) -> Callable[[Any], Any]:
    """The function ``module:function`` names, imported with ``root`` first on the path."""
    module_name, _, function_name = hook.partition(":")
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    return getattr(importlib.import_module(module_name), function_name)


def hook_scorer(function: Callable[[Any], Any], method: str, hook: str) -> Callable[[Any], Predictions]:
    """Scoring by a hook: predictions, or with predict_proba a DataFrame with a column per class."""

    def score(features: Any) -> Predictions:
        np = importlib.import_module("numpy")
        result = function(features)
        if method == "predict_proba":
            if not hasattr(result, "columns"):
                raise Unusable(f"{hook} must return a DataFrame with a column per class for predict_proba")
            classes = np.asarray(result.columns)
            scores = result.to_numpy(dtype=float)
            return Predictions(classes[scores.argmax(axis=1)], scores, classes)
        return Predictions(np.asarray(result))

    return score


def open_model(
    file: Path | None, fmt: str, *, method: str = "auto", trusted: Sequence[str] = (), hook: str = "",
    root: Path = Path("."),
) -> tuple[Callable[[Any], Predictions], Any]:  # fmt: skip
    """(score, the Python object or None) for a model in any format; ``fmt`` "auto" reads the suffix."""
    if fmt == "hook":
        return hook_scorer(hook_function(hook, root), method, hook), None
    assert file is not None
    fmt = format_of(file) if fmt == "auto" else fmt
    if fmt == "onnx":
        return onnx_scorer(file), None
    estimator = load(file, fmt, trusted)
    return estimator_scorer(estimator, method), estimator
