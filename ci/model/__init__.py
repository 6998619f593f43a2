"""Model evaluation: loading, metrics, gates against thresholds and a baseline, plots, ONNX parity.

Heavy libraries (scikit-learn, pandas, matplotlib, skl2onnx, onnxruntime)
are imported inside the functions that need them.
"""

MODEL_EXTRA = "pip install 'dsci[model]'"
