"""Built-in template functions. Each takes the evaluator and the evaluated arguments.

Names are case-insensitive, as in ARM. ``if`` and ``reference``-like functions that need the
evaluator's state reach it through ``ev``; lazy evaluation of ``if`` lives in the evaluator.
"""

from __future__ import annotations

import base64
import json
import math
import re
import urllib.parse
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .errors import ExpressionError
from .hashing import arm_guid, unique_string

if TYPE_CHECKING:
    from .evaluator import Evaluator

Fn = Callable[["Evaluator", list[Any]], Any]


def type_name(value: Any) -> str:
    """ARM's (JToken) type name for a value, used in messages."""
    if value is None:
        return "Null"
    if isinstance(value, bool):
        return "Boolean"
    if isinstance(value, int):
        return "Integer"
    if isinstance(value, float):
        return "Float"
    if isinstance(value, str):
        return "String"
    if isinstance(value, list):
        return "Array"
    if isinstance(value, dict):
        return "Object"
    return type(value).__name__


def fn_error(name: str, message: str) -> ExpressionError:
    return ExpressionError(
        f"The template language function '{name}' {message} "
        "Please see https://aka.ms/arm-functions for usage details.",
    )


def _arity(name: str, args: list[Any], low: int, high: int | None = None) -> None:
    if len(args) < low or (high is not None and len(args) > high):
        if high is None:
            expected = f"at least '{low}'"
        elif low == high:
            expected = f"'{low}'"
        else:
            expected = f"between '{low}' and '{high}'"
        raise fn_error(name, f"must have {expected} parameter(s), but '{len(args)}' were provided.")


def _want(name: str, value: Any, *kinds: type, what: str) -> Any:
    ok = isinstance(value, kinds) and not (isinstance(value, bool) and bool not in kinds)
    if not ok:
        raise fn_error(
            name, f"expects its parameter to be of type {what}. The provided value is of type '{type_name(value)}'."
        )
    return value


def _s(name: str, v: Any) -> str:
    return _want(name, v, str, what="'String'")


def _i(name: str, v: Any) -> int:
    return _want(name, v, int, what="'Integer'")


def _b(name: str, v: Any) -> bool:
    return _want(name, v, bool, what="'Boolean'")


