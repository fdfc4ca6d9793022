"""Validation errors: each is a TemplateError raised before any resource is touched."""

from __future__ import annotations

from typing import Any

import pytest

from pytest_acalab.emulator.resources.templates import DeploymentContext, TemplateError, deploy, validate

RG_ID = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-lab"


def storage(name: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": "Microsoft.Storage/storageAccounts",
        "apiVersion": "2023-01-01",
        "name": name,
        "location": "[resourceGroup().location]",
        **extra,
    }


def template(resources: Any = None, **sections: Any) -> dict[str, Any]:
    return {
        "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
        "contentVersion": "1.0.0.0",
        **sections,
        "resources": [storage("good")] if resources is None else resources,
    }


def rejected(tpl: Any, params: dict[str, Any], ctx: DeploymentContext, host) -> TemplateError:
    """Deploying must raise before the host sees any call."""
    with pytest.raises(TemplateError) as info:
        deploy(tpl, params, ctx, host)
    assert host.calls == []
    return info.value


def test_template_must_be_an_object(ctx, host) -> None:
    err = rejected(["not", "a", "template"], {}, ctx, host)
    assert err.code == "InvalidTemplate"
    assert "JSON object" in err.message


def test_template_must_have_resources(ctx, host) -> None:
    err = rejected({"contentVersion": "1.0.0.0"}, {}, ctx, host)
    assert err.code == "InvalidTemplate"
    assert "'resources'" in err.message


def test_expression_syntax_error_names_the_expression_and_where(ctx, host) -> None:
    tpl = template([storage("good"), storage("[concat('a', ]")])
    err = rejected(tpl, {}, ctx, host)
    assert err.code == "InvalidTemplate"
    assert "resources[1].name" in err.message
    assert "concat('a', " in err.message


def test_unterminated_string_literal(ctx, host) -> None:
    err = rejected(template(outputs={"o": {"type": "string", "value": "[concat('abc)]"}}), {}, ctx, host)
    assert "not closed" in err.message


def test_unknown_function_is_named(ctx, host) -> None:
    tpl = template([storage("good", tags={"t": "[frobnicate('x')]"})])
    err = rejected(tpl, {}, ctx, host)
    assert err.code == "InvalidTemplate"
    assert "The template function 'frobnicate'" in err.message
    assert "resources[0].tags.t" in err.message


def test_unknown_function_in_an_output_fails_too(ctx, host) -> None:
    err = rejected(template(outputs={"o": {"type": "string", "value": "[lambdaMagic()]"}}), {}, ctx, host)
    assert "'lambdaMagic'" in err.message


def test_missing_required_parameter(ctx, host) -> None:
    tpl = template(parameters={"acrName": {"type": "string"}})
    err = rejected(tpl, {}, ctx, host)
    assert err.code == "InvalidTemplate"
    assert "The value for the template parameter 'acrName' is not provided" in err.message


def test_nullable_parameter_may_be_missing(ctx) -> None:
    validated = validate(template(parameters={"x": {"type": "string", "nullable": True}}), {}, ctx)
    assert validated.parameters == {"x": None}


@pytest.mark.parametrize(
    ("ptype", "value", "expected"),
    [
        ("string", 5, "Expected a value of type 'String', but received a value of type 'Integer'"),
        ("int", "5", "Expected a value of type 'Integer', but received a value of type 'String'"),
        ("int", True, "Expected a value of type 'Integer', but received a value of type 'Boolean'"),
        ("bool", "true", "Expected a value of type 'Boolean'"),
        ("object", [], "Expected a value of type 'Object', but received a value of type 'Array'"),
        ("array", {}, "Expected a value of type 'Array', but received a value of type 'Object'"),
        ("securestring", 1, "Expected a value of type 'String'"),
        ("secureObject", "x", "Expected a value of type 'Object'"),
    ],
)
def test_parameter_of_the_wrong_type(ctx, host, ptype: str, value: Any, expected: str) -> None:
    err = rejected(template(parameters={"p": {"type": ptype}}), {"p": {"value": value}}, ctx, host)
    assert err.code == "InvalidTemplate"
    assert "template parameter 'p'" in err.message
    assert expected in err.message


