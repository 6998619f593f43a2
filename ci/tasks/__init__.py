"""The command-line surface: the ``ci`` collection and its declared settings."""

from __future__ import annotations

from invoke import Collection

from ci.core import config
from ci.tasks import (
    azure,
    data,
    deploy,
    git,
    image,
    jenkins,
    model,
    notebooks,
    notify,
    package,
    parity,
    pipeline,
    push,
    quality,
    report,
    security,
    templates,
    tenants,
)


def collection(*, declare_defaults: bool = True) -> Collection:
    """A fresh ``ci`` collection, with every setting's default declared (unless told not to)."""
    ns = Collection("ci")
    ns.add_task(pipeline.all_)
    ns.add_task(git.git_)
    ns.add_task(quality.lint)
    ns.add_task(quality.test)
    ns.add_task(package.package)
    ns.add_task(security.sign)
    ns.add_task(security.verify)
    ns.add_task(image.image)
    ns.add_task(push.push)
    ns.add_task(parity.parity)
    ns.add_task(model.onnx)
    ns.add_task(templates.init)
    ns.add_task(notify.notify)
    ns.add_collection(Collection("data", data.check, data.pii))
    ns.add_collection(Collection("model", model.evaluate, model.export))
    ns.add_collection(Collection("notebooks", notebooks.check, notebooks.setup))
    ns.add_collection(Collection("jenkins", jenkins.seed, jenkins.failures))
    ns.add_collection(Collection("azure", azure.sync))
    ns.add_collection(Collection("report", report.publish))
    ns.add_collection(Collection("keys", security.create))
    ns.add_task(tenants.isolation)
    ns.add_collection(Collection("tenants", tenants.list_))
    ns.add_task(deploy.releases)
    ns.add_task(deploy.rollback)
    ns.add_task(deploy.signoff)
    stages = Collection("deploy", deploy.render)
    stages.add_task(deploy.deploy, default=True)
    ns.add_collection(stages)
    ns.configure({"ci": config.defaults() if declare_defaults else None})
    return ns
