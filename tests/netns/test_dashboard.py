"""The web view in a real browser: headless Chromium on this machine opens the page of a 5-node
mesh in namespaces (``Lab(uplink=True)`` routes this machine to the lab's LAN), sees every node,
sees a killed node turn offline, a new node and new policy appear without reloading, and keeps a
screenshot.

``WEBMESH_UPDATE_PICTURES=1`` also writes the screenshot to docs/images/dashboard.png, the
README's picture of the web view.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from support.netlab import QUICKSTART_FLAGS, Host, Lab
from support.wait import eventually

pytestmark = pytest.mark.netns

CHROMIUM = Path("/usr/bin/chromium")  # Debian's chromium and chromium-driver
CHROMEDRIVER = Path("/usr/bin/chromedriver")
PICTURE = Path(__file__).resolve().parents[2] / "docs" / "images" / "dashboard.png"
PORT = 8444  # --services.dashboard.listen-address's default
# A node is marked offline OFFLINE_AFTER (4 s) after the leader last saw it; the page hears of it
# at once. Generous bounds: CI shares two cores with everything else.
OFFLINE_WITHIN = 60.0
JOIN_WITHIN = 90.0


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[webdriver.Chrome]:
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if missing:  # a netns test must run in CI; elsewhere say loudly what to install
        message = f"{', '.join(missing)} missing: apt-get install chromium chromium-driver"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(f"BROWSER TEST SKIPPED: {message}")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in (
        "--headless=new",
        "--no-sandbox",  # we are root
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-proxy-server",
        "--window-size=1400,1000",
    ):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(
        executable_path=str(CHROMEDRIVER), log_output=str(tmp_path / "chromedriver.log")
    )
    driver = webdriver.Chrome(options=options, service=service)
    driver.set_page_load_timeout(30)
    driver.set_script_timeout(10)
    try:
        yield driver
    finally:
        driver.quit()


def start_mesh(lab: Lab) -> list[Host]:
    """server-1 bootstraps and serves the web view; four more join through it."""
    hosts = [lab.add_host(f"server-{i}") for i in range(1, 6)]
    hosts[0].node(*QUICKSTART_FLAGS, "--bootstrap.enabled", "--services.dashboard.enabled")
    hosts[0].wait_port(8443)
    hosts[0].wait_port(PORT)
    for host in hosts[1:]:
        join(host)
    return hosts


def join(host: Host) -> None:
    host.node(*QUICKSTART_FLAGS, "--mesh.join-address=server-1:8443")


def rows(driver: webdriver.Chrome) -> dict[str, str]:
    """Node id -> "true"/"false" (online), as the page's node table shows them now."""
    found = driver.find_elements(By.CSS_SELECTOR, "#nodes tbody tr[data-node]")
    return {r.get_attribute("data-node") or "": r.get_attribute("data-online") or "" for r in found}


def wait_for(
    driver: webdriver.Chrome, timeout: float, what: str, check: Callable[[webdriver.Chrome], bool]
) -> None:
    """A bounded wait on the page; on timeout, say what the node table showed."""
    try:
        WebDriverWait(driver, timeout, poll_frequency=0.25).until(check)
    except WebDriverException as exc:
        raise AssertionError(f"{what} within {timeout}s; the page shows {rows(driver)}") from exc


def graph(driver: webdriver.Chrome) -> dict[str, list[str]]:
    """Node id -> its classes in the page's graph (online/offline, exit, relay, leader)."""
    script = (
        "const cy = window.webmeshGraph; if (!cy) return {};"
        "const out = {}; cy.nodes().forEach(n => { out[n.id()] = n.classes(); }); return out;"
    )
    result: dict[str, list[str]] = driver.execute_script(script)
    return result


def test_the_web_view_follows_the_mesh_live(browser: webdriver.Chrome, tmp_path: Path) -> None:
    shot = tmp_path / "dashboard.png"
    with Lab("10.251.0", uplink=True) as lab:
        try:
            follow_the_mesh(lab, browser)
        except BaseException:
            print(lab.logs())  # pytest shows it with the failure
            raise
        finally:  # the picture of the page as it was at the end, passed or failed
            with contextlib.suppress(WebDriverException):  # never hide the failure itself
                browser.execute_script("window.scrollTo(0, 0)")
                browser.save_screenshot(str(shot))
    if os.environ.get("WEBMESH_UPDATE_PICTURES") == "1":
        PICTURE.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, PICTURE)


def follow_the_mesh(lab: Lab, browser: webdriver.Chrome) -> None:
    hosts = start_mesh(lab)
    names = {h.name for h in hosts}
    browser.get(f"http://{hosts[0].lan_ip}:{PORT}/")
    browser.execute_script("window.__marker = 1")  # gone if the page reloads
    wait_for(
        browser,
        JOIN_WITHIN,
        "every node online on the page",
        lambda d: rows(d) == dict.fromkeys(names, "true"),
    )
    assert browser.find_element(By.ID, "live").get_attribute("data-state") == "live"
    assert browser.find_element(By.ID, "count-nodes").get_attribute("data-count") == "5"
    eventually(lambda: set(graph(browser)) == names, timeout=10, what="every node in the graph")

    # a node killed outright turns offline on the page, without a reload
    gone = hosts[-1]
    gone.processes[-1].kill()
    wait_for(
        browser,
        OFFLINE_WITHIN,
        f"{gone.name} offline on the page",
        lambda d: rows(d).get(gone.name) == "false",
    )
    assert "offline" in graph(browser)[gone.name]
    assert browser.find_element(By.ID, "count-online").get_attribute("data-count") == "4"

    # a new node appears, online, without a reload
    join(lab.add_host("server-6"))
    wait_for(
        browser,
        JOIN_WITHIN,
        "server-6 online on the page",
        lambda d: rows(d).get("server-6") == "true",
    )
    eventually(lambda: "server-6" in graph(browser), timeout=10, what="server-6 in the graph")

    # policy shows up live too: a network ACL and a route
    server = hosts[0]
    server.wmctl("--insecure", "put", "networkacls", "mesh-wide", "--priority", "10",
                 "--src-node", "*", "--dst-node", "*", "--accept")  # fmt: skip
    server.wmctl("--insecure", "put", "routes", "office-lan", "--node", "server-2",
                 "--cidr", "192.168.50.0/24")  # fmt: skip
    for table, name in (("acls", "mesh-wide"), ("routes", "office-lan")):
        selector = f"#{table} tbody tr[data-name='{name}']"
        wait_for(browser, 30, f"{name} in the {table} table",
                 lambda d, s=selector: bool(d.find_elements(By.CSS_SELECTOR, s)))  # fmt: skip
    assert browser.execute_script("return window.__marker") == 1, "the page was reloaded"
    expected = {**dict.fromkeys(names, "true"), gone.name: "false", "server-6": "true"}
    assert rows(browser) == expected

    # the page runs under the server's strict CSP without an error or a violation
    errors = browser.execute_script("return window.__errors")
    assert errors == [], errors
    severe = [e for e in browser.get_log("browser") if e.get("level") == "SEVERE"]
    assert severe == [], severe
