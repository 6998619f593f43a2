"""The ``ci:`` tree of invoke.yaml, declared once: msgspec Structs with defaults, bounds and descriptions.

Everything else comes from here: the defaults handed to Invoke, the validation
before a stage runs, the JSON Schema shipped in the package and the settings
reference in the README (``ci/core/config.py`` does those, ``invoke schema``
writes the files). A section is a Struct; a setting is a field whose type says
what it takes and whose ``Meta`` says what it means. ``x-expected`` and
``x-what`` (JSON Schema extensions) word a message where the type alone would
not.

msgspec, not pydantic: on this tree it imports and builds in a quarter of the
time (36 ms against 140 ms), and its errors carry the path of the value, which
is all the messages need (README, "Working on dsci").
"""

from __future__ import annotations

import copy
from typing import Annotated, Any, Literal

from msgspec import Meta, Struct, field

from ci.data.declarations import Dataset, Scalar

TASKS = ("binary", "multiclass", "regression")
GATE_MODES = ("enforce", "dry-run", "disabled")


def about(text: str, **constraints: Any) -> Meta:
    """What a setting means (and its bounds): its description in the schema and the README."""
    return Meta(description=text, **constraints)


def fresh(value: Any) -> Any:
    """A default that each Settings gets a copy of (a list or mapping that is not empty)."""
    return field(default_factory=lambda: copy.deepcopy(value))


Args = Annotated[list[str], Meta(extra_json_schema={
    "x-expected": "a list of strings (one argument each)", "x-parse": "shell"})]  # fmt: skip


# A variable that holds a secret: its value is masked in all dsci prints and writes, and registered
# with the CI (ci/core/secrets.py); every one is read when the settings are validated.
SECRET = Meta(extra_json_schema={"x-secret": True})

# The push and Jenkins' HTTP calls retry alike.
HttpRetries = Annotated[
    int, about("Tries for each call, with backoff, on 5xx or a dropped connection.", ge=1, le=10)
]


class Section(Struct, forbid_unknown_fields=True, kw_only=True):
    """A mapping of settings."""


class All(Section):
    """ci.all: the whole pipeline."""

    keep_going: Annotated[bool, about("Run the remaining stages after one fails (ci.all --keep-going).")] = (
        False
    )
    skip: Annotated[list[str], about("Stages that ci.all leaves out (ci.all --skip).")] = []
    jobs: Annotated[
        int,
        about(
            "Stages that depend on none before them (lint, test, notebooks, data) run this many at once "
            "(ci.all --jobs); 0: one per core.",
            ge=0,
        ),
    ] = 0


class Cache(Section):
    """ci.cache: the stage cache, keyed by the content of each stage's inputs."""

    enabled: Annotated[
        bool, about("Restore a stage whose inputs are unchanged instead of running it (ci.all --no-cache).")
    ] = True
    dir: Annotated[
        str,
        about(
            "The cache folder, beside the reports (which CI uploads and cleans): the templates keep it "
            "between runs with the CI's own cache (actions/cache, Cache@2, a Jenkins workspace)."
        ),
    ] = "build/cache"
    max_mb: Annotated[
        float, about("The cache's size in MB; the least recently used entries go beyond it.", gt=0)
    ] = 2048


class Git(Section):
    """ci.git: the repository a build starts from."""

    max_file_mb: Annotated[
        float, about("A file of HEAD larger than this, in MB, must be kept in Git LFS; 0 turns it off.", ge=0)
    ] = 10
    submodules: Annotated[
        bool, about("Submodules initialised, at the pinned commit, and that commit on the remote branch.")
    ] = True
    conflict_markers: Annotated[bool, about("Fail on merge-conflict markers left in tracked files.")] = True


class Lint(Section):
    """ci.lint: ruff."""

    paths: Annotated[list[str], about("Files and folders that ruff checks.")] = fresh(["."])
    format: Annotated[bool, about("Also require `ruff format --check` to pass.")] = True


class Test(Section):
    """ci.test: pytest under coverage."""

    paths: Annotated[list[str], about("Test files and folders given to pytest.")] = fresh(["tests"])
    args: Annotated[Args, about("Extra pytest arguments, e.g. [-x, -k, 'not slow'].")] = []
    min_coverage: Annotated[
        float,
        about("Fail the stage when line coverage, in percent, is below this; 0 turns it off.", ge=0, le=100),
    ] = 0.0
    coverage_source: Annotated[
        list[str], about("Packages or folders coverage measures; empty leaves it to coverage's own config.")
    ] = []


