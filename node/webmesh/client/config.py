"""wmctl's kubeconfig-like file, as pure data: parse, change, redact, and resolve a context.

The file (``~/.wmctl/config.yaml``, ``--config``, ``$WMCTL_CONFIG``) names *clusters* (a server and
how to trust it), *users* (credentials) and *contexts* (a cluster with a user), and which context is
current. Reading and writing the file, and the ``wmctl config`` commands, are in
``webmesh.cli.config_cmd``; this module does no I/O so precedence and merging are unit-tested.

Precedence for every connection setting: a flag given on the command line, then the context's
value, then the built-in default. Relative file paths in the file are relative to the file.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

from webmesh import errors

REDACTED = "REDACTED"


class ConfigError(errors.InvalidArgument):
    """The config file is malformed, or names a context, cluster or user it does not define."""


@dataclass(frozen=True, slots=True)
class Cluster:
    name: str
    server: str = ""
    ca_file: str = ""
    insecure: bool = False
    insecure_skip_verify: bool = False
    server_name: str = ""  # the name in the server's certificate, when not the host of server


@dataclass(frozen=True, slots=True)
class User:
    name: str
    mtls_cert_file: str = ""
    mtls_key_file: str = ""
    basic_username: str = ""
    basic_password: str = ""
    ldap_username: str = ""
    ldap_password: str = ""


@dataclass(frozen=True, slots=True)
class Context:
    name: str
    cluster: str = ""
    user: str = ""


@dataclass(frozen=True, slots=True)
class Config:
    clusters: tuple[Cluster, ...] = ()
    users: tuple[User, ...] = ()
    contexts: tuple[Context, ...] = ()
    current_context: str = ""

    def cluster(self, name: str) -> Cluster | None:
        return next((c for c in self.clusters if c.name == name), None)

    def user(self, name: str) -> User | None:
        return next((u for u in self.users if u.name == name), None)

    def context(self, name: str) -> Context | None:
        return next((c for c in self.contexts if c.name == name), None)


# --- the file's shape <-> the dataclasses ------------------------------------------------------

# (attribute, YAML key path) for each setting; the YAML nests users' credentials by method.
_CLUSTER_KEYS = (
    ("server", ("server",)),
    ("ca_file", ("ca-file",)),
    ("insecure", ("insecure",)),
    ("insecure_skip_verify", ("insecure-skip-verify",)),
    ("server_name", ("server-name",)),
)
_USER_KEYS = (
    ("mtls_cert_file", ("mtls", "cert-file")),
    ("mtls_key_file", ("mtls", "key-file")),
    ("basic_username", ("basic", "username")),
    ("basic_password", ("basic", "password")),
    ("ldap_username", ("ldap", "username")),
    ("ldap_password", ("ldap", "password")),
)
_CONTEXT_KEYS = (("cluster", ("cluster",)), ("user", ("user",)))
_SECRETS = frozenset({"basic_password", "ldap_password"})


def _lookup(item: Mapping[str, Any], path: tuple[str, ...], where: str) -> Any:
    value: Any = item
    for key in path:
        if value is None:
            return None
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where}: {'.'.join(path)} must be a mapping")
        value = value.get(key)
    return value


def _entries(data: Mapping[str, Any], section: str) -> list[Mapping[str, Any]]:
    items = data.get(section) or []
    if not isinstance(items, list) or not all(isinstance(i, Mapping) for i in items):
        raise ConfigError(f"{section} must be a list of mappings with a name")
    names = [str(i.get("name") or "") for i in items]
    if "" in names:
        raise ConfigError(f"every entry of {section} needs a name")
    if len(set(names)) != len(names):
        raise ConfigError(f"{section} has two entries with the same name")
    return list(items)


def _build(cls: Any, item: Mapping[str, Any], keys: Any, section: str) -> Any:
    values: dict[str, Any] = {"name": str(item["name"])}
    for attribute, path in keys:
        value = _lookup(item, path, f"{section} {item['name']}")
        if value is None:
            continue
        expected = type(getattr(cls(name=""), attribute))
        if expected is bool and not isinstance(value, bool):
            raise ConfigError(f"{section} {item['name']}: {'.'.join(path)} must be true or false")
        values[attribute] = value if expected is bool else str(value)
    return cls(**values)


def from_dict(data: Any) -> Config:
    """Parse the file's YAML data (None or {} is an empty config)."""
    if data is None:
        return Config()
    if not isinstance(data, Mapping):
        raise ConfigError("the config file must be a mapping (clusters, users, contexts)")
    return Config(
        clusters=tuple(
            _build(Cluster, i, _CLUSTER_KEYS, "cluster") for i in _entries(data, "clusters")
        ),
        users=tuple(_build(User, i, _USER_KEYS, "user") for i in _entries(data, "users")),
        contexts=tuple(
            _build(Context, i, _CONTEXT_KEYS, "context") for i in _entries(data, "contexts")
        ),
        current_context=str(data.get("current-context") or ""),
    )


