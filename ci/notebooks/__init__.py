"""Jupyter notebooks: kept without outputs, scanned for personal data, linted per cell, run when asked.

``check`` reads the notebooks git tracks and judges them (stripped, no personal
data in outputs, ruff per cell); ``run`` executes the chosen ones in a fresh
kernel; ``setup`` configures a repository so that commits are stripped and
diffs readable. The extra to install: ``pip install 'dsci[notebooks]'``.
"""

NOTEBOOKS_EXTRA = "pip install 'dsci[notebooks]'"