class Pii(Section):
    """ci.data.pii: the scan for personal data."""

    git: Annotated[bool, about("ci.data.pii also scans every CSV, Parquet and JSON file git tracks.")] = False


class Notebooks(Section):
    """ci.notebooks: Jupyter notebooks without outputs, free of personal data, linted, run when asked."""

    paths: Annotated[
        list[str], about("Folders (or notebooks) whose .ipynb files git tracks are checked.")
    ] = fresh(["."])
    keep_metadata: Annotated[
        list[str],
        about(
            "Metadata nbstripout would strip that the team keeps, e.g. cell.metadata.collapsed "
            "(ci.notebooks.setup gives the git filter the same)."
        ),
    ] = []
    lint: Annotated[bool, about("ruff checks the notebooks' code, each finding naming its cell.")] = True
    execute: Annotated[
        list[str], about("Notebooks (paths or globs) run top to bottom in a fresh kernel, with nbclient.")
    ] = []
    timeout: Annotated[int, about("Seconds a notebook may run in all before it is stopped.", ge=1)] = 600
    kernel: Annotated[str, about("The kernel to run them in; empty: each notebook's own, else python3.")] = ""
    parameters: Annotated[
        dict[str, Scalar],
        about("Values set in a cell after the one tagged parameters, as papermill injects them."),
        Meta(extra_json_schema={"x-what": "names"}),
    ] = {}


class Data(Section):
    """ci.data: declared datasets and their checks."""

    datasets: Annotated[
        list[
            Annotated[
                Dataset,
                Meta(extra_json_schema={"x-expected": (
                    "a dataset: name, path, format, reference, sensitive, pii_allowed, checks")}),
            ]
        ],
        about(
            "Datasets and their checks: name, path (CSV, Parquet or a glob), format (auto, csv, parquet), "
            "reference (for drift), sensitive columns (masked in samples), pii_allowed columns, checks."
        ),
    ] = []  # fmt: skip
    samples: Annotated[
        int, about("Failing rows shown per check, sensitive columns masked.", ge=0, le=1000)
    ] = 5
    pii: Pii = fresh(Pii())


class Gate(Section):
    """A gate on one metric."""

    min: float | None = None
    max: float | None = None
    min_change: float | None = None
    min_relative_change: float | None = None
    mode: Literal[GATE_MODES] | None = None  # type: ignore[valid-type]
    segments: bool = True


GateSpec = Annotated[
    Gate,
    Meta(
        extra_json_schema={"x-expected": "a gate: min, max, min_change, min_relative_change, mode, segments"}
    ),
]


class Baseline(Section):
    """ci.model.baseline: the metrics a model is compared with."""

    path: Annotated[
        str, about("Metrics JSON to compare with (`--update-baseline` writes it); empty: none.")
    ] = ""
    rev: Annotated[
        str,
        about(
            "Read the baseline at this git revision; merge-base: where HEAD left baseline.branch; "
            "empty: the file as it is."
        ),
    ] = "merge-base"
    branch: Annotated[str, about("The main branch, for rev merge-base.")] = "main"


class Onnx(Section):
    """ci.model.onnx: the ONNX export and its parity with the Python model."""

    enabled: Annotated[bool, about("In ci.all, export to ONNX and check parity (ci.model.export).")] = False
    double: Annotated[bool, about("Export in double precision where the converter supports it.")] = False
    tolerance: Annotated[
        float, about("Largest absolute difference allowed between the two runtimes' scores.", ge=0)
    ] = 1e-5


