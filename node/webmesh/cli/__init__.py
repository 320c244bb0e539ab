"""wmctl: the command line only (parsers, output, the config file's commands, ``wmctl connect``).

It talks to servers through the typed client (:mod:`webmesh.client`). May import webmesh.api
(the generated messages it prints) and the layers below; never the daemon.
"""
