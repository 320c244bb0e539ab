"""webmesh: a WireGuard mesh network in which every node can also be a controller.

Sub-packages are layered (see node/DESIGN.md); import-linter enforces the layers.
"""

__version__ = "0.1.0"
