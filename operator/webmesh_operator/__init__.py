"""webmesh_operator: the Kubernetes operator of webmesh, for ``Mesh`` and ``Node`` resources.

It lives under the ``operator/`` source root (a package named ``operator`` would clash with the
standard library). See ``operator/DESIGN.md``: kopf handlers (:mod:`.handlers`) over a kopf-free
reconciler (:mod:`.reconcile`) over one Kubernetes API seam (:mod:`.k8s`) and pure pieces
(:mod:`.render`, :mod:`.validate`, :mod:`.status`, :mod:`.permissions`).
"""

from __future__ import annotations
