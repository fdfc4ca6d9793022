"""ARM template deployment engine of the emulator (pure logic; resources go through a ResourceHost)."""

from .engine import (
    DeploymentContext,
    DeploymentResult,
    ResourceHost,
    ResourceOutcome,
    ResourcePlan,
    ValidatedTemplate,
    deploy,
    run,
    validate,
)
from .errors import ExpressionError, ResourceLookupError, TemplateError
from .hashing import arm_guid, unique_string

__all__ = [
    "DeploymentContext",
    "DeploymentResult",
    "ExpressionError",
    "ResourceHost",
    "ResourceLookupError",
    "ResourceOutcome",
    "ResourcePlan",
    "TemplateError",
    "ValidatedTemplate",
    "arm_guid",
    "deploy",
    "run",
    "unique_string",
    "validate",
]