class Model(Section):
    """ci.model: metrics and gates on a holdout."""

    path: Annotated[str, about("The model file; empty leaves the model stage out.")] = ""
    format: Annotated[
        Literal["auto", "joblib", "pickle", "skops", "onnx", "hook"],
        about("How to load it; auto goes by the file's suffix (.joblib, .pkl, .skops, .onnx)."),
    ] = "auto"
    hook: Annotated[
        str,
        about("With format hook: module:function that takes the feature DataFrame and returns predictions."),
    ] = ""
    trusted: Annotated[list[str], about("Types a .skops file may hold beyond skops' own trusted ones.")] = []
    train: Annotated[
        str, about("A command run first to make the model, e.g. `invoke train`; empty runs none.")
    ] = ""
    holdout: Annotated[str, about("The holdout data the model is judged on: CSV or Parquet.")] = ""
    target: Annotated[str, about("The holdout column with the true values.")] = "target"
    features: Annotated[
        list[str], about("Feature columns; empty takes every column but target, segment and drop.")
    ] = []
    drop: Annotated[list[str], about("Holdout columns that are neither features nor target (ids).")] = []
    task: Annotated[Literal[TASKS], about("binary, multiclass or regression.")] = "binary"  # type: ignore[valid-type]
    method: Annotated[
        Literal["auto", "predict", "predict_proba"],
        about("How to score; auto uses predict_proba for classifiers that have it."),
    ] = "auto"
    metrics: Annotated[list[str], about("Metrics to compute; empty computes every metric of the task.")] = []
    segment_by: Annotated[str, about("A column (e.g. clinic): metrics and gates also per value of it.")] = ""
    gates: Annotated[
        dict[str, GateSpec],
        about(
            "Per metric: min/max, and against the baseline min_change/min_relative_change "
            "(positive is better); mode; segments (gate each segment too, default true)."
        ),
        Meta(extra_json_schema={"x-what": "metric names"}),
    ] = {}
    mode: Annotated[
        Literal[GATE_MODES],  # type: ignore[valid-type]
        about("Gates' default mode: enforce, dry-run (report only) or disabled."),
    ] = "enforce"
    baseline: Baseline = fresh(Baseline())
    plots: Annotated[bool, about("Write ROC curve and confusion matrix (or predicted vs actual) PNGs.")] = (
        True
    )
    onnx: Onnx = fresh(Onnx())


class Package(Section):
    """ci.package: the wheel, the sdist and the model bundle."""

    wheel: Annotated[
        Literal["auto", "true", "false"],
        about("Build a wheel and sdist with `python -m build`; auto: when the project is a Python package."),
    ] = "auto"
    isolation: Annotated[
        bool, about("Build in an isolated environment, as pip does; false builds with what is installed.")
    ] = True
    distributions: Annotated[
        str,
        about(
            "A folder of the project's wheel and sdist, built already: copied instead of built "
            "(ci.all --tenants builds them once and gives each tenant this)."
        ),
    ] = ""
    bundle: Annotated[list[str], about("Files or globs for the model bundle; empty: ci.model.path.")] = []
    name: Annotated[str, about("The bundle's name; empty: the project folder's name.")] = ""
    out: Annotated[str, about("Where the wheel, the sdist and the bundle go.")] = "dist"


class Image(Section):
    """ci.image: the model-serving image."""

    base: Annotated[
        str, about("Base image with Python 3 (and its venv module) at the dev Python's version.")
    ] = "python:3.11-slim"
    name: Annotated[str, about("Image name; empty: the project's name.")] = ""
    latest: Annotated[bool, about("Also tag the image latest.")] = False
    requirements: Annotated[
        list[str], about("Requirements the image needs beyond the project's own dependencies.")
    ] = []
    requirements_file: Annotated[
        str,
        about(
            "A pip requirements file of what the image needs; empty: a package's declared dependencies, "
            "or requirements.txt at the root of a project that is not a package. Pinned to what is "
            "installed in development."
        ),
    ] = ""
    max_size: Annotated[
        str,
        about(
            "The image's size budget (800MB, 1.5GB, 700MiB): over it the image stage fails, naming the "
            "largest layers and installed distributions; empty: none."
        ),
    ] = ""
    predict: Annotated[
        Literal["arrays", "frames"],
        about(
            "How the served model gets a request's rows: arrays (a float array in the model's column "
            "order, when every feature is a number, else frames) or frames (a pandas DataFrame each time)."
        ),
    ] = "arrays"
    workers: Annotated[int, about("Server processes in the image (gunicorn workers).", ge=1)] = 2
    threads: Annotated[int, about("Requests each worker serves at once (gthread).", ge=1)] = 4
    timeout: Annotated[
        float, about("Seconds a request may take before its worker is restarted (gunicorn --timeout).", gt=0)
    ] = 60
    max_body: Annotated[
        str, about("The largest request body /predict takes (10MB, 500kB); larger ones get 413.")
    ] = "10MB"
    smoke_timeout: Annotated[
        float, about("Seconds the built image may take to answer /ready before the stage fails.", ge=1)
    ] = 60
    source: Annotated[str, about("The repository URL, for the org.opencontainers.image.source label.")] = ""
    system_packages: Annotated[
        list[str],
        about(
            "Debian packages the image needs; the build is offline, so the base must have them "
            "(`dsci services up` builds one with DSCI_BASE_PACKAGES)."
        ),
    ] = []
    index_url_env: Annotated[
        str,
        about(
            "Environment variable holding a private package index URL (credentials in it stay on the host: "
            "the wheels are fetched before the build)."
        ),
        SECRET,
    ] = ""


