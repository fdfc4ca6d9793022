"""What probes and actions see of a running lab (``LabContext``), and the lab's template deployment."""

from pytest_acalab.context.lab import READ_API_VERSIONS, ActionResult, LabContext, ResourceRef, retried

__all__ = ["READ_API_VERSIONS", "ActionResult", "LabContext", "ResourceRef", "retried"]
