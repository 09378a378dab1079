"""Packaging: the repository's top-level folders become subpackages of ``connector_watch``.

Everything else lives in ``pyproject.toml``; only this mapping needs code (a folder's packages are
found, not listed by hand).
"""

from setuptools import find_packages, setup

PARTS = ("daemon", "simulator", "sources", "tests")

package_dir = {"connector_watch": "connector_watch"}
packages = ["connector_watch"]
for part in PARTS:
    package_dir[f"connector_watch.{part}"] = part
    packages += [f"connector_watch.{part}"] + [f"connector_watch.{part}.{sub}" for sub in find_packages(part)]

setup(package_dir=package_dir, packages=packages)
