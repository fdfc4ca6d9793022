"""What ARM refuses before any resource provider sees a request: body size, JSON, tags, top-level types.

Limits and codes follow Azure's documentation:
- tags: https://learn.microsoft.com/azure/azure-resource-manager/management/tag-resources#limitations
  (50 pairs, names up to 512 characters without ``< > % & \\ ? /``, values up to 256 characters);
- request and template size: https://learn.microsoft.com/azure/azure-resource-manager/management/azure-subscription-service-limits
  and https://learn.microsoft.com/azure/azure-resource-manager/troubleshooting/error-job-size-exceeded
  (4 MB; 24,576 characters in one template expression).
"""

from __future__ import annotations

import json
import re
from typing import Any

from pytest_acalab.emulator.platform.errors import ArmError

MAX_ARM_BODY = 4 * 1024 * 1024
"""ARM refuses request bodies above 4 MB."""
MAX_JSON_DEPTH = 64
"""Nesting ARM's JSON reader accepts (Json.NET's default MaxDepth); deeper bodies are refused with 400."""
MAX_TAGS = 50
MAX_TAG_NAME = 512
MAX_TAG_VALUE = 256
_TAG_NAME_RESERVED = re.compile(r"[<>%&\\?/\x00-\x1f\x7f]")


class JsonBodyError(ValueError):
    """A body that is not strict JSON, or nests deeper than allowed (a ``ValueError`` for existing handlers)."""


def _no_constants(name: str) -> Any:
    raise JsonBodyError(f"Unexpected character encountered while parsing value: {name[0]}. "
                        f"'{name}' is not valid JSON.")


def _depth_exceeded(max_depth: int) -> JsonBodyError:
    return JsonBodyError(f"The reader's MaxDepth of {max_depth} has been exceeded.")


def loads(data: bytes | str, *, max_depth: int = MAX_JSON_DEPTH, strict: bool = True) -> Any:
    """Strict JSON (no ``NaN``/``Infinity``) nested at most ``max_depth`` deep, or ``JsonBodyError``."""
    try:
        doc = json.loads(data, parse_constant=_no_constants, strict=strict)
    except RecursionError:
        raise _depth_exceeded(max_depth) from None
    except JsonBodyError:
        raise
    except (ValueError, UnicodeDecodeError) as exc:
        raise JsonBodyError(str(exc)) from None
    _check_depth(doc, max_depth)
    return doc


def _check_depth(doc: Any, max_depth: int) -> None:
    """Iterative, so a deep document cannot exhaust the interpreter's stack while being measured."""
    stack: list[tuple[Any, int]] = [(doc, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children = node.values()
        elif isinstance(node, list):
            children = node  # type: ignore[assignment]
        else:
            continue
        if depth > max_depth:
            raise _depth_exceeded(max_depth)
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))


def invalid_content(detail: str) -> ArmError:
    return ArmError(400, "InvalidRequestContent",
                    f"The request content was invalid and could not be deserialized: '{detail}'.")


def request_too_large(limit: int = MAX_ARM_BODY) -> ArmError:
    return ArmError(413, "RequestEntityTooLarge",
                    f"The request content size exceeds the maximum size of {limit // (1024 * 1024)} MB "
                    f"({limit} bytes) allowed for a request.")


def check_tags(tags: Any) -> dict[str, str]:
    """ARM's tag rules, on PUT and PATCH alike; returns the tags as a new dict."""
    if tags is None:
        return {}
    if not isinstance(tags, dict):
        raise invalid_content(f"Error converting value of type '{type(tags).__name__}' to the tags dictionary; "
                              "'tags' must be a JSON object of string values. Path 'tags'")
    if len(tags) > MAX_TAGS:
        raise ArmError(400, "InvalidTags", f"Too many tags specified. Requested tag count - '{len(tags)}'. "
                                           f"Maximum number of tags allowed - '{MAX_TAGS}'.")
    for name, value in tags.items():
        if not isinstance(value, str):
            raise invalid_content(f"Unexpected value of type '{type(value).__name__}' for tag '{name[:64]}': "
                                  f"tag values must be strings. Path 'tags.{name[:64]}'")
    blank = [n for n in tags if not n.strip()]
    if blank:
        raise ArmError(400, "InvalidTagName", "The tag name must be non-null, non-empty and non-whitespace only. "
                                              "Please provide an actual value.")
    reserved = [n for n in tags if _TAG_NAME_RESERVED.search(n)]
    if reserved:
        raise ArmError(400, "InvalidTagNameCharacters",
                       f"The tag names '{', '.join(n[:64] for n in reserved)}' have reserved characters "
                       "'<,>,%,&,\\,?,/' or control characters.")
    long_names = [n for n in tags if len(n) > MAX_TAG_NAME]
    if long_names:
        raise ArmError(400, "InvalidTagName",
                       f"Tag name too large. The tag name '{long_names[0][:64]}...' has {len(long_names[0])} "
                       f"characters; the maximum allowed length for a tag name is '{MAX_TAG_NAME}' characters.")
    long_values = [(n, v) for n, v in tags.items() if len(v) > MAX_TAG_VALUE]
    if long_values:
        name, value = long_values[0]
        raise ArmError(400, "InvalidTagValueLength",
                       f"Tag value too large. The value of tag '{name[:64]}' has {len(value)} characters; "
                       f"the maximum allowed length for a tag value is '{MAX_TAG_VALUE}' characters.")
    return dict(tags)


_OBJECT_FIELDS = ("properties", "sku", "identity", "plan", "extendedLocation")


def check_resource_body(body: Any) -> dict[str, Any]:
    """Top-level shape of a resource PUT/PATCH body: an object, typed fields, valid tags."""
    if not isinstance(body, dict):
        raise invalid_content("Unexpected JSON token when reading the resource: a JSON object was expected. Path ''")
    for name in _OBJECT_FIELDS:
        if name in body and body[name] is not None and not isinstance(body[name], dict):
            raise invalid_content(f"Error converting value of type '{type(body[name]).__name__}' for '{name}': "
                                  f"a JSON object was expected. Path '{name}'")
    for name in ("location", "kind", "managedBy"):
        if name in body and body[name] is not None and not isinstance(body[name], str):
            raise invalid_content(f"Error converting value of type '{type(body[name]).__name__}' for '{name}': "
                                  f"a string was expected. Path '{name}'")
    if "tags" in body:
        check_tags(body["tags"])
    return body
