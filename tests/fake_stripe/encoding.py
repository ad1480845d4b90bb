"""Stripe's request encoding: `application/x-www-form-urlencoded` with bracketed keys.

`a[b][c]=1` is a nested object, `items[0][price]=p` (or `items[][price]=p`) an array of objects,
`expand[]=x` / `expand[0]=x` an array of strings. An empty value (`pause_collection=`) is how the
SDK asks Stripe to clear a field, so it is kept as "" for the handlers to interpret.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl

from .errors import invalid_request

_KEY_PART = re.compile(r"\[([^\[\]]*)\]")


def split_key(key: str) -> list[str]:
    head, _, rest = key.partition("[")
    parts = [head]
    if rest:
        parts.extend(_KEY_PART.findall("[" + rest))
    return parts


def decode_form(raw: str | bytes) -> dict[str, Any]:
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8")
    return decode_pairs(parse_qsl(raw, keep_blank_values=True))


def decode_pairs(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Build the nested structure; arrays are dicts with integer-ish keys until `_listify`."""
    root: dict[str, Any] = {}
    for key, value in pairs:
        parts = split_key(key)
        node: Any = root
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            if part == "":
                # `a[]` appends: give the new element the next free index.
                part = str(len(node))
            if last:
                node[part] = value
            else:
                child = node.get(part)
                if not isinstance(child, dict):
                    child = {}
                    node[part] = child
                node = child
    return _listify(root)


def _listify(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    converted = {k: _listify(v) for k, v in node.items()}
    if converted and all(k.isdigit() for k in converted):
        return [converted[k] for k in sorted(converted, key=int)]
    return converted


def expand_list(params: dict[str, Any]) -> list[str]:
    value = params.get("expand")
    if value in (None, ""):
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [str(v) for v in value]
    raise invalid_request("Invalid array", param="expand")


def as_bool(value: Any, param: str) -> bool:
    if isinstance(value, bool):
        return value
    if value in ("true", "True", "1"):
        return True
    if value in ("false", "False", "0"):
        return False
    raise invalid_request(f"Invalid boolean: {value}", param=param)


def as_int(value: Any, param: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise invalid_request(f"Invalid integer: {value}", param=param)


def as_list(value: Any, param: str) -> list[Any]:
    if value in (None, ""):
        return []
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        raise invalid_request(f"Invalid array: {param} must be an array", param=param)
    return [value]


def metadata_update(current: dict[str, str], value: Any) -> dict[str, str]:
    """Stripe merges metadata: a key set to "" is removed, `metadata=""` clears everything."""
    if value == "":
        return {}
    if not isinstance(value, dict):
        raise invalid_request("Invalid metadata: must be an object", param="metadata")
    merged = dict(current)
    for key, item in value.items():
        if item == "":
            merged.pop(key, None)
        else:
            merged[key] = str(item)
    return merged
