"""A small validator for the subset of OpenAPI v3 that our CRD schemas use.

Checks type, enum, minimum/maximum, minLength/maxLength, pattern, required, properties, items
and additionalProperties; an object without ``x-kubernetes-preserve-unknown-fields`` rejects
unknown fields, as ``kubectl apply`` does with its default ``--validate=strict``. ``format`` is
not checked. Also applies the schemas' defaults, as the API server does before it stores.
"""

from __future__ import annotations

import copy
import re
from typing import Any

_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "boolean": (bool,),
    "integer": (int,),
    "number": (int, float),
}


def validate(schema: dict[str, Any], value: Any, path: str = "") -> list[str]:
    """Every violation of ``schema`` by ``value``, as ``path: message``; empty when valid."""
    where = path or "<root>"
    expected = schema.get("type")
    if expected is not None:
        if isinstance(value, bool) and expected in ("integer", "number"):
            return [f"{where}: expected {expected}, got boolean"]
        if not isinstance(value, _TYPES[expected]):
            return [f"{where}: expected {expected}, got {type(value).__name__}"]
    errors: list[str] = []
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{where}: {value!r} not in {schema['enum']}")
    if "minimum" in schema and value < schema["minimum"]:
        errors.append(f"{where}: {value} < minimum {schema['minimum']}")
    if "maximum" in schema and value > schema["maximum"]:
        errors.append(f"{where}: {value} > maximum {schema['maximum']}")
    if isinstance(value, str):
        if "minLength" in schema and len(value) < schema["minLength"]:
            errors.append(f"{where}: shorter than {schema['minLength']}")
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            errors.append(f"{where}: longer than {schema['maxLength']}")
        if "pattern" in schema and not re.search(schema["pattern"], value):
            errors.append(f"{where}: {value!r} does not match {schema['pattern']}")
    if isinstance(value, dict):
        errors += _validate_object(schema, value, path)
    if isinstance(value, list) and "items" in schema:
        for index, item in enumerate(value):
            errors += validate(schema["items"], item, f"{path}[{index}]")
    return errors


def _validate_object(schema: dict[str, Any], value: dict[str, Any], path: str) -> list[str]:
    where = path or "<root>"
    errors = [f"{where}: missing {key!r}" for key in schema.get("required", ()) if key not in value]
    properties = schema.get("properties", {})
    extra = schema.get("additionalProperties")
    preserve = schema.get("x-kubernetes-preserve-unknown-fields", False)
    for key, item in value.items():
        where = f"{path}.{key}" if path else key
        if key in properties:
            errors += validate(properties[key], item, where)
        elif isinstance(extra, dict):
            errors += validate(extra, item, where)
        elif not preserve:
            errors.append(f"{where}: unknown field")
    return errors


def apply_defaults(schema: dict[str, Any], value: Any) -> Any:
    """A copy of ``value`` with the schema's defaults filled in, outermost first."""
    value = copy.deepcopy(value)
    if isinstance(value, dict):
        for key, item_schema in schema.get("properties", {}).items():
            if key not in value and "default" in item_schema:
                value[key] = copy.deepcopy(item_schema["default"])
            if key in value:
                value[key] = apply_defaults(item_schema, value[key])
    elif isinstance(value, list) and "items" in schema:
        value = [apply_defaults(schema["items"], item) for item in value]
    return value


def structural_problems(schema: dict[str, Any], path: str = "") -> list[str]:
    """Nodes without a type (structural schemas need one unless they preserve unknown fields)."""
    problems = []
    if "type" not in schema and not schema.get("x-kubernetes-preserve-unknown-fields"):
        problems.append(f"{path or '<root>'}: no type")
    if schema.get("additionalProperties") is False:
        problems.append(f"{path}: additionalProperties: false is not allowed in CRDs")
    if "properties" in schema and isinstance(schema.get("additionalProperties"), dict):
        problems.append(f"{path}: properties and additionalProperties are exclusive")
    for key, item in schema.get("properties", {}).items():
        problems += structural_problems(item, f"{path}.{key}")
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            problems += structural_problems(schema[key], f"{path}[{key}]")
    return problems
