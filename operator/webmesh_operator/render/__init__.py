"""Pure rendering: a ``Mesh`` or ``Node`` resource (a dict) -> the manifests (dicts) it needs.

Imports the standard library and PyYAML only: no kopf, no kubernetes client, no I/O, no clock.
Every function is deterministic, so the output is golden-file tested. Manifests carry no owner
references and no namespace-independent state: the handlers add owner references and apply them.
"""

from __future__ import annotations

from webmesh_operator.render.defaults import mesh_with_defaults, node_with_defaults
from webmesh_operator.render.mesh import render_mesh
from webmesh_operator.render.node_group import render_node_group

__all__ = ["mesh_with_defaults", "node_with_defaults", "render_mesh", "render_node_group"]
