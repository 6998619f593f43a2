"""Data checks: a declared contract per dataset, checked with polars in as few passes as possible.

polars (and numpy, scipy for drift) are imported inside the functions that need them.
"""

DATA_EXTRA = "pip install 'dsci[data]'"
