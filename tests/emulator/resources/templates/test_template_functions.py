"""The template language: parsing and every supported function, evaluated through validate()."""

from __future__ import annotations

from typing import Any

import pytest

from pytest_acalab.emulator.resources.templates import DeploymentContext, TemplateError, validate

SUB = "00000000-0000-0000-0000-000000000000"
RG_ID = f"/subscriptions/{SUB}/resourceGroups/rg-lab"

TEMPLATE: dict[str, Any] = {
    "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
    "contentVersion": "1.0.0.0",
    "parameters": {
        "baseName": {"type": "string", "defaultValue": "lab"},
        "count": {"type": "int", "defaultValue": 3},
        "flag": {"type": "bool", "defaultValue": True},
        "tags": {"type": "object", "defaultValue": {"Owner": "me", "nested": {"a": 1}}},
        "names": {"type": "array", "defaultValue": ["a", "b", "c"]},
    },
    "variables": {"acrName": "[format('acr{0}', parameters('baseName'))]", "answer": 42},
    "resources": [],
}


def evaluate(ctx: DeploymentContext, value: Any) -> Any:
    return validate(TEMPLATE, {}, ctx).evaluator.evaluate(value)


# Values from Microsoft's own evaluation of the same calls: Azure/bicep,
# src/Bicep.Core.Samples/Files/baselines_bicepparam/Expressions/parameters.bicepparam → parameters.json
BICEP_BASELINE = [
    ("[base64ToString(base64('abc'))]", "abc"),
    ("[base64ToJson(base64('{\"hi\": \"there\"}')).hi]", "there"),
    ("[concat(createArray('abc'), createArray('def'))]", ["abc", "def"]),
    ("[contains('foo/bar', '/')]", True),
    ("[dataUriToString(dataUri('abc'))]", "abc"),
    ("[empty(createArray())]", True),
    ("[endsWith('foo', 'o')]", True),
    ("[first(createArray(124, 25))]", 124),
    ("[flatten(createArray(createArray('abc'), createArray('def')))]", ["abc", "def"]),
    ("[format('->{0}<-', 123)]", "->123<-"),
    ("[indexOf('abc', 'b')]", 1),
    ("[int(123)]", 123),
    ("[intersection(createArray(1, 2, 3), createArray(2, 3, 4))]", [2, 3]),
    ("[items(createObject('foo', 'abc', 'bar', 123))]", [{"key": "bar", "value": 123}, {"key": "foo", "value": "abc"}]),
    ("[join(createArray('abc', 'def', 'ghi'), '/')]", "abc/def/ghi"),
    ("[last(createArray(1, 2))]", 2),
    ("[lastIndexOf('abcba', 'b')]", 3),
    ("[length(createArray(0, 1, 2))]", 3),
    ("[max(1, 2, 3)]", 3),
    ("[min(1, 2, 3)]", 1),
    ("[padLeft(13, 5)]", "   13"),
    ("[range(0, 3)]", [0, 1, 2]),
    ("[replace('abc', 'b', '/')]", "a/c"),
    ("[skip(createArray(1, 2, 3), 1)]", [2, 3]),
    ("[split('a/b/c', '/')]", ["a", "b", "c"]),
    ("[startsWith('abc', 'a')]", True),
    ("[string('asdf')]", "asdf"),
    ("[substring('asdfasf', 3)]", "fasf"),
    ("[take(createArray(1, 2, 3), 2)]", [1, 2]),
    ("[toLower('AiKInIniIN')]", "aikininiin"),
    ("[toUpper('AiKInIniIN')]", "AIKININIIN"),
    ("[trim('  adf asdf  ')]", "adf asdf"),
    ("[union(createObject('abc', 'def'), createObject('def', 'ghi'))]", {"abc": "def", "def": "ghi"}),
    ("[uniqueString('asd', 'asdf', 'asdf')]", "iizpqit7ih3cc"),
    ("[guid('asdf')]", "228d27cc-6fdb-5934-b7ac-1efccebade04"),
    ("[uri('https://github.com', 'Azure/bicep')]", "https://github.com/Azure/bicep"),
    ("[uriComponent('UB*8h 0+=_)9h9n')]", "UB%2A8h%200%2B%3D_%299h9n"),
    ("[uriComponentToString('%20%25%20')]", " % "),
    ("[if(true(), 'a', 'b')]", "a"),
    ("[not(true())]", False),
    ("[add(123, 456)]", 579),
    ("[sub(456, 123)]", 333),
    ("[mul(2, 3)]", 6),
    ("[div(10, 2)]", 5),
    ("[less(1, 2)]", True),
    ("[greater(1, 2)]", False),
    ("[greaterOrEquals(1, 2)]", False),
    ("[lessOrEquals(1, 2)]", True),
]


@pytest.mark.parametrize(("expression", "expected"), BICEP_BASELINE)
def test_functions_match_the_bicep_baseline(ctx: DeploymentContext, expression: str, expected: Any) -> None:
    assert evaluate(ctx, expression) == expected


