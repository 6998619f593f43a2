"""Reproducible benchmarks; each writes its results to benchmarks/results/."""
