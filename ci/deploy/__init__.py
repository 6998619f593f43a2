"""Deploy: Kubernetes manifests (manifests.py), the local target (local.py), the rollout with its smoke
test and automatic rollback (rollout.py), the release history (releases.py, on a git branch:
history.py) and sign-offs (signoffs.py). No Invoke here: ci/tasks/deploy.py is the command line."""
