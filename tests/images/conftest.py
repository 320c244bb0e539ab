"""Image builds: root, buildah and a base image. In CI they must run, never skip."""

from __future__ import annotations

import os
import shutil

import pytest

from support import tiers


def missing() -> str:
    if os.geteuid() != 0:
        return "image builds need root (buildah --isolation chroot)"
    for tool, package in (("buildah", "buildah"), ("xz", "xz-utils")):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (Debian: apt-get install {package})"
    return ""


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    image_items = [item for item in items if "tests/images" in str(item.path)]
    tiers.require(image_items, missing(), what="image builds")