def to_text(value: Any) -> str:
    """ARM's string conversion (``string()``, ``format()``, ``concat()``): .NET-style booleans."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "True" if value else "False"
    if value is None:
        return ""
    if isinstance(value, (int, float)):
        return str(value)
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def get_property(obj: dict[str, Any], key: str) -> tuple[bool, Any]:
    """ARM property lookup: exact match first, then case-insensitive."""
    if key in obj:
        return True, obj[key]
    lowered = key.lower()
    for k, v in obj.items():
        if k.lower() == lowered:
            return True, v
    return False, None


def json_equal(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, dict) and isinstance(b, dict):
        if len(a) != len(b):
            return False
        for k, v in a.items():
            found, other = get_property(b, k)
            if not found or not json_equal(v, other):
                return False
        return True
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    return type(a) is type(b) and a == b


# ---------------------------------------------------------------- string functions


def f_concat(ev: Evaluator, args: list[Any]) -> Any:
    _arity("concat", args, 1)
    if all(isinstance(a, list) or a is None for a in args) and any(isinstance(a, list) for a in args):
        out: list[Any] = []
        for a in args:
            out.extend(a or [])
        return out
    if any(isinstance(a, list) for a in args):
        raise fn_error("concat", "expects all parameters to be arrays or all to be strings.")
    return "".join(to_text(a) for a in args)


_FORMAT_ITEM = re.compile(r"\{\{|\}\}|\{(\d+)(?:,(-?\d+))?(?::([^}]*))?\}|[{}]")


def _format_value(value: Any, spec: str | None) -> str:
    if spec and isinstance(value, (int, float)) and not isinstance(value, bool):
        kind, digits = spec[0].upper(), spec[1:]
        if kind == "D" and isinstance(value, int):
            return str(value).zfill(int(digits or 0)) if value >= 0 else "-" + str(-value).zfill(int(digits or 0))
        if kind == "N":
            return f"{value:,.{int(digits) if digits else 2}f}"
        if kind == "F":
            return f"{value:.{int(digits) if digits else 2}f}"
        if kind == "X" and isinstance(value, int):
            text = format(value, "X" if spec[0] == "X" else "x")
            return text.zfill(int(digits or 0))
        if kind == "P":
            return f"{value * 100:,.{int(digits) if digits else 2}f} %"
    return to_text(value)


def f_format(ev: Evaluator, args: list[Any]) -> str:
    _arity("format", args, 1)
    template = _s("format", args[0])
    values = args[1:]

    def repl(m: re.Match[str]) -> str:
        token = m.group(0)
        if token == "{{":
            return "{"
        if token == "}}":
            return "}"
        if m.group(1) is None:
            raise fn_error("format", f"was given the format string '{template}' which is not valid.")
        idx = int(m.group(1))
        if idx >= len(values):
            raise fn_error(
                "format", f"format string refers to argument '{idx}' but only '{len(values)}' were provided."
            )
        text = _format_value(values[idx], m.group(3))
        if m.group(2):
            width = int(m.group(2))
            text = text.rjust(width) if width > 0 else text.ljust(-width)
        return text

    return _FORMAT_ITEM.sub(repl, template)


def f_string(ev: Evaluator, args: list[Any]) -> str:
    _arity("string", args, 1, 1)
    return to_text(args[0])


def f_to_lower(ev: Evaluator, args: list[Any]) -> str:
    _arity("toLower", args, 1, 1)
    return _s("toLower", args[0]).lower()


def f_to_upper(ev: Evaluator, args: list[Any]) -> str:
    _arity("toUpper", args, 1, 1)
    return _s("toUpper", args[0]).upper()


def f_replace(ev: Evaluator, args: list[Any]) -> str:
    _arity("replace", args, 3, 3)
    return _s("replace", args[0]).replace(_s("replace", args[1]), _s("replace", args[2]))


def f_substring(ev: Evaluator, args: list[Any]) -> str:
    _arity("substring", args, 2, 3)
    text, start = _s("substring", args[0]), _i("substring", args[1])
    length = _i("substring", args[2]) if len(args) == 3 else len(text) - start
    if start < 0 or start > len(text):
        raise fn_error("substring", f"start index '{start}' is out of range for a string of length '{len(text)}'.")
    if length < 0 or start + length > len(text):
        raise fn_error(
            "substring",
            f"The index and length parameters must refer to a location within the string. "
            f"The index parameter: '{start}', the length parameter: '{length}', "
            f"the length of the string parameter: '{len(text)}'.",
        )
    return text[start : start + length]


def f_trim(ev: Evaluator, args: list[Any]) -> str:
    _arity("trim", args, 1, 1)
    return _s("trim", args[0]).strip()


def f_split(ev: Evaluator, args: list[Any]) -> list[str]:
    _arity("split", args, 2, 2)
    text = _s("split", args[0])
    delims = args[1] if isinstance(args[1], list) else [_s("split", args[1])]
    if not delims:
        return [text]
    pattern = "|".join(re.escape(_s("split", d)) for d in delims)
    return re.split(pattern, text)


def f_starts_with(ev: Evaluator, args: list[Any]) -> bool:
    _arity("startsWith", args, 2, 2)
    return _s("startsWith", args[0]).lower().startswith(_s("startsWith", args[1]).lower())


def f_ends_with(ev: Evaluator, args: list[Any]) -> bool:
    _arity("endsWith", args, 2, 2)
    return _s("endsWith", args[0]).lower().endswith(_s("endsWith", args[1]).lower())


def f_index_of(ev: Evaluator, args: list[Any]) -> int:
    _arity("indexOf", args, 2, 2)
    if isinstance(args[0], list):
        return next((i for i, v in enumerate(args[0]) if json_equal(v, args[1])), -1)
    return _s("indexOf", args[0]).lower().find(_s("indexOf", args[1]).lower())


def f_last_index_of(ev: Evaluator, args: list[Any]) -> int:
    _arity("lastIndexOf", args, 2, 2)
    if isinstance(args[0], list):
        return next((i for i in range(len(args[0]) - 1, -1, -1) if json_equal(args[0][i], args[1])), -1)
    return _s("lastIndexOf", args[0]).lower().rfind(_s("lastIndexOf", args[1]).lower())


def f_pad_left(ev: Evaluator, args: list[Any]) -> str:
    _arity("padLeft", args, 2, 3)
    value = args[0] if isinstance(args[0], str) else to_text(_i("padLeft", args[0]))
    pad = _s("padLeft", args[2]) if len(args) == 3 else " "
    if len(pad) != 1:
        raise fn_error("padLeft", "expects the padding character to be a single character.")
    return value.rjust(_i("padLeft", args[1]), pad)


def f_unique_string(ev: Evaluator, args: list[Any]) -> str:
    _arity("uniqueString", args, 1)
    return unique_string(*(_s("uniqueString", a) for a in args))


def f_guid(ev: Evaluator, args: list[Any]) -> str:
    _arity("guid", args, 1)
    return arm_guid(*(_s("guid", a) for a in args))


def f_new_guid(ev: Evaluator, args: list[Any]) -> str:
    _arity("newGuid", args, 0, 0)
    ev.require_parameter_default("newGuid")
    return str(uuid.uuid4())


def f_utc_now(ev: Evaluator, args: list[Any]) -> str:
    _arity("utcNow", args, 0, 1)
    ev.require_parameter_default("utcNow")
    now = ev.ctx.now()
    if not args:
        return now.strftime("%Y%m%dT%H%M%SZ")
    fmt = _s("utcNow", args[0])
    table = {"u": "%Y-%m-%d %H:%M:%SZ", "d": "%m/%d/%Y", "s": "%Y-%m-%dT%H:%M:%S", "o": None}
    if fmt in table:
        return now.isoformat() if table[fmt] is None else now.strftime(table[fmt] or "")
    for dotnet, py in (("yyyy", "%Y"), ("MM", "%m"), ("dd", "%d"), ("HH", "%H"), ("mm", "%M"), ("ss", "%S")):
        fmt = fmt.replace(dotnet, py)
    return now.strftime(fmt)


def f_base64(ev: Evaluator, args: list[Any]) -> str:
    _arity("base64", args, 1, 1)
    return base64.b64encode(_s("base64", args[0]).encode()).decode()


def f_base64_to_string(ev: Evaluator, args: list[Any]) -> str:
    _arity("base64ToString", args, 1, 1)
    try:
        return base64.b64decode(_s("base64ToString", args[0]), validate=True).decode()
    except ValueError as exc:
        raise fn_error("base64ToString", "was invoked with a parameter that is not valid base64.") from exc


def f_base64_to_json(ev: Evaluator, args: list[Any]) -> Any:
    _arity("base64ToJson", args, 1, 1)
    return f_json(ev, [f_base64_to_string(ev, args)])


def f_data_uri(ev: Evaluator, args: list[Any]) -> str:
    _arity("dataUri", args, 1, 1)
    return "data:text/plain;charset=utf8;base64," + base64.b64encode(to_text(args[0]).encode()).decode()


def f_data_uri_to_string(ev: Evaluator, args: list[Any]) -> str:
    _arity("dataUriToString", args, 1, 1)
    text = _s("dataUriToString", args[0])
    head, _, data = text.partition(",")
    if not head.startswith("data:"):
        raise fn_error("dataUriToString", "was invoked with a parameter that is not a data URI.")
    if head.endswith(";base64"):
        return base64.b64decode(data).decode()
    return urllib.parse.unquote(data)


def f_uri(ev: Evaluator, args: list[Any]) -> str:
    _arity("uri", args, 2, 2)
    base, rel = _s("uri", args[0]), _s("uri", args[1])
    if not urllib.parse.urlparse(base).scheme:
        raise fn_error("uri", f"was invoked with a base URI '{base}' that is not absolute.")
    return urllib.parse.urljoin(base, rel)


def f_uri_component(ev: Evaluator, args: list[Any]) -> str:
    _arity("uriComponent", args, 1, 1)
    return urllib.parse.quote(_s("uriComponent", args[0]), safe="-._~")


def f_uri_component_to_string(ev: Evaluator, args: list[Any]) -> str:
    _arity("uriComponentToString", args, 1, 1)
    return urllib.parse.unquote(_s("uriComponentToString", args[0]))


# ---------------------------------------------------------------- collections


def f_length(ev: Evaluator, args: list[Any]) -> int:
    _arity("length", args, 1, 1)
    value = args[0]
    if isinstance(value, (str, list, dict)):
        return len(value)
    if value is None:
        return 0
    raise fn_error("length", f"expects a string, array or object. The provided value is of type '{type_name(value)}'.")


def f_empty(ev: Evaluator, args: list[Any]) -> bool:
    _arity("empty", args, 1, 1)
    value = args[0]
    if value is None:
        return True
    if isinstance(value, (str, list, dict)):
        return len(value) == 0
    raise fn_error("empty", f"expects a string, array or object. The provided value is of type '{type_name(value)}'.")


def f_contains(ev: Evaluator, args: list[Any]) -> bool:
    _arity("contains", args, 2, 2)
    container, item = args
    if isinstance(container, str):
        return to_text(item) in container
    if isinstance(container, list):
        return any(json_equal(v, item) for v in container)
    if isinstance(container, dict):
        return get_property(container, _s("contains", item))[0]
    raise fn_error(
        "contains", f"expects a string, array or object. The provided value is of type '{type_name(container)}'."
    )


def f_first(ev: Evaluator, args: list[Any]) -> Any:
    _arity("first", args, 1, 1)
    value = _want("first", args[0], str, list, what="'String' or 'Array'")
    return (value[0] if value else ("" if isinstance(value, str) else None))


def f_last(ev: Evaluator, args: list[Any]) -> Any:
    _arity("last", args, 1, 1)
    value = _want("last", args[0], str, list, what="'String' or 'Array'")
    return (value[-1] if value else ("" if isinstance(value, str) else None))


def f_take(ev: Evaluator, args: list[Any]) -> Any:
    _arity("take", args, 2, 2)
    value = _want("take", args[0], str, list, what="'String' or 'Array'")
    return value[: max(0, _i("take", args[1]))]


def f_skip(ev: Evaluator, args: list[Any]) -> Any:
    _arity("skip", args, 2, 2)
    value = _want("skip", args[0], str, list, what="'String' or 'Array'")
    return value[max(0, _i("skip", args[1])) :]


def f_join(ev: Evaluator, args: list[Any]) -> str:
    _arity("join", args, 2, 2)
    items = _want("join", args[0], list, what="'Array'")
    return _s("join", args[1]).join(to_text(v) for v in items)


def f_array(ev: Evaluator, args: list[Any]) -> list[Any]:
    _arity("array", args, 1, 1)
    return args[0] if isinstance(args[0], list) else [args[0]]


def f_create_array(ev: Evaluator, args: list[Any]) -> list[Any]:
    return list(args)


def f_create_object(ev: Evaluator, args: list[Any]) -> dict[str, Any]:
    if len(args) % 2:
        raise fn_error("createObject", "must have an even number of parameters.")
    return {_s("createObject", args[i]): args[i + 1] for i in range(0, len(args), 2)}


def _merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    out = dict(a)
    for k, v in b.items():
        found, existing = get_property(out, k)
        if found and isinstance(existing, dict) and isinstance(v, dict):
            out[k] = _merge(existing, v)
        else:
            out[k] = v
    return out


def f_union(ev: Evaluator, args: list[Any]) -> Any:
    _arity("union", args, 1)
    if all(isinstance(a, dict) for a in args):
        out: dict[str, Any] = {}
        for a in args:
            out = _merge(out, a)
        return out
    if all(isinstance(a, list) for a in args):
        items: list[Any] = []
        for a in args:
            for v in a:
                if not any(json_equal(v, x) for x in items):
                    items.append(v)
        return items
    raise fn_error("union", "expects all parameters to be objects or all to be arrays.")


def f_intersection(ev: Evaluator, args: list[Any]) -> Any:
    _arity("intersection", args, 2)
    if all(isinstance(a, dict) for a in args):
        first = args[0]
        return {
            k: v
            for k, v in first.items()
            if all(get_property(o, k)[0] and json_equal(get_property(o, k)[1], v) for o in args[1:])
        }
    if all(isinstance(a, list) for a in args):
        out: list[Any] = []
        for v in args[0]:
            if all(any(json_equal(v, x) for x in o) for o in args[1:]) and not any(json_equal(v, x) for x in out):
                out.append(v)
        return out
    raise fn_error("intersection", "expects all parameters to be objects or all to be arrays.")


def f_range(ev: Evaluator, args: list[Any]) -> list[int]:
    _arity("range", args, 2, 2)
    start, count = _i("range", args[0]), _i("range", args[1])
    if count < 0 or count > 10000:
        raise fn_error("range", f"count '{count}' must be between 0 and 10000.")
    return list(range(start, start + count))


def f_items(ev: Evaluator, args: list[Any]) -> list[dict[str, Any]]:
    _arity("items", args, 1, 1)
    obj = _want("items", args[0], dict, what="'Object'")
    return [{"key": k, "value": obj[k]} for k in sorted(obj, key=str.lower)]


def f_object_keys(ev: Evaluator, args: list[Any]) -> list[str]:
    _arity("objectKeys", args, 1, 1)
    return list(_want("objectKeys", args[0], dict, what="'Object'"))


def f_flatten(ev: Evaluator, args: list[Any]) -> list[Any]:
    _arity("flatten", args, 1, 1)
    out: list[Any] = []
    for v in _want("flatten", args[0], list, what="'Array'"):
        out.extend(_want("flatten", v, list, what="'Array' of arrays"))
    return out


def f_try_get(ev: Evaluator, args: list[Any]) -> Any:
    _arity("tryGet", args, 2)
    value = args[0]
    for key in args[1:]:
        if isinstance(value, dict) and isinstance(key, str):
            found, value = get_property(value, key)
            if not found:
                return None
        elif isinstance(value, list) and isinstance(key, int) and not isinstance(key, bool):
            if not 0 <= key < len(value):
                return None
            value = value[key]
        else:
            return None
    return value


def f_coalesce(ev: Evaluator, args: list[Any]) -> Any:
    _arity("coalesce", args, 1)
    return next((a for a in args if a is not None), None)


def f_json(ev: Evaluator, args: list[Any]) -> Any:
    _arity("json", args, 1, 1)
    try:
        return json.loads(_s("json", args[0]))
    except json.JSONDecodeError as exc:
        raise fn_error("json", f"was invoked with a parameter that is not valid JSON: {exc.msg}.") from exc


# ---------------------------------------------------------------- logic and numbers


def f_equals(ev: Evaluator, args: list[Any]) -> bool:
    _arity("equals", args, 2, 2)
    return json_equal(args[0], args[1])


def f_not(ev: Evaluator, args: list[Any]) -> bool:
    _arity("not", args, 1, 1)
    return not _b("not", args[0])


def f_and(ev: Evaluator, args: list[Any]) -> bool:
    _arity("and", args, 2)
    return all([_b("and", a) for a in args])


def f_or(ev: Evaluator, args: list[Any]) -> bool:
    _arity("or", args, 2)
    return any([_b("or", a) for a in args])


def f_true(ev: Evaluator, args: list[Any]) -> bool:
    _arity("true", args, 0, 0)
    return True


def f_false(ev: Evaluator, args: list[Any]) -> bool:
    _arity("false", args, 0, 0)
    return False


def f_null(ev: Evaluator, args: list[Any]) -> None:
    _arity("null", args, 0, 0)
    return None


def f_int(ev: Evaluator, args: list[Any]) -> int:
    _arity("int", args, 1, 1)
    value = args[0]
    if isinstance(value, bool):
        raise fn_error("int", "cannot convert a Boolean to an integer.")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value)
    try:
        return int(_s("int", value).strip())
    except ValueError as exc:
        raise fn_error("int", f"cannot convert the string '{value}' to an integer.") from exc


def f_bool(ev: Evaluator, args: list[Any]) -> bool:
    _arity("bool", args, 1, 1)
    value = args[0]
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value != 0
    text = _s("bool", value).strip().lower()
    if text in ("true", "false"):
        return text == "true"
    raise fn_error("bool", f"cannot convert the string '{value}' to a boolean.")


def _num(name: str, v: Any) -> int:
    return _i(name, v)


def f_add(ev: Evaluator, args: list[Any]) -> int:
    _arity("add", args, 2, 2)
    return _num("add", args[0]) + _num("add", args[1])


def f_sub(ev: Evaluator, args: list[Any]) -> int:
    _arity("sub", args, 2, 2)
    return _num("sub", args[0]) - _num("sub", args[1])


def f_mul(ev: Evaluator, args: list[Any]) -> int:
    _arity("mul", args, 2, 2)
    return _num("mul", args[0]) * _num("mul", args[1])


def f_div(ev: Evaluator, args: list[Any]) -> int:
    _arity("div", args, 2, 2)
    a, b = _num("div", args[0]), _num("div", args[1])
    if b == 0:
        raise fn_error("div", "was invoked with a divisor of '0'.")
    return int(math.copysign(abs(a) // abs(b), a * b)) if a * b else 0


def f_mod(ev: Evaluator, args: list[Any]) -> int:
    _arity("mod", args, 2, 2)
    a, b = _num("mod", args[0]), _num("mod", args[1])
    if b == 0:
        raise fn_error("mod", "was invoked with a divisor of '0'.")
    return int(math.fmod(a, b))


def _compare(name: str, args: list[Any]) -> int:
    _arity(name, args, 2, 2)
    a, b = args
    if isinstance(a, str) and isinstance(b, str):
        return (a > b) - (a < b)
    a, b = _want(name, a, int, float, what="'Integer' or 'String'"), _want(name, b, int, float, what="'Integer'")
    return (a > b) - (a < b)


def f_less(ev: Evaluator, args: list[Any]) -> bool:
    return _compare("less", args) < 0


def f_less_or_equals(ev: Evaluator, args: list[Any]) -> bool:
    return _compare("lessOrEquals", args) <= 0


def f_greater(ev: Evaluator, args: list[Any]) -> bool:
    return _compare("greater", args) > 0


def f_greater_or_equals(ev: Evaluator, args: list[Any]) -> bool:
    return _compare("greaterOrEquals", args) >= 0


def _numbers(name: str, args: list[Any]) -> list[int]:
    _arity(name, args, 1)
    values = args[0] if len(args) == 1 and isinstance(args[0], list) else args
    if not values:
        raise fn_error(name, "was invoked with an empty array.")
    return [_i(name, v) for v in values]


def f_min(ev: Evaluator, args: list[Any]) -> int:
    return min(_numbers("min", args))


def f_max(ev: Evaluator, args: list[Any]) -> int:
    return max(_numbers("max", args))


# ---------------------------------------------------------------- deployment context


AZURE_CLOUD_ENVIRONMENT: dict[str, Any] = {
    "name": "AzureCloud",
    "gallery": "https://gallery.azure.com/",
    "graph": "https://graph.windows.net/",
    "portal": "https://portal.azure.com",
    "graphAudience": "https://graph.windows.net/",
    "activeDirectoryDataLake": "https://datalake.azure.net/",
    "batch": "https://batch.core.windows.net/",
    "media": "https://rest.media.azure.net",
    "sqlManagement": "https://management.core.windows.net:8443/",
    "vmImageAliasDoc": "https://raw.githubusercontent.com/Azure/azure-rest-api-specs/master/arm-compute/"
    "quickstart-templates/aliases.json",
    "resourceManager": "https://management.azure.com/",
    "authentication": {
        "loginEndpoint": "https://login.microsoftonline.com/",
        "audiences": ["https://management.core.windows.net/", "https://management.azure.com/"],
        "tenant": "common",
        "identityProvider": "AAD",
    },
    "suffixes": {
        "acrLoginServer": ".azurecr.io",
        "azureDatalakeAnalyticsCatalogAndJob": "azuredatalakeanalytics.net",
        "azureDatalakeStoreFileSystem": "azuredatalakestore.net",
        "azureFrontDoorEndpointSuffix": "azurefd.net",
        "keyvaultDns": ".vault.azure.net",
        "sqlServerHostname": ".database.windows.net",
        "storage": "core.windows.net",
    },
}


def f_environment(ev: Evaluator, args: list[Any]) -> dict[str, Any]:
    _arity("environment", args, 0, 0)
    return json.loads(json.dumps(AZURE_CLOUD_ENVIRONMENT))


def f_resource_group(ev: Evaluator, args: list[Any]) -> dict[str, Any]:
    _arity("resourceGroup", args, 0, 0)
    c = ev.ctx
    return {
        "id": f"/subscriptions/{c.subscription_id}/resourceGroups/{c.resource_group_name}",
        "name": c.resource_group_name,
        "type": "Microsoft.Resources/resourceGroups",
        "location": c.resource_group_location,
        "tags": dict(c.resource_group_tags or {}),
        "properties": {"provisioningState": "Succeeded"},
    }


def f_subscription(ev: Evaluator, args: list[Any]) -> dict[str, Any]:
    _arity("subscription", args, 0, 0)
    c = ev.ctx
    return {
        "id": f"/subscriptions/{c.subscription_id}",
        "subscriptionId": c.subscription_id,
        "tenantId": c.tenant_id,
        "displayName": c.subscription_display_name,
    }


def f_tenant(ev: Evaluator, args: list[Any]) -> dict[str, Any]:
    _arity("tenant", args, 0, 0)
    return {"id": f"/tenants/{ev.ctx.tenant_id}", "tenantId": ev.ctx.tenant_id}


def f_deployment(ev: Evaluator, args: list[Any]) -> dict[str, Any]:
    _arity("deployment", args, 0, 0)
    template = ev.template
    shown = {k: template[k] for k in ("$schema", "contentVersion", "metadata") if k in template}
    return {
        "name": ev.ctx.deployment_name,
        "properties": {
            "template": shown,
            "parameters": {k: {"value": v} for k, v in ev.parameter_values.items()},
            "mode": "Incremental",
            "provisioningState": "Accepted",
        },
    }


def f_parameters(ev: Evaluator, args: list[Any]) -> Any:
    _arity("parameters", args, 1, 1)
    return ev.parameter(_s("parameters", args[0]))


def f_variables(ev: Evaluator, args: list[Any]) -> Any:
    _arity("variables", args, 1, 1)
    return ev.variable(_s("variables", args[0]))


def f_copy_index(ev: Evaluator, args: list[Any]) -> int:
    _arity("copyIndex", args, 0, 2)
    loop: str | None = None
    offset = 0
    if len(args) == 2:
        loop, offset = _s("copyIndex", args[0]), _i("copyIndex", args[1])
    elif len(args) == 1:
        if isinstance(args[0], str):
            loop = args[0]
        else:
            offset = _i("copyIndex", args[0])
    return ev.copy_index(loop) + offset


# ---------------------------------------------------------------- resource ids


def _split_type(name: str, rtype: str) -> tuple[str, list[str]]:
    parts = rtype.split("/")
    if len(parts) < 2 or not all(parts):
        raise fn_error(name, f"was given the resource type '{rtype}' which is not valid.")
    return parts[0], parts[1:]


def build_resource_path(fname: str, rtype: str, names: list[str]) -> str:
    """``{ns}/{t1}/{n1}/{t2}/{n2}`` for a type and its name segments."""
    namespace, types = _split_type(fname, rtype)
    segments: list[str] = []
    for n in names:
        segments.extend(str(n).split("/"))
    if len(segments) != len(types):
        raise fn_error(
            fname,
            f"was given '{len(segments)}' resource name segment(s) for the resource type '{rtype}' "
            f"which needs '{len(types)}'.",
        )
    path = namespace
    for t, n in zip(types, segments, strict=True):
        path += f"/{t}/{n}"
    return path


def _id_args(fname: str, args: list[Any]) -> tuple[list[str], str, list[str]]:
    for a in args:
        _s(fname, a)
    type_at = next((i for i, a in enumerate(args) if "/" in a), None)
    if type_at is None:
        raise fn_error(fname, "was not given a resource type (a value of the form 'Namespace/type').")
    return args[:type_at], args[type_at], args[type_at + 1 :]


def f_resource_id(ev: Evaluator, args: list[Any]) -> str:
    _arity("resourceId", args, 2)
    scope, rtype, names = _id_args("resourceId", args)
    sub, rg = ev.ctx.subscription_id, ev.ctx.resource_group_name
    if len(scope) == 1:
        rg = scope[0]
    elif len(scope) == 2:
        sub, rg = scope
    elif len(scope) > 2:
        raise fn_error("resourceId", "was given too many values before the resource type.")
    return f"/subscriptions/{sub}/resourceGroups/{rg}/providers/{build_resource_path('resourceId', rtype, names)}"


def f_subscription_resource_id(ev: Evaluator, args: list[Any]) -> str:
    _arity("subscriptionResourceId", args, 2)
    scope, rtype, names = _id_args("subscriptionResourceId", args)
    if len(scope) > 1:
        raise fn_error("subscriptionResourceId", "was given too many values before the resource type.")
    sub = scope[0] if scope else ev.ctx.subscription_id
    return f"/subscriptions/{sub}/providers/{build_resource_path('subscriptionResourceId', rtype, names)}"


def f_tenant_resource_id(ev: Evaluator, args: list[Any]) -> str:
    _arity("tenantResourceId", args, 2)
    scope, rtype, names = _id_args("tenantResourceId", args)
    if scope:
        raise fn_error("tenantResourceId", "was given values before the resource type.")
    return f"/providers/{build_resource_path('tenantResourceId', rtype, names)}"


def f_extension_resource_id(ev: Evaluator, args: list[Any]) -> str:
    _arity("extensionResourceId", args, 3)
    base = _s("extensionResourceId", args[0]).rstrip("/")
    rtype = _s("extensionResourceId", args[1])
    names = [_s("extensionResourceId", a) for a in args[2:]]
    return f"{base}/providers/{build_resource_path('extensionResourceId', rtype, names)}"


# ---------------------------------------------------------------- resources at run time


def f_reference(ev: Evaluator, args: list[Any]) -> Any:
    _arity("reference", args, 1, 3)
    target = _s("reference", args[0])
    api_version = _s("reference", args[1]) if len(args) > 1 and args[1] is not None else None
    full = len(args) > 2 and isinstance(args[2], str) and args[2].lower() == "full"
    if len(args) > 2 and not full:
        raise fn_error("reference", f"was given the option '{args[2]}'; the only supported option is 'Full'.")
    body = ev.read_resource("reference", target, api_version)
    if full:
        return body
    return body.get("properties") if isinstance(body, dict) else None


def f_resource_info(ev: Evaluator, args: list[Any]) -> dict[str, Any]:
    _arity("resourceInfo", args, 1, 1)
    return ev.resource_info(_s("resourceInfo", args[0]))


def make_list_function(name: str) -> Fn:
    def f_list(ev: Evaluator, args: list[Any]) -> Any:
        _arity(name, args, 2, 3)
        target = _s(name, args[0])
        api_version = _s(name, args[1])
        body = args[2] if len(args) == 3 else None
        return ev.invoke_action(name, target, api_version, body)

    return f_list


_TABLE: dict[str, Fn] = {
    "concat": f_concat, "format": f_format, "string": f_string, "toLower": f_to_lower,
    "toUpper": f_to_upper, "replace": f_replace, "substring": f_substring, "trim": f_trim,
    "split": f_split, "startsWith": f_starts_with, "endsWith": f_ends_with, "indexOf": f_index_of,
    "lastIndexOf": f_last_index_of, "padLeft": f_pad_left, "uniqueString": f_unique_string,
    "guid": f_guid, "newGuid": f_new_guid, "utcNow": f_utc_now, "base64": f_base64,
    "base64ToString": f_base64_to_string, "base64ToJson": f_base64_to_json, "dataUri": f_data_uri,
    "dataUriToString": f_data_uri_to_string, "uri": f_uri, "uriComponent": f_uri_component,
    "uriComponentToString": f_uri_component_to_string, "length": f_length, "empty": f_empty,
    "contains": f_contains, "first": f_first, "last": f_last, "take": f_take, "skip": f_skip,
    "join": f_join, "array": f_array, "createArray": f_create_array, "createObject": f_create_object,
    "union": f_union, "intersection": f_intersection, "range": f_range, "items": f_items,
    "objectKeys": f_object_keys, "flatten": f_flatten, "tryGet": f_try_get, "coalesce": f_coalesce,
    "json": f_json, "equals": f_equals, "not": f_not, "and": f_and, "or": f_or, "true": f_true,
    "false": f_false, "null": f_null, "int": f_int, "bool": f_bool, "add": f_add, "sub": f_sub,
    "mul": f_mul, "div": f_div, "mod": f_mod, "less": f_less, "lessOrEquals": f_less_or_equals,
    "greater": f_greater, "greaterOrEquals": f_greater_or_equals, "min": f_min, "max": f_max,
    "environment": f_environment, "resourceGroup": f_resource_group, "subscription": f_subscription,
    "tenant": f_tenant, "deployment": f_deployment, "parameters": f_parameters,
    "variables": f_variables, "copyIndex": f_copy_index, "resourceId": f_resource_id,
    "subscriptionResourceId": f_subscription_resource_id, "tenantResourceId": f_tenant_resource_id,
    "extensionResourceId": f_extension_resource_id, "reference": f_reference,
    "resourceInfo": f_resource_info,
}  # fmt: skip
BUILTINS: dict[str, Fn] = {name.lower(): fn for name, fn in _TABLE.items()}
# "if" is evaluated lazily by the evaluator; it is listed so that validation accepts it.
LAZY_FUNCTIONS = frozenset({"if"})
RUNTIME_FUNCTIONS = frozenset({"reference"})


def lookup(name: str) -> Fn | None:
    """The implementation of a built-in function, including the generic ``list*`` family."""
    lowered = name.lower()
    fn = BUILTINS.get(lowered)
    if fn is None and lowered.startswith("list") and len(lowered) > 4 and "." not in lowered:
        fn = make_list_function(name)
    return fn


def is_known(name: str) -> bool:
    return name.lower() in LAZY_FUNCTIONS or lookup(name) is not None


def is_runtime_function(name: str) -> bool:
    lowered = name.lower()
    return lowered in RUNTIME_FUNCTIONS or (lowered.startswith("list") and len(lowered) > 4)
