"""gRPC's process-wide settings, which its C core reads from the environment once, at import.

Every program of ours calls :func:`prepare` before anything imports ``grpc`` (the entry points
parse their flags first, then import the rest), because afterwards the environment is ignored:

- ``GRPC_DNS_RESOLVER=native``: host names resolve as the OS resolves them (``getaddrinfo``:
  ``/etc/hosts`` and the nsswitch order, as curl and ssh do). gRPC's default c-ares resolver asks
  DNS itself: in a container or an air-gapped host whose DNS server does not answer, a name that
  ``/etc/hosts`` maps (Docker ``--add-host``, Kubernetes ``hostAliases``) timed out. TLS is not
  affected: a channel still verifies the name the user wrote.
- ``GRPC_VERBOSITY``: the C core prints its own lines (``I1206 ... ssl_transport_security.cc]
  Handshake failed``) to stderr, ahead of the error we report in words. They are shown only with
  ``--global.log-level=debug`` (``--log-level=debug`` for wmctl).

A variable the user already set is left alone: ``GRPC_VERBOSITY=debug GRPC_TRACE=...`` still
reach gRPC for whoever needs its internals.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import MutableMapping, Sequence

RESOLVER = "GRPC_DNS_RESOLVER"
VERBOSITY = "GRPC_VERBOSITY"


def prepare(*, debug: bool, environ: MutableMapping[str, str] | None = None) -> bool:
    """Set gRPC's environment for this process; False when grpc was imported too early for it."""
    env = os.environ if environ is None else environ
    env.setdefault(RESOLVER, "native")
    env.setdefault(VERBOSITY, "INFO" if debug else "NONE")
    return "grpc" not in sys.modules


def debug_requested(argv: Sequence[str]) -> bool:
    """Whether a command line asks for ``--log-level debug`` (or ``--global.log-level``).

    For entry points that must know it before their full parser (and grpc) is loaded.
    """
    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    parser.add_argument("--log-level", "--global.log-level", dest="log_level", default="")
    known, _ = parser.parse_known_args(list(argv))
    return str(known.log_level).lower() == "debug"