class Push(Section):
    """ci.push: the image to a registry."""

    kind: Annotated[
        Literal["generic", "ecr"],
        about(
            "generic: user and password from the environment (Azure ACR too: a token or admin user); "
            "ecr: AWS ECR, its repository created when missing and its token fetched with boto3."
        ),
    ] = "generic"
    registry: Annotated[
        str, about("Registry host[:port]; empty leaves the push out (for ecr: the token's endpoint).")
    ] = ""
    repository: Annotated[str, about("Repository in the registry; empty: the image's name.")] = ""
    username_env: Annotated[str, about("Environment variable holding the registry user name.")] = (
        "DSCI_REGISTRY_USER"
    )
    password_env: Annotated[str, about("Environment variable holding the password or token."), SECRET] = (
        "DSCI_REGISTRY_PASSWORD"
    )
    scheme: Annotated[
        Literal["auto", "https", "http"], about("For the registry API; auto: http on loopback only.")
    ] = "auto"
    retries: HttpRetries = 3
    aws_region: Annotated[str, about("For ecr: the AWS region.")] = "us-east-1"
    aws_endpoint_url: Annotated[
        str, about("For ecr: another endpoint for the ECR API (a moto server in the tests).")
    ] = ""


class Retrained(Section):
    """ci.parity.retrained: development against the record, once the model was retrained."""

    atol: Annotated[
        float,
        about(
            "A model retrained since the record (its sha256 differs) must still reproduce the recorded "
            "scores within this absolute difference: another CPU or BLAS gives other last bits.",
            ge=0,
        ),
    ] = 1e-9
    rtol: Annotated[float, about("Relative tolerance of that comparison.", ge=0)] = 0.0
    beyond: Annotated[
        Literal["warn", "fail"],
        about("What a retrained model that predicts beyond that tolerance (or flips a label) does."),
    ] = "warn"


class Parity(Section):
    """ci.parity: development against the image, on a golden set."""

    golden: Annotated[
        str,
        about(
            "The golden set (CSV or Parquet) scored in development and inside the image; empty leaves "
            "parity out. Its predictions are stored beside it: `invoke ci.parity --record`."
        ),
    ] = ""
    record: Annotated[
        str,
        about(
            "Where the golden set's recorded predictions are kept; empty: beside it, "
            "data/golden.csv -> data/golden.predictions.json."
        ),
    ] = ""
    sample: Annotated[
        int,
        about("Rows of ci.model.holdout that --record writes as the golden set when it is missing.", ge=1),
    ] = 200
    seed: Annotated[int, about("Random seed of that sample.", ge=0)] = 0
    rtol: Annotated[float, about("Relative tolerance for scores; labels must always be identical.", ge=0)] = (
        0.0
    )
    atol: Annotated[float, about("Absolute tolerance for scores; 0 and 0 ask for the same bits.", ge=0)] = 0.0
    worst: Annotated[int, about("Rows with the largest differences shown in the report.", ge=0, le=100)] = 5
    retrained: Retrained = fresh(Retrained())
    image: Annotated[str, about("The image to check; empty: the one ci.image built last.")] = ""
    matrix: Annotated[
        list[str],
        about(
            "More images (another base or Python) to score the golden set in; their differences warn, "
            "so a team sees before an upgrade what would change."
        ),
    ] = []
    timeout: Annotated[float, about("Seconds a container may take to score the golden set.", ge=1)] = 300


