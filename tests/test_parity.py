"""``deepface-batch parity --upstream-tests``: upstream's tests unpatched, then patched.

Run on ``tests/data/upstream-style-tests``, a small suite written as deepface's own
``tests/unit`` is (real weights: opencv, ssd, Dlib), in which exactly one test fails once
deepface is patched, on purpose.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from deepface_batch import parity
from tests.support.environment import recognition_model

SUITE = Path(__file__).resolve().parent / "data" / "upstream-style-tests"
BROKEN = "test_upstream_style::test_extract_faces_is_upstreams_own_function"


def test_the_report_names_each_test_the_patch_breaks_and_no_other():
    recognition_model("Dlib")  # the suite embeds and verifies with Dlib: real weights, or a skip
    run = subprocess.run(
        [sys.executable, "-m", "deepface_batch", "parity", "--upstream-tests", str(SUITE), "-q"],
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ},
    )
    assert run.returncode == 1, run.stdout + run.stderr
    lines = run.stdout.splitlines()
    assert lines[0] == f"Upstream's tests in {SUITE}, unpatched and then patched by deepface-batch."
    assert "- unpatched: 7 passed" in run.stdout, run.stdout
    assert "- patched: 1 failed, 6 passed" in run.stdout, run.stdout
    assert "- 1 pass unpatched and fail patched:" in run.stdout
    broken = [line for line in lines if line.startswith("  - `")]
    assert len(broken) == 1 and broken[0].startswith(f"  - `{BROKEN}`: failed: "), broken


def test_outcomes_are_read_from_pytests_junit_report(tmp_path):
    junit = tmp_path / "run.xml"
    junit.write_text(
        '<testsuites><testsuite name="pytest">'
        '<testcase classname="test_a" name="test_ok" />'
        '<testcase classname="test_a" name="test_bad"><failure message="assert 1 == 2" /></testcase>'
        '<testcase classname="test_a.TestC" name="test_skip[x]"><skipped message="no GPU" /></testcase>'
        '<testcase classname="test_a" name="test_err"><error message="fixture broke" /></testcase>'
        "</testsuite></testsuites>"
    )
    outcomes = parity._outcomes(junit)
    assert {t: o.outcome for t, o in outcomes.items()} == {
        "test_a::test_ok": "passed",
        "test_a::test_bad": "failed",
        "test_a.TestC::test_skip[x]": "skipped",
        "test_a::test_err": "error",
    }
    assert outcomes["test_a::test_bad"].message == "assert 1 == 2"


def test_a_test_broken_or_not_run_when_patched_is_reported():
    passed = parity.TestOutcome("t::a", "passed")
    report = parity.UpstreamTestsReport(
        "here",
        unpatched={"t::a": passed, "t::b": parity.TestOutcome("t::b", "passed"), "t::c": passed},
        patched={"t::a": passed, "t::b": parity.TestOutcome("t::b", "error", "boom")},
    )
    assert [after.test for _, after in report.broken] == ["t::b", "t::c"]
    assert "not run when patched" in report.markdown()


def test_a_missing_folder_is_a_usage_error(tmp_path):
    run = subprocess.run(
        [sys.executable, "-m", "deepface_batch", "parity", "--upstream-tests", str(tmp_path / "nope")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 2 and "no folder of tests at" in run.stderr
