"""The security settings of webmesh-node: TLS, client credentials, authentication plugins, and
the RBAC/ACL defaults of a new mesh. A table of its own, joined to the core table in
``settings``, so that each stays readable."""

from __future__ import annotations

import dataclasses

from webmesh.daemon import values
from webmesh.daemon.option import Option, bool_option


def _path(name: str, help_: str) -> Option:
    return Option(name, values.parse_optional_text, "", help_, kind="path", metavar="PATH")


def _text(name: str, help_: str, default: str = "", metavar: str = "TEXT") -> Option:
    return Option(name, values.parse_optional_text, default, help_, kind="string", metavar=metavar)


OPTIONS: tuple[Option, ...] = (
    _path("global.tls-cert-file", "Certificate this node serves its API with (PEM)."),
    _path("global.tls-key-file", "Key of --global.tls-cert-file (PEM)."),
    _path("global.tls-ca-file", "CA that signs client certificates (required with --global.mtls)."),
    bool_option("global.mtls", "Require a client certificate from the mesh CA on every call."),
    _path("tls.ca-file", "CA to verify the server with when joining or calling a mesh."),
    bool_option("tls.insecure-skip-verify", "Do not verify the server's certificate (unsafe)."),
    _text("tls.server-name",
          "Verify the certificate of the server at --mesh.join-address against NAME, not its "
          "host (a server behind a load balancer or node port).", metavar="NAME"),
    _path("auth.mtls.cert-file", "Client certificate to authenticate with (mTLS)."),
    _path("auth.mtls.key-file", "Key of --auth.mtls.cert-file."),
    _text("auth.basic.username", "User name for Basic authentication.", metavar="USER"),
    _text("auth.basic.password", "Password for Basic authentication.", metavar="PASSWORD"),
    _text("auth.ldap.username", "User name for LDAP authentication.", metavar="USER"),
    _text("auth.ldap.password", "Password for LDAP authentication.", metavar="PASSWORD"),
    _path("plugins.basic-auth.htpasswd-file",
          "Accept Basic authentication against this htpasswd file (bcrypt or SHA entries)."),
    _text("plugins.ldap.server", "Accept LDAP authentication against this directory.",
          metavar="ldap[s]://HOST[:PORT]"),
    _text("plugins.ldap.bind-dn", "DN of the service account that searches users.", metavar="DN"),
    _text("plugins.ldap.bind-password", "Password of the service account.", metavar="PASSWORD"),
    _text("plugins.ldap.user-base-dn", "Where users are searched.", metavar="DN"),
    _text("plugins.ldap.user-id-attribute", "Attribute holding the user name.", "uid", "ATTR"),
    _text("plugins.ldap.group-attribute", "Attribute listing a user's groups.", "memberOf",
          "ATTR"),
    _path("plugins.ldap.ca-file", "CA of the directory's certificate (ldaps://)."),
    _text("bootstrap.admin", "User (and node) bound to the mesh-admin role of a new mesh.",
          "admin", "NAME"),
    Option("bootstrap.voters", values.parse_text, "",
           "Nodes put in the voters group of a new mesh (allowed to join as voters).",
           kind="list of node ids", metavar="ID[,...]", is_list=True),
    bool_option("bootstrap.disable-rbac", "Create the mesh without RBAC (test meshes only)."),
    Option("bootstrap.default-network-policy", values.one_of("accept", "deny"), "accept",
           "What network ACLs decide when none matches.", kind="accept|deny", metavar="POLICY"),
)  # fmt: skip


@dataclasses.dataclass(frozen=True, slots=True)
class TlsSettings:
    """``tls.*``: how this node (as a client) verifies the servers it calls."""

    ca_file: str
    insecure_skip_verify: bool
    server_name: str


@dataclasses.dataclass(frozen=True, slots=True)
class MtlsCredentials:
    cert_file: str
    key_file: str


@dataclasses.dataclass(frozen=True, slots=True)
class PasswordCredentials:
    username: str
    password: str


@dataclasses.dataclass(frozen=True, slots=True)
class AuthSettings:
    """``auth.*``: the credentials this node presents when it joins or calls a mesh."""

    mtls: MtlsCredentials
    basic: PasswordCredentials
    ldap: PasswordCredentials


@dataclasses.dataclass(frozen=True, slots=True)
class BasicAuthPlugin:
    htpasswd_file: str


@dataclasses.dataclass(frozen=True, slots=True)
class LdapPlugin:
    server: str
    bind_dn: str
    bind_password: str
    user_base_dn: str
    user_id_attribute: str
    group_attribute: str
    ca_file: str


@dataclasses.dataclass(frozen=True, slots=True)
class PluginSettings:
    """``plugins.*``: the authentication methods this node's API accepts."""

    basic_auth: BasicAuthPlugin
    ldap: LdapPlugin


SECTION_TYPES = {
    "tls": TlsSettings,
    "auth": AuthSettings,
    "auth.mtls": MtlsCredentials,
    "auth.basic": PasswordCredentials,
    "auth.ldap": PasswordCredentials,
    "plugins": PluginSettings,
    "plugins.basic-auth": BasicAuthPlugin,
    "plugins.ldap": LdapPlugin,
}