def test_parameter_not_in_allowed_values(ctx, host) -> None:
    tpl = template(parameters={"sku": {"type": "string", "allowedValues": ["Basic", "Standard"]}})
    err = rejected(tpl, {"sku": {"value": "Gold"}}, ctx, host)
    assert "The provided value 'Gold' for the template parameter 'sku' is not valid" in err.message
    assert "'Basic,Standard'" in err.message
    assert validate(tpl, {"sku": {"value": "Basic"}}, ctx).parameters["sku"] == "Basic"


@pytest.mark.parametrize(
    ("spec", "value", "fragment"),
    [
        ({"type": "string", "minLength": 3}, "ab", "greater than or equal to '3'"),
        ({"type": "string", "maxLength": 3}, "abcd", "less than or equal to '3'"),
        ({"type": "array", "minLength": 1}, [], "greater than or equal to '1'"),
        ({"type": "int", "minValue": 1}, 0, "greater than or equal to '1'"),
        ({"type": "int", "maxValue": 10}, 11, "less than or equal to '10'"),
    ],
)
def test_parameter_limits(ctx, host, spec: dict, value: Any, fragment: str) -> None:
    err = rejected(template(parameters={"p": spec}), {"p": {"value": value}}, ctx, host)
    assert fragment in err.message


def test_parameter_not_declared_in_the_template(ctx, host) -> None:
    err = rejected(template(parameters={"a": {"type": "string"}}), {"a": {"value": "x"}, "b": {"value": 1}}, ctx, host)
    assert "The template parameters 'b'" in err.message


def test_default_value_may_be_an_expression(ctx) -> None:
    tpl = template(
        parameters={
            "location": {"type": "string", "defaultValue": "[resourceGroup().location]"},
            "name": {"type": "string", "defaultValue": "[format('st{0}', parameters('location'))]"},
        }
    )
    assert validate(tpl, {}, ctx).parameters == {"location": "koreacentral", "name": "stkoreacentral"}


def test_circular_dependson_names_the_cycle(ctx, host) -> None:
    tpl = template(
        [
            storage("a", dependsOn=["[resourceId('Microsoft.Storage/storageAccounts', 'c')]"]),
            storage("b", dependsOn=["a"]),
            storage("c", dependsOn=["Microsoft.Storage/storageAccounts/b"]),
            storage("independent"),
        ]
    )
    err = rejected(tpl, {}, ctx, host)
    assert err.code == "InvalidTemplate"
    assert "Circular dependency detected" in err.message
    for name in ("a", "b", "c"):
        assert f"{RG_ID}/providers/Microsoft.Storage/storageAccounts/{name}" in err.message
    assert "independent" not in err.message


def test_dependson_an_unknown_resource(ctx, host) -> None:
    tpl = template([storage("a", dependsOn=["[resourceId('Microsoft.Storage/storageAccounts', 'ghost')]"])])
    err = rejected(tpl, {}, ctx, host)
    assert err.code == "InvalidTemplate"
    assert f"The resource '{RG_ID}/providers/Microsoft.Storage/storageAccounts/ghost' is not defined" in err.message


def test_wrong_number_of_name_segments(ctx, host) -> None:
    tpl = template([{"type": "Microsoft.App/managedEnvironments/certificates", "apiVersion": "1", "name": "cert"}])
    err = rejected(tpl, {}, ctx, host)
    assert "incorrect segment lengths" in err.message


def test_duplicate_resources(ctx, host) -> None:
    err = rejected(template([storage("a"), storage("a")]), {}, ctx, host)
    assert "defined multiple times" in err.message


def test_reference_is_not_allowed_in_a_resource_name(ctx, host) -> None:
    tpl = template([storage("a"), storage("[reference('a').x]")])
    err = rejected(tpl, {}, ctx, host)
    assert "'reference' is not expected at this location" in err.message


def test_variable_cycle(ctx, host) -> None:
    tpl = template(variables={"a": "[variables('b')]", "b": "[variables('a')]"})
    err = rejected(tpl, {}, ctx, host)
    assert "refers to itself" in err.message


def test_unknown_output_type(ctx, host) -> None:
    err = rejected(template(outputs={"o": {"type": "float", "value": 1}}), {}, ctx, host)
    assert "output 'o'" in err.message


def test_error_dict_shape(ctx) -> None:
    with pytest.raises(TemplateError) as info:
        validate(template(parameters={"p": {"type": "string"}}), {}, ctx)
    assert info.value.to_dict() == {"code": "InvalidTemplate", "message": info.value.message}
    assert info.value.message.startswith("Deployment template validation failed: '")
