"""The built-in probes and actions, registered through the same hooks as any conftest.py or plugin.

Each is named by where it lives (``module:function``), so building a lab's vocabulary and checking a lab
file import none of them: they load when a lab first runs one.
"""

from __future__ import annotations

import pytest

from pytest_acalab.labfile.vocabulary import Registry, builtin_names, lab_schema_args

__all__ = ["ACTIONS", "PROBES", "pytest_acalab_register_actions", "pytest_acalab_register_probes"]

PROBES = {
    "revision_health": "pytest_acalab.probes.revisions:revision_health",
    "revision_state": "pytest_acalab.probes.revisions:revision_state",
    "revisions": "pytest_acalab.probes.revisions:revisions_probe",
    "app_state": "pytest_acalab.probes.apps:app_state",
    "app_image": "pytest_acalab.probes.apps:app_image",
    "system_logs": "pytest_acalab.probes.logs:system_logs",
    "deployment_errors": "pytest_acalab.probes.deployments:deployment_errors",
    "image_tag": "pytest_acalab.probes.registry:image_tag",
    "http_endpoint": "pytest_acalab.probes.http:http_endpoint",
    "role_assignments": "pytest_acalab.probes.roles:role_assignments",
    "log_rows": "pytest_acalab.probes.workspaces:log_rows",
    "environment_state": "pytest_acalab.probes.workspaces:environment_state",
    "metric": "pytest_acalab.probes.metrics:metric",
    "registry_state": "pytest_acalab.probes.registry:registry_state",
    "replicas": "pytest_acalab.probes.replicas:replicas",
    "console_logs": "pytest_acalab.probes.console:console_logs",
    "ingress": "pytest_acalab.probes.ingress:ingress",
}
"""The built-in probes: lab-file name -> ``module:function`` (a ``probes.base.ProbeFn``)."""

ACTIONS = {
    "deploy": "pytest_acalab.actions.deploy:deploy",
    "acr_build": "pytest_acalab.actions.acr:acr_build",
    "acr_import": "pytest_acalab.actions.acr:acr_import",
    "update_app": "pytest_acalab.actions.apps:update_app",
    "set_traffic": "pytest_acalab.actions.apps:set_traffic",
    "restart_revision": "pytest_acalab.actions.apps:restart_revision",
    "delete_tag": "pytest_acalab.actions.acr:delete_tag",
    "wait_for": "pytest_acalab.actions.wait:wait_for",
    "assign_role": "pytest_acalab.actions.roles:assign_role",
    "delete_role_assignment": "pytest_acalab.actions.roles:delete_role_assignment",
    "set_logs_destination": "pytest_acalab.actions.environments:set_logs_destination",
    "load": "pytest_acalab.actions.load:load",
    "update_registry": "pytest_acalab.actions.registry:update_registry",
    "regenerate_registry_credential": "pytest_acalab.actions.registry:regenerate_registry_credential",
    "set_app_secret": "pytest_acalab.actions.secrets:set_app_secret",
    "set_app_registry": "pytest_acalab.actions.secrets:set_app_registry",
    "update_environment": "pytest_acalab.actions.environment:update_environment",
    "update_ingress": "pytest_acalab.actions.ingress:update_ingress",
    "activate_revision": "pytest_acalab.actions.revisions:activate_revision",
    "deactivate_revision": "pytest_acalab.actions.revisions:deactivate_revision",
    "scale_app": "pytest_acalab.actions.scale:scale_app",
    "wait": "pytest_acalab.actions.wait:wait",
}
"""The built-in actions: lab-file name -> ``module:function`` (an ``actions.base.ActionFn``)."""


@pytest.hookimpl(tryfirst=True)  # built-ins first: error messages list them before extensions
def pytest_acalab_register_probes(registry: Registry) -> None:
    """The built-in probes, in the lab schema's order, with the argument schemas of ``lab.schema.json``."""
    for name in builtin_names("probe"):
        registry.add(name, PROBES[name], args=lab_schema_args(f"probe_{name}"))


@pytest.hookimpl(tryfirst=True)  # built-ins first: error messages list them before extensions
def pytest_acalab_register_actions(registry: Registry) -> None:
    """The built-in actions, in the lab schema's order, with the argument schemas of ``lab.schema.json``."""
    for name in builtin_names("action"):
        registry.add(name, ACTIONS[name], args=lab_schema_args(f"action_{name}"))
