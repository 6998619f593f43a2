"""Tenants: one pipeline per customer, each with its own rows, settings, keys, bundle and image.

``roster`` says who the tenants are and lays each one's settings over the
common ones; ``split`` writes each tenant's rows of the common data files;
``isolation`` proves that no tenant's data, keys or files reach another's;
``pool`` runs the tenants' pipelines side by side and joins their reports.
"""