class Notify(Section):
    """ci.notify: mail when a run failed."""

    recipients: Annotated[list[str], about("Who `invoke ci.notify` mails when the last run failed.")] = []
    recipients_env: Annotated[
        str, about("Environment variable with more recipients, comma-separated (jobs seeded by dsci set it).")
    ] = "DSCI_MAIL_TO"
    sender: Annotated[str, about("The From address.")] = "dsci@localhost"
    smtp_host: Annotated[str, about("SMTP server.")] = "localhost"
    smtp_port: Annotated[int, about("SMTP port (587 with STARTTLS, usually).", ge=1, le=65535)] = 25
    starttls: Annotated[bool, about("Upgrade the connection with STARTTLS before logging in.")] = False
    username_env: Annotated[str, about("Environment variable holding the SMTP user; unset: no login.")] = (
        "DSCI_SMTP_USER"
    )
    password_env: Annotated[str, about("Environment variable holding the SMTP password."), SECRET] = (
        "DSCI_SMTP_PASSWORD"
    )
    timeout: Annotated[float, about("Seconds to wait for the SMTP server.", ge=1)] = 30
    retries: Annotated[
        int, about("Tries, with backoff, on a dropped connection or a 4xx answer.", ge=1, le=10)
    ] = 3


class Jenkins(Section):
    """ci.jenkins: jobs seeded on a Jenkins."""

    url: Annotated[str, about("Jenkins' URL, e.g. https://jenkins.example.com/.")] = ""
    user_env: Annotated[str, about("Environment variable holding the Jenkins user.")] = "JENKINS_USER"
    token_env: Annotated[str, about("Environment variable holding that user's API token."), SECRET] = (
        "JENKINS_TOKEN"
    )
    jobs: Annotated[str, about("The jobs file that `invoke ci.jenkins.seed` reads.")] = "jenkins/jobs.yaml"
    retries: HttpRetries = 3
    timeout: Annotated[float, about("Seconds to wait for each answer.", ge=1)] = 30


class Azure(Section):
    """ci.azure: the Azure DevOps pipeline."""

    organization: Annotated[
        str, about("Azure DevOps organization URL, e.g. https://dev.azure.com/contoso.")
    ] = ""
    project: Annotated[str, about("The Azure DevOps project.")] = ""
    repository: Annotated[str, about("The Azure Repos Git repository; empty: the project's name.")] = ""
    pipeline: Annotated[str, about("The pipeline's name; empty: the repository's name.")] = ""
    folder: Annotated[str, about("The pipeline's folder.")] = "\\"
    yaml: Annotated[str, about("The pipeline file in the repository (ci.init writes it).")] = (
        "azure-pipelines/azure-pipelines.yml"
    )
    branch: Annotated[str, about("The branch a queued run builds.")] = "main"
    token_env: Annotated[str, about("Environment variable holding a personal access token."), SECRET] = (
        "AZURE_DEVOPS_PAT"
    )


class Report(Section):
    """ci.report: the run's report as one comment on the build's pull request."""

    github_token_env: Annotated[
        str,
        about(
            "Environment variable holding a GitHub token that may comment on pull requests "
            "(the workflow's GITHUB_TOKEN, with pull-requests: write)."
        ),
        SECRET,
    ] = "GITHUB_TOKEN"
    azure_token_env: Annotated[
        str,
        about(
            "Environment variable holding an Azure DevOps token that may comment on pull requests "
            "(System.AccessToken, mapped into the step)."
        ),
        SECRET,
    ] = "SYSTEM_ACCESSTOKEN"
    retries: HttpRetries = 3


class Security(Section):
    """ci.security: signed provenance, encrypted bundles, and who is trusted."""

    key_file: Annotated[
        str,
        about(
            "The OpenSSH Ed25519 private key that signs builds (~ allowed), kept outside the repository; "
            "empty: the variable key_env names."
        ),
    ] = ""
    key_env: Annotated[
        str, about("Environment variable holding the signing key's text (the CI's secret store)."), SECRET
    ] = "DSCI_SIGNING_KEY"
    passphrase_env: Annotated[
        str, about("Environment variable holding the signing key's passphrase, if it has one."), SECRET
    ] = "DSCI_SIGNING_PASSPHRASE"
    trusted: Annotated[
        list[str],
        about(
            "Who may sign: OpenSSH public key files or allowed_signers files (their namespaces are roles; "
            "a build needs role build). Serving, parity and ci.verify refuse a bundle no one of them signed."
        ),
    ] = []
    recipients: Annotated[
        list[str],
        about(
            "Encrypt the bundle to these age recipients: age1... or ssh-ed25519 keys, or files of them. "
            "CI needs only these public keys."
        ),
    ] = []
    identity_file: Annotated[
        str,
        about(
            "An age identity that opens the bundle, mounted into the image where dsci runs it (the image's "
            "smoke test, parity); only where the model may run, never in a production CI."
        ),
    ] = ""
    identity_env: Annotated[
        str, about("Environment variable holding such an identity's text instead."), SECRET
    ] = "DSCI_AGE_IDENTITY"


