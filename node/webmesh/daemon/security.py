"""Security from settings: the API's TLS credentials and call guard, this node's own client
credentials, and the policy a new mesh is bootstrapped with."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc

from webmesh import errors
from webmesh.api.security import CallGuard, server_credentials
from webmesh.authn.types import Authenticator, Chain
from webmesh.authz.acl import AclAction
from webmesh.authz.model import bootstrap_rbac
from webmesh.client.security import ClientSecurity
from webmesh.daemon.settings import Settings
from webmesh.mesh.objects import Kind, Policy
from webmesh.mesh.state import MeshState


def check(settings: Settings) -> None:
    """Refuse to start a secure node without what it needs, before anything is started."""
    if settings.global_.insecure:
        return
    api_credentials(settings)
    if not authenticators(settings):
        raise errors.InvalidArgument(
            "no authentication method: enable --global.mtls, "
            "--plugins.basic-auth.htpasswd-file or --plugins.ldap.server "
            "(or run a test mesh with --global.insecure)"
        )


def api_credentials(settings: Settings) -> grpc.ServerCredentials | None:
    g = settings.global_
    if g.insecure:
        return None
    return server_credentials(
        cert_file=g.tls_cert_file,
        key_file=g.tls_key_file,
        ca_file=g.tls_ca_file,
        require_client_cert=g.mtls,
    )


def authenticators(settings: Settings) -> list[Authenticator]:
    """The configured authenticators, in order. Each one's module (python-ldap and libldap, bcrypt,
    the certificate parsing) is imported only when it is configured: a node without LDAP does
    not carry the LDAP client (~8 MB resident)."""
    found: list[Authenticator] = []
    if settings.global_.mtls:
        from webmesh.authn.mtls import MtlsAuthenticator  # noqa: PLC0415

        found.append(MtlsAuthenticator())
    plugins = settings.plugins
    if plugins.basic_auth.htpasswd_file:
        from webmesh.authn.basic import HtpasswdAuthenticator  # noqa: PLC0415

        basic = HtpasswdAuthenticator(plugins.basic_auth.htpasswd_file)
        basic.load()
        found.append(basic)
    if plugins.ldap.server:
        from webmesh.authn.ldap import LdapAuthenticator, LdapSettings  # noqa: PLC0415

        ldap = plugins.ldap
        found.append(
            LdapAuthenticator(
                LdapSettings(
                    server=ldap.server,
                    bind_dn=ldap.bind_dn,
                    bind_password=ldap.bind_password,
                    user_base_dn=ldap.user_base_dn,
                    user_id_attribute=ldap.user_id_attribute,
                    group_attribute=ldap.group_attribute,
                    ca_file=ldap.ca_file,
                )
            )
        )
    return found


def call_guard(settings: Settings, state: Callable[[], MeshState]) -> CallGuard | None:
    if settings.global_.insecure:
        return None
    return CallGuard(Chain(authenticators(settings)), state)


def client_security(settings: Settings) -> ClientSecurity:
    """How this node calls other nodes: its own certificate doubles as its client certificate."""
    g, auth = settings.global_, settings.auth
    return ClientSecurity(
        insecure=g.insecure,
        ca_file=settings.tls.ca_file or g.tls_ca_file,
        insecure_skip_verify=settings.tls.insecure_skip_verify,
        server_name=settings.tls.server_name,
        cert_file=auth.mtls.cert_file or g.tls_cert_file,
        key_file=auth.mtls.key_file or g.tls_key_file,
        basic=(auth.basic.username, auth.basic.password),
        ldap=(auth.ldap.username, auth.ldap.password),
    )


def bootstrap_policy(settings: Settings, self_id: str) -> dict[str, Any]:
    """Keyword arguments of ``MembershipService.bootstrap``: the policy and the RBAC seed."""
    b = settings.bootstrap
    rbac = not (b.disable_rbac or settings.global_.insecure)
    policy = Policy(rbac_enabled=rbac, default_network_policy=AclAction(b.default_network_policy))
    if not rbac:
        return {"policy": policy, "seed": ()}
    seed = bootstrap_rbac(b.admin, (*b.voters, self_id))
    objects = (
        *((Kind.ROLE, r) for r in seed.roles),
        *((Kind.ROLEBINDING, rb) for rb in seed.rolebindings),
        *((Kind.GROUP, g) for g in seed.groups),
    )
    return {"policy": policy, "seed": objects}
