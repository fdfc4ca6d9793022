"""uniqueString() and guid() against input/output pairs published from real ARM evaluations."""

from __future__ import annotations

import pytest

from pytest_acalab.emulator.resources.templates import DeploymentContext, arm_guid, deploy, unique_string

# Pairs deployed on real ARM and written down in a code comment of KingslandConsulting/Kingsland.ArmLinter,
# src/Kingsland.ArmLinter/Functions/ArmFunctions_UniqueString.cs (commit 7d43df18).
KINGSLAND_PAIRS = [
    (("aaa",), "zavj67f3en4hc"),
    (("bbb",), "w5eragfxe33cy"),
    (("zzz",), "cryksdzzzawae"),
    (("xxx", "yyy", "zzz"), "lghi7k5js7itq"),
]
# Microsoft's Bicep repo evaluates .bicepparam files with the ARM expression library: Azure/bicep,
# src/Bicep.Core.Samples/Files/baselines_bicepparam/Expressions/parameters.bicepparam → parameters.json.
BICEP_BASELINE_PAIRS = [(("asd", "asdf", "asdf"), "iizpqit7ih3cc")]
# Self-test vectors "verified against Bicep uniqueString() output" in philsphicas/aztunnel,
# e2e/infra/uniquestring.sh (commit d1236563).
AZTUNNEL_PAIRS = [
    (("test",), "rbgf3xv4ufgzg"),
    (("hello", "world"), "a7wkljktk6wne"),
    (("abc",), "cgtzqvhu4i23s"),
    (("/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/my-rg",), "bmg7c6xu4tw46"),
    (("foo", "bar", "baz"), "xzi4ioaxtmth4"),
]


@pytest.mark.parametrize(("args", "expected"), KINGSLAND_PAIRS + BICEP_BASELINE_PAIRS + AZTUNNEL_PAIRS)
def test_unique_string_matches_published_values(args: tuple[str, ...], expected: str) -> None:
    assert unique_string(*args) == expected


def test_guid_matches_the_bicep_baseline() -> None:
    # Azure/bicep baselines_bicepparam/Expressions: guid('asdf') → 228d27cc-6fdb-5934-b7ac-1efccebade04
    assert arm_guid("asdf") == "228d27cc-6fdb-5934-b7ac-1efccebade04"


def test_guid_joins_arguments_with_a_hyphen() -> None:
    assert arm_guid("a", "b", "c") == arm_guid("a-b-c")
    assert arm_guid("a", "b") != arm_guid("ab")


def _outputs(template_outputs: dict, ctx: DeploymentContext, host, parameters: dict | None = None) -> dict:
    template = {
        "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
        "contentVersion": "1.0.0.0",
        "parameters": {"baseName": {"type": "string", "defaultValue": "lab"}},
        "resources": [],
        "outputs": template_outputs,
    }
    result = deploy(template, parameters or {}, ctx, host)
    assert result.provisioning_state == "Succeeded", result.error
    return {k: v["value"] for k, v in result.outputs.items()}


def test_template_functions_give_the_published_values(ctx: DeploymentContext, host) -> None:
    ctx.resource_group_name = "my-rg"
    out = _outputs(
        {
            "rg": {"type": "string", "value": "[uniqueString(resourceGroup().id)]"},
            "short": {"type": "string", "value": "[take(uniqueString(resourceGroup().id), 6)]"},
            "multi": {"type": "string", "value": "[uniqueString('xxx', 'yyy', 'zzz')]"},
            "guid": {"type": "string", "value": "[guid('asdf')]"},
        },
        ctx,
        host,
    )
    assert out == {"rg": "bmg7c6xu4tw46", "short": "bmg7c6", "multi": "lghi7k5js7itq",
                   "guid": "228d27cc-6fdb-5934-b7ac-1efccebade04"}  # fmt: skip


def test_bicep_style_suffix_is_the_hash_of_the_joined_inputs(ctx: DeploymentContext, host) -> None:
    # No published pair for this exact input exists; the check is that the arguments are joined by '-'.
    out = _outputs(
        {
            "suffix": {
                "type": "string",
                "value": "[take(uniqueString(resourceGroup().id, parameters('baseName')), 6)]",
            },
            "joined": {"type": "string", "value": "[uniqueString(format('{0}-{1}', resourceGroup().id, 'acr'))]"},
        },
        ctx,
        host,
        {"baseName": {"value": "acr"}},
    )
    assert len(out["suffix"]) == 6
    assert out["joined"].startswith(out["suffix"])
