"""The node daemon: settings (flags, environment, YAML file) and webmesh-node's composition root.

The top layer: it may import every other webmesh package; nothing imports it.
"""
