"""Evaluation of template values: JSON walked recursively, expressions evaluated against a scope."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Protocol

from . import functions
from .errors import ExpressionError
from .expressions import Call, Index, Literal, Member, Node, is_expression, iter_calls, parse, unescape_literal
from .functions import get_property, type_name

if TYPE_CHECKING:
    from .engine import DeploymentContext


class Runtime(Protocol):
    """What the evaluator needs once resources can be read (set only while the deployment runs)."""

    def read_resource(self, target: str, api_version: str | None) -> dict[str, Any]: ...

    def invoke_action(self, action: str, target: str, api_version: str, body: Any) -> Any: ...


@lru_cache(maxsize=4096)
def parse_cached(text: str) -> Node:
    return parse(text)


@dataclass
class UserFunction:
    name: str
    parameters: list[dict[str, Any]]
    output: dict[str, Any]


@dataclass
class Evaluator:
    """One evaluation scope. Cheap to copy (``with_copy_index``); variables are shared and cached."""

    ctx: DeploymentContext
    template: dict[str, Any]
    parameter_values: dict[str, Any]
    variable_defs: dict[str, Any] = field(default_factory=dict)
    variable_cache: dict[str, Any] = field(default_factory=dict)
    variables_in_progress: list[str] = field(default_factory=list)
    user_functions: dict[str, UserFunction] = field(default_factory=dict)
    copy_indexes: dict[str | None, int] = field(default_factory=dict)
    runtime: Runtime | None = None
    resource_info_lookup: Callable[[str], dict[str, Any]] | None = None
    in_parameter_default: bool = False
    in_function: bool = False

    # ---------------------------------------------------------------- scope accessors

    def parameter(self, name: str) -> Any:
        found, value = get_property(self.parameter_values, name)
        if not found:
            raise ExpressionError(
                f"The template parameter '{name}' is not found. Please see https://aka.ms/arm-syntax-parameters "
                "for usage details."
            )
        return value

    def variable(self, name: str) -> Any:
        if self.in_function:
            raise ExpressionError("The template function 'variables' is not expected in a user-defined function.")
        found, _ = get_property(self.variable_defs, name)
        if not found:
            raise ExpressionError(
                f"The template variable '{name}' is not found. Please see https://aka.ms/arm-syntax-variables "
                "for usage details."
            )
        key = next(k for k in self.variable_defs if k.lower() == name.lower())
        if key in self.variable_cache:
            return self.variable_cache[key]
        if key in self.variables_in_progress:
            chain = " -> ".join([*self.variables_in_progress, key])
            raise ExpressionError(f"The template variable '{key}' refers to itself: {chain}.")
        self.variables_in_progress.append(key)
        try:
            value = self.evaluate(self.variable_defs[key])
        finally:
            self.variables_in_progress.pop()
        self.variable_cache[key] = value
        return value

    def copy_index(self, loop: str | None) -> int:
        if loop is None:
            if None in self.copy_indexes:
                return self.copy_indexes[None]
            if len(self.copy_indexes) == 1:
                return next(iter(self.copy_indexes.values()))
        else:
            for k, v in self.copy_indexes.items():
                if k is not None and k.lower() == loop.lower():
                    return v
        where = f" for the loop '{loop}'" if loop else ""
        raise ExpressionError(
            f"The template function 'copyIndex' is not expected at this location{where}. "
            "Please see https://aka.ms/arm-resource-loops for usage details."
        )

    def with_copy_index(self, loop: str | None, index: int) -> Evaluator:
        clone = Evaluator(**{k: getattr(self, k) for k in self.__dataclass_fields__})
        clone.copy_indexes = {**self.copy_indexes, loop: index}
        return clone

    def with_runtime(self, runtime: Runtime | None) -> Evaluator:
        clone = Evaluator(**{k: getattr(self, k) for k in self.__dataclass_fields__})
        clone.runtime = runtime
        return clone

    def require_parameter_default(self, fname: str) -> None:
        if not self.in_parameter_default:
            raise ExpressionError(
                f"The template function '{fname}' is not expected at this location. It can only be used "
                "in the default value of a parameter."
            )

    def _not_here(self, fname: str) -> ExpressionError:
        return ExpressionError(
            f"The template function '{fname}' is not expected at this location. "
            "Please see https://aka.ms/arm-functions for usage details."
        )

    def read_resource(self, fname: str, target: str, api_version: str | None) -> dict[str, Any]:
        if self.runtime is None:
            raise self._not_here(fname)
        return self.runtime.read_resource(target, api_version)

    def invoke_action(self, fname: str, target: str, api_version: str, body: Any) -> Any:
        if self.runtime is None:
            raise self._not_here(fname)
        return self.runtime.invoke_action(fname, target, api_version, body)

    def resource_info(self, symbol: str) -> dict[str, Any]:
        if self.resource_info_lookup is None:
            raise self._not_here("resourceInfo")
        return self.resource_info_lookup(symbol)

    # ---------------------------------------------------------------- evaluation

    def evaluate(self, value: Any) -> Any:
        """Evaluate a JSON value: expressions in strings, property-level ``copy`` arrays in objects."""
        if isinstance(value, str):
            if is_expression(value):
                return self.eval_node(parse_cached(value))
            return unescape_literal(value)
        if isinstance(value, list):
            return [self.evaluate(v) for v in value]
        if isinstance(value, dict):
            out: dict[str, Any] = {}
            for k, v in value.items():
                if k == "copy" and isinstance(v, list):
                    for loop in v:
                        name, items = self.expand_copy(loop)
                        out[name] = items
                    continue
                out[k] = self.evaluate(v)
            return out
        return value

    def expand_copy(self, loop: Any) -> tuple[str, list[Any]]:
        """A property or variable ``copy`` entry ``{"name", "count", "input"}`` → (name, items)."""
        if not isinstance(loop, dict) or "name" not in loop or "count" not in loop:
            raise ExpressionError("A 'copy' entry must be an object with 'name', 'count' and 'input'.")
        name = self.evaluate(loop["name"])
        count = self.evaluate(loop["count"])
        if not isinstance(name, str) or not isinstance(count, int) or isinstance(count, bool) or count < 0:
            raise ExpressionError(f"The copy loop '{name}' must have a string name and a non-negative count.")
        return name, [self.with_copy_index(name, i).evaluate(loop.get("input")) for i in range(count)]

    def eval_node(self, node: Node) -> Any:
        if isinstance(node, Literal):
            return node.value
        if isinstance(node, Call):
            return self.eval_call(node)
        if isinstance(node, Member):
            target = self.eval_node(node.target)
            return self.member(target, node.name)
        if isinstance(node, Index):
            target = self.eval_node(node.target)
            index = self.eval_node(node.index)
            if isinstance(target, list):
                if not isinstance(index, int) or isinstance(index, bool):
                    raise ExpressionError(
                        f"The language expression array index must be an integer, not '{type_name(index)}'."
                    )
                if not 0 <= index < len(target):
                    raise ExpressionError(
                        f"The language expression property array index '{index}' is out of bounds."
                    )
                return target[index]
            if isinstance(index, str):
                return self.member(target, index)
            raise ExpressionError(
                f"The language expression property '{index}' can't be evaluated on a value of type "
                f"'{type_name(target)}'."
            )
        raise ExpressionError(f"Unknown expression node {node!r}.")

    @staticmethod
    def member(target: Any, name: str) -> Any:
        if not isinstance(target, dict):
            raise ExpressionError(
                f"The language expression property '{name}' can't be evaluated, the value is of type "
                f"'{type_name(target)}'."
            )
        found, value = get_property(target, name)
        if not found:
            available = ", ".join(target)
            raise ExpressionError(
                f"The language expression property '{name}' doesn't exist, available properties are "
                f"'{available}'."
            )
        return value

    def eval_call(self, node: Call) -> Any:
        lowered = node.name.lower()
        if lowered == "if":
            if len(node.args) != 3:
                raise functions.fn_error("if", f"must have '3' parameter(s), but '{len(node.args)}' were provided.")
            cond = self.eval_node(node.args[0])
            if not isinstance(cond, bool):
                raise functions.fn_error("if", f"expects a Boolean condition, not '{type_name(cond)}'.")
            return self.eval_node(node.args[1] if cond else node.args[2])
        user = self.user_functions.get(lowered)
        if user is not None:
            return self.call_user_function(user, [self.eval_node(a) for a in node.args])
        fn = functions.lookup(node.name)
        if fn is None:
            raise unknown_function(node.name)
        return fn(self, [self.eval_node(a) for a in node.args])

    def call_user_function(self, fn: UserFunction, args: list[Any]) -> Any:
        if len(args) != len(fn.parameters):
            raise ExpressionError(
                f"The user-defined function '{fn.name}' takes '{len(fn.parameters)}' parameter(s), "
                f"but '{len(args)}' were provided."
            )
        scope = Evaluator(
            ctx=self.ctx,
            template=self.template,
            parameter_values={p["name"]: a for p, a in zip(fn.parameters, args, strict=True)},
            user_functions=self.user_functions,
            in_function=True,
        )
        return scope.evaluate(fn.output.get("value"))


def unknown_function(name: str) -> ExpressionError:
    return ExpressionError(
        f"The template function '{name}' is not valid. Please see https://aka.ms/arm-functions for usage details."
    )


def iter_expressions(value: Any, path: str = "") -> list[tuple[str, Node | ExpressionError]]:
    """Every expression string inside a JSON value with its JSON path; parse failures are returned."""
    found: list[tuple[str, Node | ExpressionError]] = []
    if isinstance(value, str) and is_expression(value):
        try:
            found.append((path, parse_cached(value)))
        except ExpressionError as exc:
            found.append((path, exc))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found.extend(iter_expressions(v, f"{path}[{i}]"))
    elif isinstance(value, dict):
        for k, v in value.items():
            found.extend(iter_expressions(v, f"{path}.{k}" if path else k))
    return found


def calls_in(value: Any) -> list[Call]:
    """All function calls in all expressions of a JSON value (parse errors ignored)."""
    out: list[Call] = []
    for _, node in iter_expressions(value):
        if not isinstance(node, ExpressionError):
            out.extend(iter_calls(node))
    return out
