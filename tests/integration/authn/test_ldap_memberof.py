"""LdapAuthenticator against a real slapd WITH the memberof overlay: groups come from the user's
``memberOf`` attribute (the group search is switched off to prove it)."""

from __future__ import annotations

import dataclasses

from webmesh.authn.ldap import LdapAuthenticator, LdapSettings
from webmesh.authn.types import Credentials

SLAPD_MEMBEROF = True


async def test_groups_from_member_of(settings: LdapSettings) -> None:
    only_attribute = dataclasses.replace(settings, group_search=False)
    creds = Credentials(ldap_username="alice", ldap_password="alice-pw")
    identity = await LdapAuthenticator(only_attribute).authenticate(creds)
    assert identity is not None
    # memberof maintains memberOf for groupOfNames only (admins, mesh-voters).
    assert identity.groups == ("admins", "mesh-voters")


async def test_both_sources_are_merged_without_duplicates(settings: LdapSettings) -> None:
    creds = Credentials(ldap_username="alice", ldap_password="alice-pw")
    identity = await LdapAuthenticator(settings).authenticate(creds)
    assert identity is not None
    assert identity.groups == ("admins", "devs", "mesh-voters", "ops")