# A Kubernetes resource quantity (apimachinery's grammar, without a sign): the schema that
# kubernetes-validate checks against does not hold the pattern, so the settings do.
Quantity = Annotated[
    str,
    Meta(
        pattern=r"^(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE][+-]?[0-9]+))?$",
        extra_json_schema={"x-expected": "a Kubernetes quantity, e.g. 250m, 1, 512Mi, 2Gi"},
    ),
]


class Environment(Section):
    """ci.deploy.environments.NAME: where a release runs, how large, and who signs it off."""

    target: Annotated[
        Literal["local", "kubernetes"],
        about(
            "Where the release runs. local: the manifests run with podman kube play on this machine; "
            "kubernetes: applied to the cluster of a kubeconfig context."
        ),
    ] = "local"
    context: Annotated[str, about("For kubernetes: the kubeconfig context; empty: the current one.")] = ""
    namespace: Annotated[str, about("The Kubernetes namespace; empty: the environment's name.")] = ""
    autoscale: Annotated[
        bool,
        about(
            "A HorizontalPodAutoscaler keeps the pods between min_replicas and max_replicas (the "
            "Deployment then names no replicas, which an apply would reset); false: replicas pods."
        ),
    ] = True
    replicas: Annotated[int, about("Pods the Deployment runs without an autoscaler.", ge=1, le=1000)] = 1
    min_replicas: Annotated[
        int, about("The autoscaler's lower bound (the local target runs as many pods).", ge=1, le=1000)
    ] = 1
    max_replicas: Annotated[int, about("The autoscaler's upper bound.", ge=1, le=1000)] = 3
    cpu_utilization: Annotated[
        int, about("Average CPU use, in percent of the request, the autoscaler keeps pods at.", ge=1, le=100)
    ] = 80
    cpu: Annotated[Quantity, about("CPU each pod requests: 250m, 1, 1.5.")] = "250m"
    memory: Annotated[Quantity, about("Memory each pod requests: 512Mi, 2Gi.")] = "512Mi"
    cpu_limit: Annotated[Quantity, about("CPU each pod may use at most.")] = "1"
    memory_limit: Annotated[
        Quantity, about("Memory each pod may use at most, the decrypted model included.")
    ] = "1Gi"
    signoffs: Annotated[
        dict[str, list[str]],
        about(
            "Roles that must sign a release off before it deploys here, each with the public keys "
            "(OpenSSH .pub or allowed_signers files) trusted for it: {qa: [keys/qa.pub]}."
        ),
        Meta(extra_json_schema={"x-what": "roles"}),
    ] = {}


EnvironmentSpec = Annotated[
    Environment,
    Meta(extra_json_schema={"x-expected": (
        "an environment: target, context, namespace, autoscale, replicas, min_replicas, max_replicas, "
        "cpu_utilization, cpu, memory, cpu_limit, memory_limit, signoffs")}),
]  # fmt: skip


class Deploy(Section):
    """ci.deploy: Kubernetes manifests, the rollout with its smoke test, releases and sign-offs."""

    enabled: Annotated[bool, about("In ci.all, deploy to ci.deploy.environment after parity.")] = False
    environment: Annotated[str, about("The environment ci.all (and ci.deploy without --env) deploys to.")] = (
        "staging"
    )
    environments: Annotated[
        dict[str, EnvironmentSpec],
        about("The environments, by name: target, namespace, size, autoscaling and required sign-offs."),
        Meta(extra_json_schema={"x-what": "environment names"}),
    ] = fresh({"staging": Environment()})
    name: Annotated[str, about("The Deployment's and Service's name; empty: the pushed repository's.")] = ""
    identity_secret: Annotated[
        str,
        about(
            "The Secret holding the age identity (key: identity) that opens an encrypted bundle; "
            "empty: NAME-identity. The local target makes it from ci.security.identity_file."
        ),
    ] = ""
    kubernetes_version: Annotated[
        str, about("The Kubernetes version the manifests are validated against, strictly and offline.")
    ] = "1.33.0"
    timeout: Annotated[
        float, about("Seconds a rollout may take to be ready before it is rolled back.", ge=1)
    ] = 120
    smoke_rows: Annotated[
        int, about("Rows of the golden set (ci.parity.golden) posted to the release's /predict.", ge=1)
    ] = 20
    kubeconfig_env: Annotated[
        str,
        about(
            "Environment variable holding a kubeconfig's text (or its base64) for the kubernetes target, "
            "as a CI's secret store gives it; unset: KUBECONFIG or ~/.kube/config."
        ),
        SECRET,
    ] = "DSCI_KUBECONFIG"
    releases_branch: Annotated[
        str, about("The git branch that keeps the release history and the sign-offs, one commit each.")
    ] = "dsci/releases"
    remote: Annotated[
        str,
        about(
            "A git remote the releases branch is fetched from before and pushed to after each record "
            "(CI: origin); empty keeps it in this clone."
        ),
    ] = ""


