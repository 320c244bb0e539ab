"""What a WireGuard interface needs, said in words a user can act on."""

from __future__ import annotations

import pytest

from webmesh.wg import privileges

ROOT_STATUS = "Name:\tpython\nCapInh:\t0000000000000000\nCapEff:\t000001ffffffffff\n"
NO_NET_ADMIN = "CapEff:\t000001ffffffefff\n"  # bit 12 cleared
NOTHING = "CapEff:\t0000000000000000\n"


@pytest.mark.parametrize(
    ("status", "expected"),
    [(ROOT_STATUS, True), (NO_NET_ADMIN, False), (NOTHING, False), ("", False)],
)
def test_cap_net_admin_from_proc_status(status: str, expected: bool) -> None:
    assert privileges.has_capability(status, privileges.CAP_NET_ADMIN) is expected


def test_everything_present() -> None:
    assert privileges.missing(status_text=ROOT_STATUS, tun_exists=True, userspace=True) == []


def test_missing_capability_names_it_and_how_to_grant_it() -> None:
    (problem,) = privileges.missing(status_text=NO_NET_ADMIN, tun_exists=True, userspace=True)
    assert "CAP_NET_ADMIN" in problem
    assert "--cap-add NET_ADMIN" in problem
    assert "root" in problem


def test_missing_tun_only_matters_to_wireguard_go() -> None:
    assert privileges.missing(status_text=ROOT_STATUS, tun_exists=False, userspace=False) == []
    (problem,) = privileges.missing(status_text=ROOT_STATUS, tun_exists=False, userspace=True)
    assert "/dev/net/tun" in problem