SEMANTICS = [
    # string functions
    ("[concat('a', 'b', 1, true())]", "ab1True"),
    ("[format('{0}-{1}-{0}', 'x', parameters('baseName'))]", "x-lab-x"),
    ("[format('{{literal}} {0:D3}', 7)]", "{literal} 007"),
    ("[format('{0}', true())]", "True"),
    ("[string(createObject('a', 1, 'b', createArray('x')))]", '{"a":1,"b":["x"]}'),
    ("[string(false())]", "False"),
    ("[string(5)]", "5"),
    ("[substring('abcdef', 1, 3)]", "bcd"),
    ("[split('a,b;c', createArray(',', ';'))]", ["a", "b", "c"]),
    ("[startsWith('ABC', 'ab')]", True),
    ("[endsWith('ABC', 'bc')]", True),
    ("[indexOf('ABC', 'c')]", 2),
    ("[indexOf('abc', 'z')]", -1),
    ("[first('abc')]", "a"),
    ("[last('abc')]", "c"),
    ("[take('abcdef', 3)]", "abc"),
    ("[skip('abcdef', 4)]", "ef"),
    ("[padLeft('7', 3, '0')]", "007"),
    ("[base64('hello')]", "aGVsbG8="),
    ("[json('{\"a\": [1, 2]}').a[1]]", 2),
    ("[json('null')]", None),
    # comparisons and logic
    ("[equals('a', 'A')]", False),
    ("[equals(createObject('a', 1), createObject('a', 1))]", True),
    ("[and(true(), false())]", False),
    ("[or(false(), true(), false())]", True),
    ("[if(equals(1, 2), 'yes', 'no')]", "no"),
    ("[if(true(), 'safe', div(1, 0))]", "safe"),
    ("[coalesce(null(), null(), 'x')]", "x"),
    ("[bool('TRUE')]", True),
    ("[bool(0)]", False),
    ("[int('42')]", 42),
    ("[div(-7, 2)]", -3),
    ("[mod(7, 3)]", 1),
    ("[min(createArray(4, 2, 9))]", 2),
    ("[max(createArray(4, 2, 9))]", 9),
    ("[less('a', 'b')]", True),
    # collections
    ("[length('abcd')]", 4),
    ("[length(parameters('tags'))]", 2),
    ("[empty('')]", True),
    ("[empty(createObject())]", True),
    ("[empty(null())]", True),
    ("[contains(createArray('a', 'b'), 'b')]", True),
    ("[contains(parameters('tags'), 'owner')]", True),
    ("[contains('abc', 'B')]", False),
    ("[array('x')]", ["x"]),
    ("[union(createArray(1, 2), createArray(2, 3))]", [1, 2, 3]),
    ("[union(parameters('tags'), createObject('nested', createObject('b', 2)))]",
     {"Owner": "me", "nested": {"a": 1, "b": 2}}),
    ("[createObject('k', createArray(1))]", {"k": [1]}),
    ("[objectKeys(createObject('a', 1, 'b', 2))]", ["a", "b"]),
    ("[tryGet(parameters('tags'), 'missing')]", None),
    ("[tryGet(parameters('tags'), 'nested', 'a')]", 1),
    ("[range(5, 2)]", [5, 6]),
    # parameters, variables and property access
    ("[parameters('baseName')]", "lab"),
    ("[parameters('count')]", 3),
    ("[parameters('flag')]", True),
    ("[parameters('names')[1]]", "b"),
    ("[parameters('tags').owner]", "me"),
    ("[parameters('tags')['nested'].a]", 1),
    ("[variables('acrName')]", "acrlab"),
    ("[variables('answer')]", 42),
    ("[[not an expression]", "[not an expression]"),
    ("plain text", "plain text"),
    ("[concat('it''s', ' ok')]", "it's ok"),
    ("[ concat( 'a' , 'b' ) ]", "ab"),
    ("[add(-1, 1)]", 0),
    # deployment context
    ("[resourceGroup().id]", RG_ID),
    ("[resourceGroup().name]", "rg-lab"),
    ("[resourceGroup().location]", "koreacentral"),
    ("[resourceGroup().tags.env]", "lab"),
    ("[resourceGroup().properties.provisioningState]", "Succeeded"),
    ("[subscription().id]", f"/subscriptions/{SUB}"),
    ("[subscription().subscriptionId]", SUB),
    ("[subscription().tenantId]", "11111111-1111-1111-1111-111111111111"),
    ("[deployment().name]", "main"),
    ("[deployment().properties.template.contentVersion]", "1.0.0.0"),
    ("[environment().suffixes.acrLoginServer]", ".azurecr.io"),
    ("[environment().name]", "AzureCloud"),
    ("[tenant().tenantId]", "11111111-1111-1111-1111-111111111111"),
    # resource ids, all overloads
    ("[resourceId('Microsoft.App/containerApps', 'app')]", f"{RG_ID}/providers/Microsoft.App/containerApps/app"),
    ("[resourceId('other-rg', 'Microsoft.App/containerApps', 'app')]",
     f"/subscriptions/{SUB}/resourceGroups/other-rg/providers/Microsoft.App/containerApps/app"),
    ("[resourceId('sub2', 'rg2', 'Microsoft.App/containerApps', 'app')]",
     "/subscriptions/sub2/resourceGroups/rg2/providers/Microsoft.App/containerApps/app"),
    ("[resourceId('Microsoft.App/managedEnvironments/certificates', 'env', 'cert')]",
     f"{RG_ID}/providers/Microsoft.App/managedEnvironments/env/certificates/cert"),
    ("[subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '7f951dda-4ed3-4680-a7ca-43fe172d538d')]",
     f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/7f951dda-4ed3-4680-a7ca-43fe172d538d"),
    ("[tenantResourceId('Microsoft.Authorization/policyDefinitions', 'p')]",
     "/providers/Microsoft.Authorization/policyDefinitions/p"),
    ("[extensionResourceId(resourceId('Microsoft.ContainerRegistry/registries', 'acr'), "
     "'Microsoft.Authorization/roleAssignments', 'ra')]",
     f"{RG_ID}/providers/Microsoft.ContainerRegistry/registries/acr/providers/Microsoft.Authorization/"
     "roleAssignments/ra"),
]  # fmt: skip


@pytest.mark.parametrize(("expression", "expected"), SEMANTICS)
def test_function_semantics(ctx: DeploymentContext, expression: str, expected: Any) -> None:
    assert evaluate(ctx, expression) == expected


def test_objects_and_arrays_are_evaluated_recursively(ctx: DeploymentContext) -> None:
    value = {"a": ["[parameters('baseName')]", {"b": "[variables('answer')]"}], "c": 1}
    assert evaluate(ctx, value) == {"a": ["lab", {"b": 42}], "c": 1}


def test_property_copy_loops(ctx: DeploymentContext) -> None:
    value = {
        "copy": [
            {
                "name": "env",
                "count": "[length(parameters('names'))]",
                "input": {"name": "[parameters('names')[copyIndex('env')]]", "value": "[string(copyIndex('env', 1))]"},
            }
        ]
    }
    assert evaluate(ctx, value) == {
        "env": [{"name": "a", "value": "1"}, {"name": "b", "value": "2"}, {"name": "c", "value": "3"}]
    }


def test_new_guid_and_utc_now_only_in_parameter_defaults(ctx: DeploymentContext) -> None:
    template = {
        "resources": [],
        "parameters": {
            "id": {"type": "string", "defaultValue": "[newGuid()]"},
            "stamp": {"type": "string", "defaultValue": "[utcNow('yyyy-MM-dd')]"},
        },
    }
    validated = validate(template, {}, ctx)
    assert len(validated.parameters["id"]) == 36
    assert validated.parameters["stamp"].startswith("2026-06-22")
    with pytest.raises(TemplateError, match="utcNow"):
        validate(template, {}, ctx).evaluator.evaluate("[utcNow()]")


def test_user_defined_functions(ctx: DeploymentContext) -> None:
    template = {
        "functions": [
            {
                "namespace": "lab",
                "members": {
                    "prefixed": {
                        "parameters": [{"name": "name", "type": "string"}],
                        "output": {"type": "string", "value": "[concat('lab-', parameters('name'))]"},
                    }
                },
            }
        ],
        "resources": [],
    }
    assert validate(template, {}, ctx).evaluator.evaluate("[lab.prefixed('x')]") == "lab-x"


@pytest.mark.parametrize(
    ("expression", "fragment"),
    [
        ("[substring('abc', 2, 5)]", "substring"),
        ("[div(1, 0)]", "divisor"),
        ("[parameters('nope')]", "'nope' is not found"),
        ("[variables('nope')]", "'nope' is not found"),
        ("[parameters('tags').missing]", "property 'missing' doesn't exist"),
        ("[parameters('names')[7]]", "index '7' is out of bounds"),
        ("[toLower(1)]", "toLower"),
        ("[resourceId('Microsoft.App/containerApps')]", "resourceId"),
        ("[resourceId('Microsoft.App/containerApps', 'a', 'b')]", "segment"),
        ("[reference('x')]", "'reference' is not expected at this location"),
        ("[listKeys('x', '2020-01-01')]", "'listKeys' is not expected at this location"),
        ("[copyIndex()]", "copyIndex"),
        ("[json('{')]", "json"),
        ("[createObject('a')]", "even number"),
    ],
)
def test_function_errors_are_template_errors(ctx: DeploymentContext, expression: str, fragment: str) -> None:
    with pytest.raises(TemplateError) as info:
        evaluate(ctx, expression)
    assert info.value.code == "InvalidTemplate"
    assert fragment in info.value.message
