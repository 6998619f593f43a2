"""Cross-cutting pieces: config, errors, results, reports, CI environment, processes, files."""
