"""Jenkins: pipeline jobs seeded from a YAML file with python-jenkins, and a digest of the failing ones.

The jobs file (jobs.py) lists each job (name, folder, repository, branch, Jenkinsfile,
cron schedule, mail recipients). ``seed`` renders each job's config.xml (config_xml.py,
a pipeline job from SCM), creates the missing jobs, updates those whose rendered XML
differs from the live one, leaves the rest untouched (no write call), and with
``prune`` deletes the jobs dsci manages (marked in their description) that left the
file (seeding.py). ``plan`` says what would change and changes nothing. The server
(server.py) is python-jenkins with dsci's errors; failures.py writes the digest.
"""

from ci.jenkins.config_xml import MAIL_PARAMETER, MARK, folder_xml, render, same
from ci.jenkins.failures import Failure, digest, failing
from ci.jenkins.jobs import Job, cron_problem, read_jobs
from ci.jenkins.seeding import Plan, apply, plan
from ci.jenkins.server import Server

__all__ = [
    "MAIL_PARAMETER", "MARK", "Failure", "Job", "Plan", "Server", "apply", "cron_problem", "digest",
    "failing", "folder_xml", "plan", "read_jobs", "render", "same",
]  # fmt: skip
