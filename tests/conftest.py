"""Fixtures and hooks of the test suite.

The environment (DEEPFACE_HOME with the real weights linked, the network guard, the
helpers ``require``, ``real_weight``, ``recognition_model``, ...) is
``tests/support/environment.py``, a plugin pytest loads first (``-p
tests.support.environment`` in pyproject.toml), before this file and before any test
module imports deepface; test modules import its helpers from there, never from here.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.environment import WEIGHTS_DIR

#: test data, not tests: the upstream-style suite runs only inside `parity --upstream-tests`
collect_ignore = ["data"]


# -- shared fixtures ----------------------------------------------------------------------
@pytest.fixture(scope="session")
def weights_dir() -> Path:
    return WEIGHTS_DIR


@pytest.fixture(scope="session")
def engine() -> str:
    from deepface_batch import compat

    return compat.get().backend_engine()


def pytest_terminal_summary(terminalreporter):
    """Each distinct skip reason once, with its count: which backends did not run, and why."""
    reasons: dict[str, int] = {}
    for report in terminalreporter.stats.get("skipped", []):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        reason = reason.removeprefix("Skipped: ")
        reasons[reason] = reasons.get(reason, 0) + 1
    if reasons:
        terminalreporter.section("skipped, by reason")
        for reason, count in sorted(reasons.items()):
            terminalreporter.line(f"{count:4d} x {reason}")
