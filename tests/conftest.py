"""Test options: --run-network enables live-vendor tests, --require-gpu turns gpu skips into failures."""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--run-network", action="store_true", help="run tests marked `network`")
    parser.addoption("--require-gpu", action="store_true", help="fail, not skip, gpu tests")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--run-network"):
        return
    skip = pytest.mark.skip(reason="live vendor call: pass --run-network (and set the API key)")
    for item in items:
        if "network" in item.keywords:
            item.add_marker(skip)


def skip_or_fail_gpu(config: pytest.Config, reason: str) -> None:
    """What a gpu test does when no device works: skip with the probe's reason, or fail."""
    if config.getoption("--require-gpu"):
        pytest.fail(f"--require-gpu given but no GPU works: {reason}")
    pytest.skip(reason)