def _dump(obj: Any, keys: Any, *, redact: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"name": obj.name}
    for attribute, path in keys:
        value = getattr(obj, attribute)
        if not value:
            continue
        if redact and attribute in _SECRETS:
            value = REDACTED
        node = out
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = value
    return out


def to_dict(config: Config, *, redact: bool = False) -> dict[str, Any]:
    """The file's YAML data; with ``redact`` passwords read REDACTED (``wmctl config view``)."""
    return {
        "current-context": config.current_context,
        "clusters": [_dump(c, _CLUSTER_KEYS, redact=redact) for c in config.clusters],
        "users": [_dump(u, _USER_KEYS, redact=redact) for u in config.users],
        "contexts": [_dump(c, _CONTEXT_KEYS, redact=redact) for c in config.contexts],
    }


# --- changes (``wmctl config set-*``): only the given fields change, like kubectl's ------------


def _upsert(items: tuple[Any, ...], cls: Any, name: str, changes: Mapping[str, Any]) -> Any:
    given = {k: v for k, v in changes.items() if v is not None}
    found = next((i for i in items if i.name == name), None)
    updated = dataclasses.replace(found, **given) if found else cls(name=name, **given)
    if found is None:
        return (*items, updated)
    return tuple(updated if i.name == name else i for i in items)


def set_cluster(config: Config, name: str, **changes: Any) -> Config:
    return dataclasses.replace(config, clusters=_upsert(config.clusters, Cluster, name, changes))


def set_credentials(config: Config, name: str, **changes: Any) -> Config:
    return dataclasses.replace(config, users=_upsert(config.users, User, name, changes))


def set_context(config: Config, name: str, **changes: Any) -> Config:
    return dataclasses.replace(config, contexts=_upsert(config.contexts, Context, name, changes))


def use_context(config: Config, name: str) -> Config:
    if config.context(name) is None:
        raise ConfigError(f"no context {name!r} in the config; {_known(config)}")
    return dataclasses.replace(config, current_context=name)


def _known(config: Config) -> str:
    names = ", ".join(c.name for c in config.contexts)
    return f"known contexts: {names}" if names else "create one with `wmctl config set-context`"


# --- resolving a context into wmctl's settings --------------------------------------------------


@dataclass(frozen=True, slots=True)
class Settings:
    """What a context contributes, keyed like wmctl's parsed flags (``tls.ca_file``...)."""

    context: str = ""
    values: dict[str, Any] = field(default_factory=dict)


def _path(value: str, base: PurePath | None) -> str:
    if not value or base is None or PurePath(value).is_absolute():
        return value
    return str(base / value)


def resolve(config: Config, context_name: str = "", *, base: PurePath | None = None) -> Settings:
    """The settings of ``context_name`` (default: the current context), or none without one.

    ``base`` is the config file's directory: relative file names in the file are relative to it.
    """
    name = context_name or config.current_context
    if not name:
        return Settings()
    context = config.context(name)
    if context is None:
        raise ConfigError(f"no context {name!r} in the config; {_known(config)}")
    values: dict[str, Any] = {}
    if context.cluster:
        cluster = config.cluster(context.cluster)
        if cluster is None:
            raise ConfigError(f"context {name!r} names cluster {context.cluster!r}, not defined")
        values |= {
            "server": cluster.server,
            "tls.ca_file": _path(cluster.ca_file, base),
            "insecure": cluster.insecure,
            "tls.insecure_skip_verify": cluster.insecure_skip_verify,
            "tls.server_name": cluster.server_name,
        }
    if context.user:
        user = config.user(context.user)
        if user is None:
            raise ConfigError(f"context {name!r} names user {context.user!r}, not defined")
        values |= {
            "auth.mtls.cert_file": _path(user.mtls_cert_file, base),
            "auth.mtls.key_file": _path(user.mtls_key_file, base),
            "auth.basic.username": user.basic_username,
            "auth.basic.password": user.basic_password,
            "auth.ldap.username": user.ldap_username,
            "auth.ldap.password": user.ldap_password,
        }
    return Settings(name, {k: v for k, v in values.items() if v})


def merge(
    explicit: Mapping[str, Any], context: Mapping[str, Any], defaults: Mapping[str, Any]
) -> dict[str, Any]:
    """Flags given on the command line win over the context, which wins over the defaults."""
    return {**defaults, **context, **explicit}
