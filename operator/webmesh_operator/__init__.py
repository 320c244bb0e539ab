"""webmesh_operator: the Kubernetes operator of webmesh, for ``Mesh`` and ``Node`` resources.

It lives under the ``operator/`` source root (a package named ``operator`` would clash with the
standard library). :mod:`webmesh_operator.render` is pure (spec -> manifest dicts) and must not
import kopf, kubernetes or anything that does I/O; the kopf handlers and the single Kubernetes
API seam come with later steps of the Kubernetes issue.
"""

from __future__ import annotations