TenantName = Annotated[
    str,
    Meta(
        pattern=r"^[a-z0-9]([-a-z0-9]{0,28}[a-z0-9])?$",
        extra_json_schema={"x-expected": "a tenant name: lowercase letters, digits and '-', at most 30"},
    ),
]


class Tenant(Section):
    """ci.tenants.list[]: one customer, with its own data, settings and keys."""

    name: Annotated[TenantName, about("The tenant's name: in its reports, bundle, image and namespace.")]
    filter: Annotated[
        str,
        about(
            "Its rows of every data file, as an SQL condition (region = 'north' AND year >= 2024); "
            "empty: ci.tenants.column equal to its name."
        ),
    ] = ""
    data: Annotated[
        dict[str, str],
        about("Files of its own in place of the common ones: {data/train.csv: data/acme/train.csv}."),
        Meta(extra_json_schema={"x-what": "paths"}),
    ] = {}
    settings: Annotated[
        dict[str, Any],
        about("Its ci settings (gates, recipients, ...), laid over ci.tenants.settings and the common ones."),
        Meta(extra_json_schema={"x-what": "settings"}),
    ] = {}


TenantSpec = Annotated[
    Tenant, Meta(extra_json_schema={"x-expected": "a tenant: name, filter, data, settings"})
]


class Tenants(Section):
    """ci.tenants: one pipeline per customer, with isolated data, keys and thresholds."""

    column: Annotated[
        str,
        about("A data column whose values are the tenants (e.g. clinic); empty: ci.tenants.list alone."),
    ] = ""
    dataset: Annotated[
        str, about("The dataset of ci.data.datasets whose column names the tenants; empty: the first.")
    ] = ""
    items: Annotated[
        list[TenantSpec],
        about(
            "Tenants by name, each with a filter or files of its own, and settings of its own; with "
            "column, the overrides of the tenants it names."
        ),
    ] = field(default_factory=list, name="list")
    settings: Annotated[
        dict[str, Any],
        about("Settings of every tenant, {tenant} replaced by its name: recipients, identities, paths."),
        Meta(extra_json_schema={"x-what": "settings"}),
    ] = {}
    id_columns: Annotated[
        list[str],
        about("Key columns (patient_id) whose values no two tenants' data may share; checked every run."),
    ] = []
    jobs: Annotated[
        int, about("Tenants ci.all --tenants runs at once, each in its own process; 0: one per core.", ge=0)
    ] = 0


class Settings(Section):
    """dsci's settings: the ci key of invoke.yaml."""

    report_dir: Annotated[str, about("Folder for report.json, junit.xml, summary.md and plots.")] = "build/ci"
    all: All = fresh(All())
    cache: Cache = fresh(Cache())
    git: Git = fresh(Git())
    lint: Lint = fresh(Lint())
    test: Test = fresh(Test())
    notebooks: Notebooks = fresh(Notebooks())
    data: Data = fresh(Data())
    model: Model = fresh(Model())
    package: Package = fresh(Package())
    security: Security = fresh(Security())
    image: Image = fresh(Image())
    push: Push = fresh(Push())
    parity: Parity = fresh(Parity())
    deploy: Deploy = fresh(Deploy())
    tenants: Tenants = fresh(Tenants())
    notify: Notify = fresh(Notify())
    jenkins: Jenkins = fresh(Jenkins())
    azure: Azure = fresh(Azure())
    report: Report = fresh(Report())
