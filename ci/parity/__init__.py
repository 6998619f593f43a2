"""Dev/prod parity: the golden set scored in development and inside the built image, then compared.

The golden set is a file in the repository. ``record`` scores it in
development and stores the predictions beside it (``<name>.predictions.json``)
with the golden file's sha256 and their own. ``check`` scores it again in
development and inside the image, in a container with the network off that
runs the image's own ``app.py``, then compares: labels identical, scores
within rtol/atol; and development against the record, within a tolerance of
its own when the model was retrained. It also compares the distributions
installed in the image with the development lock in the image's bundle manifest.

``record`` (record.py), ``compare`` (compare.py), the container (container.py),
the verdicts (judge.py), the Markdown (report.py) and the stage (stage.py).
"""

from ci.parity.compare import Comparison, compare, describe_drift, library_drift
from ci.parity.record import Scored, read_record, record_path
from ci.parity.stage import check, golden_rows, record, score_dev

__all__ = [
    "Comparison", "Scored", "check", "compare", "describe_drift", "golden_rows", "library_drift",
    "read_record", "record", "record_path", "score_dev",
]  # fmt: skip
