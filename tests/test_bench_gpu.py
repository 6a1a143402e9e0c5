"""The GPU benchmark's plan, its budget and its estimate (benchmarks/gpu/bench_gpu.py), and
the files that say what the GPU machine has. benchmarks/gpu/rehearse runs the benchmark
itself; these check the arithmetic it and the real run print, and that the lists agree."""

from __future__ import annotations

import importlib.util
import math
import re
import sys
import time

import pytest

from tests.support.paths import REPO_ROOT

GPU = REPO_ROOT / "benchmarks" / "gpu"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_gpu", GPU / "bench_gpu.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("bench_gpu", module)
    spec.loader.exec_module(module)
    return module


def _names(path) -> set[str]:
    lines = [line.split("#")[0].strip() for line in path.read_text().splitlines()]
    return {re.sub(r"[-_.]+", "-", re.split(r"[=<>\[ ]", line)[0]).lower() for line in lines if line}


def test_groups_run_in_order_half_precision_after_its_model(bench):
    assert bench.planned(["yolov8n", "centerface"], ["Facenet"]) == [
        "yolov8n",
        "yolov8n half=True",
        "centerface",
        "represent Facenet",
    ]


def test_median_time_runs_every_repeat_without_a_limit_and_one_past_it(bench):
    calls = []
    _, _, runs = bench.median_time(lambda: calls.append(1), 3)
    assert runs == 3
    _, seconds, runs = bench.median_time(lambda: time.sleep(0.01), 3, until=time.perf_counter())
    assert runs == 1 and seconds >= 0.01


def test_steps_share_what_is_left(bench):
    now = time.perf_counter()
    assert bench.share(math.inf, 3) == math.inf
    assert bench.share(now + 10, 2) == pytest.approx(now + 5, abs=0.5)


def test_group_seconds_counts_loading_upstream_warm_ups_and_runs(bench):
    cost = {"load_s": 1.0, "upstream_s": 0.1, "ours_s": {"1": 0.2, "4": 0.05}}
    # 1 + upstream 0.1 x 16 + batch 1: 0.2 x (1 + 16) + batch 8 (at batch 4's cost): 0.05 x (8 + 16)
    assert bench.group_seconds(cost, 8, [1, 8], 2) == pytest.approx(7.2)
    half = {"load_s": 0.0, "ours_s": {"2": 0.1}}  # reuses upstream's results: no loop of its own
    assert bench.group_seconds(half, 4, [1], 1) == pytest.approx(0.1 * 5)


def test_estimate_is_capped_by_the_budget_and_says_whether_it_fits(bench):
    costs = {
        "measured": "2026-12-02 04:24 UTC",
        "machine": "a CPU",
        "engine": "pytorch",
        "install_s": 5.0,
        "start_s": 10.0,
        "groups": {"centerface": {"load_s": 1.0, "upstream_s": 1.0, "ours_s": {"1": 1.0}}},
    }
    groups = ["centerface", "mtcnn"]
    text = "\n".join(bench.estimate_lines(costs, 128, [1, 64], 3, groups, 420.0))
    assert "mtcnn" in text and "not measured by the rehearsal" in text
    assert "--budget 420 s caps" in text and "about 425 s" in text
    assert "fits a 10-minute command" in text and "it fits 15 minutes" in text
    uncapped = "\n".join(bench.estimate_lines(costs, 128, [1, 64], 3, groups, 0.0))
    assert "does NOT fit a 10-minute command" in uncapped
    assert "no rehearsal measured it" in bench.estimate_lines(None, 128, [1], 3, groups, 420.0)[0]


def test_the_rehearsal_installs_only_what_the_gpu_machine_has():
    there = _names(GPU / "gpu-machine-packages.txt")
    assert _names(GPU / "gpu-machine.txt") <= there


def test_stage_carries_only_what_the_gpu_machine_lacks():
    """Two versions of one distribution stop the install there (the device README)."""
    match = re.search(r"STAGED_WHEELS=\(([^)]*)\)", (GPU / "run").read_text())
    staged = {re.sub(r"[-_.]+", "-", w.split("==")[0]).lower() for w in match.group(1).split()}
    assert staged and not staged & _names(GPU / "gpu-machine-packages.txt")
