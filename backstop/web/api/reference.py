"""The human-readable API reference: each operation of the OpenAPI document with its prose
rendered from Markdown, a curl command to try it and an example answer built from its schema."""

from __future__ import annotations

import json
from typing import Any

from markdown_it import MarkdownIt
from markupsafe import Markup

# Raw HTML in descriptions stays text: only Markdown becomes markup.
_MD = MarkdownIt("commonmark", {"html": False, "linkify": False})

# What a path parameter looks like in an example.
PATH_EXAMPLES = {"customer_id": "cus_NffrFeUfNV2Hib", "campaign_id": "42"}

_STRING_EXAMPLES = {
    "id": "cus_NffrFeUfNV2Hib",
    "email": "dana@example.com",
    "customer_email": "dana@example.com",
    "name": "Dana Scully",
    "customer_name": "Dana Scully",
    "currency": "usd",
    "workspace": "acme",
    "brand": "visa",
    "last4": "4242",
    "status": "active",
    "plan_name": "Pro",
    "price_id": "price_1PqPro",
    "product_id": "prod_PqPro",
    "interval": "month",
    "payment_method": "pm_1PqCard",
    "behavior": "void",
    "tags": "vip",
    "invoice_id": "in_1PqInvoice",
    "subscription_id": "sub_1PqSub",
    "customer_id": "cus_NffrFeUfNV2Hib",
    "decline_code": "insufficient_funds",
}
_ID_PREFIX = {"subscription": "sub_1PqSub", "customer": "cus_NffrFeUfNV2Hib", "invoice": "in_1PqInvoice"}


def markdown(text: str | None) -> Markup:
    return Markup(_MD.render(text or ""))  # noqa: S704 - markdown-it escapes; raw HTML is off


def markdown_inline(text: str | None) -> Markup:
    return Markup(_MD.renderInline(text or ""))  # noqa: S704 - as above


def _resolve(schema: dict, components: dict) -> dict:
    ref = schema.get("$ref")
    if ref and ref.startswith("#/components/schemas/"):
        return components.get(ref.rsplit("/", 1)[1], {})
    return schema


def example(schema: dict, components: dict, name: str = "", depth: int = 0) -> Any:
    """A plausible value for ``schema``: its own example when it has one, else one by type."""
    schema = _resolve(schema or {}, components)
    if "example" in schema:
        return schema["example"]
    if schema.get("examples"):
        first = schema["examples"]
        return first[0] if isinstance(first, list) else next(iter(first.values()), None)
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    for key in ("oneOf", "anyOf", "allOf"):
        options = [o for o in schema.get(key, []) if _resolve(o, components).get("type") != "null"]
        if options:
            return example(options[0], components, name, depth)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    if depth > 5:
        return None
    if kind == "object" or "properties" in schema:
        out = {
            key: example(value, components, key, depth + 1)
            for key, value in (schema.get("properties") or {}).items()
        }
        if isinstance(out.get("id"), str) and out.get("object") in _ID_PREFIX:
            out["id"] = _ID_PREFIX[out["object"]]
        return out
    if kind == "array":
        return [example(schema.get("items") or {}, components, name, depth + 1)]
    if kind == "integer":
        if "amount" in name or name.endswith("mrr"):
            return 4900
        if name in ("created", "trial_end", "resumes_at") or name.endswith(("_start", "_end", "_at")):
            return 1772357400
        return {"exp_month": 8, "exp_year": 2030, "last4": 4242}.get(name, 1)
    if kind == "number":
        return 0.7
    if kind == "boolean":
        return False
    if kind == "string":
        if schema.get("format") == "date-time" or name.endswith("_at"):
            return "2026-03-01T09:30:00+00:00"
        return _STRING_EXAMPLES.get(name, name or "text")
    return None


def operations(schema: dict, public_url: str) -> list[dict]:
    components = (schema.get("components") or {}).get("schemas") or {}
    out = []
    for path, ops in (schema.get("paths") or {}).items():
        for method, op in ops.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            url_path = path
            for key, value in PATH_EXAMPLES.items():
                url_path = url_path.replace("{" + key + "}", value)
            curl = f'curl -H "Authorization: Bearer $BACKSTOP_TOKEN" {public_url}{url_path}'
            ok = (op.get("responses") or {}).get("200") or {}
            body = ((ok.get("content") or {}).get("application/json") or {}).get("schema")
            value = example(body, components) if body else None
            answer = json.dumps(value, indent=2) if value else None  # nothing to show for {}
            out.append(
                {
                    "id": f"{method}-{path}".replace("/", "-").replace("{", "").replace("}", "").strip("-"),
                    "method": method.upper(),
                    "path": path,
                    "op": op,
                    "curl": curl,
                    "example": answer,
                }
            )
    return out
