"""The defaults of the CRDs' schemas, applied in Python.

The API server applies the same defaults when it stores a resource; render applies them again so
that it can be called on a resource as written (in tests, or from an older stored version). Must
mirror ``crds/*.yaml``: a test compares the two.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

MESH_SPEC_DEFAULTS: Mapping[str, Any] = {
    "image": "webmesh-node:0.1.0",
    "imagePullPolicy": "IfNotPresent",
    "servers": 3,
    "ipv4Network": "172.16.0.0/12",
    "ipv6": True,
    "meshDomain": "webmesh.internal",
    "defaultNetworkPolicy": "accept",
    "logLevel": "info",
    "security": {"mode": "mtls"},
    "storage": {"size": "1Gi"},
    "scheduling": {},
    "externalAccess": {"type": "None"},
    "meshDNS": {"enabled": False, "forward": True},
}

# Objects without a default of their own (absent means "off") whose fields have defaults: the
# API server fills those in only when the object is given, and so does render.
MESH_OPTIONAL_DEFAULTS: Mapping[str, Mapping[str, Any]] = {
    "backup": {"interval": "1h", "retain": 24},
}

NODE_SPEC_DEFAULTS: Mapping[str, Any] = {
    "replicas": 1,
    "voter": False,
    "scheduling": {},
}


def _merge(defaults: Mapping[str, Any], given: Mapping[str, Any]) -> dict[str, Any]:
    """``given`` over ``defaults``, recursively for objects present in both."""
    merged = copy.deepcopy(dict(given))
    for key, default in defaults.items():
        if key not in merged or merged[key] is None:
            merged[key] = copy.deepcopy(default)
        elif isinstance(default, Mapping) and isinstance(merged[key], Mapping):
            merged[key] = _merge(default, merged[key])
    return merged


def _with_spec_defaults(resource: Mapping[str, Any], defaults: Mapping[str, Any]) -> dict[str, Any]:
    result = copy.deepcopy(dict(resource))
    result["spec"] = _merge(defaults, resource.get("spec") or {})
    return result


def mesh_with_defaults(mesh: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of the ``Mesh`` with every defaulted field of its spec filled in."""
    result = _with_spec_defaults(mesh, MESH_SPEC_DEFAULTS)
    spec = result["spec"]
    for key, defaults in MESH_OPTIONAL_DEFAULTS.items():
        if isinstance(spec.get(key), Mapping):
            spec[key] = _merge(defaults, spec[key])
    return result


def node_with_defaults(node: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of the ``Node`` with every defaulted field of its spec filled in."""
    return _with_spec_defaults(node, NODE_SPEC_DEFAULTS)
