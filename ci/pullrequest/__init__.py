"""The run's report as one comment on the build's pull request, updated in place: ``ci.report.publish``.

``find`` reads which pull request a build runs for from the CI's own variables;
``comment`` words the comment from summary.md; ``github`` and ``azure`` post it
through each host's API, finding dsci's earlier comment again by its marker.
"""
