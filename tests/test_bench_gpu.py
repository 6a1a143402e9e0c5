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


def test_analyze_rows_run_last_one_group_per_set_of_actions(bench):
    analyses = bench.parse_analyze(bench.ANALYZE)
    assert analyses == [("emotion",), ("emotion", "age", "gender", "race")]
    groups = bench.planned(["centerface"], ["Facenet"], analyses)
    assert groups == ["centerface", "represent Facenet", "analyze emotion", "analyze emotion,age,gender,race"]
    assert [bench.analyze_actions(g) for g in groups] == [None, None, *analyses]


def test_analyze_option_keeps_order_drops_repeats_and_names_an_unknown_action(bench):
    assert bench.parse_analyze("") == bench.parse_analyze(" ; ") == []
    assert bench.parse_analyze("age, emotion;all;emotion,age,gender,race;age,age") == [
        ("age", "emotion"),
        bench.ACTIONS,
        ("age",),
    ]
    with pytest.raises(ValueError, match="unknown action 'smile'.*available: emotion, age, gender, race, or all"):
        bench.parse_analyze("emotion;smile")


def _face(x: int, happy: float, age: int = 30) -> dict:
    region = {"x": x, "y": 0, "w": 10, "h": 10, "left_eye": None, "right_eye": None}
    scores = {"happy": happy, "sad": 100.0 - happy}
    dominant = max(scores, key=scores.get)
    return {"emotion": scores, "dominant_emotion": dominant, "age": age, "region": region, "face_confidence": 0.9}


def test_analyze_deviation_is_the_largest_score_difference_beside_the_tolerance(bench):
    from deepface_batch.analysis import ATTRIBUTE_TOLERANCE

    tolerance = ATTRIBUTE_TOLERANCE["pytorch"]  # 0.005 points, 1 year
    upstream = [[_face(0, 60.0), _face(20, 10.0)], [_face(0, 50.0)], []]
    ours = [[_face(0, 60.004), _face(20, 10.0, age=31)], [_face(0, 50.0)], []]
    compared = bench.compare_analyses(ours, upstream, tolerance)
    assert compared == {"score": pytest.approx(0.004), "regions_differ": 0, "outside": 0}
    # a score past the tolerance, an age two years off, a face elsewhere (not compared)
    ours = [[_face(0, 60.01), _face(20, 10.0, age=32)], [_face(1, 0.0)], []]
    compared = bench.compare_analyses(ours, upstream, tolerance)
    assert compared == {"score": pytest.approx(0.01), "regions_differ": 1, "outside": 2}


def _analyze_row(bench, batch_size: int, ratio: float, actions: str = "emotion") -> dict:
    row = {"actions": actions, "detector": bench.TARGET_DETECTOR, "batch_size": batch_size, "ratio": ratio}
    return {**row, "device": "torch cuda:0"}


def test_analyze_target_is_judged_on_emotion_at_batch_32_and_on_a_gpu_only(bench):
    rows = [_analyze_row(bench, 8, 12.0), _analyze_row(bench, 32, 11.0), _analyze_row(bench, 64, 9.0, "age")]
    assert "(issue 22): **holds**, 11.00x at batch_size 32" in bench.analyze_target_line(rows, on_gpu=True)
    assert "**does not hold**, 9.50x" in bench.analyze_target_line([_analyze_row(bench, 64, 9.5)], on_gpu=True)
    cpu = bench.analyze_target_line(rows, on_gpu=False)
    assert "not judged on the CPU; 11.00x at batch_size 32" in cpu and "holds" not in cpu
    small = bench.analyze_target_line(rows[:1], on_gpu=True)
    assert "not judged, no batch_size >= 32 measured (best measured: 12.00x at batch_size 8)" in small
    assert "not judged, no batch_size >= 32 measured." in bench.analyze_target_line([], on_gpu=True)


def test_represent_target_line_is_unchanged_by_the_analyze_one(bench):
    rows = [{"model": "Facenet", "detector": "yolov8n", "batch_size": 32, "ratio": 10.5, "device": "torch cuda:0"}]
    assert bench.target_line(rows, on_gpu=True) == (
        "- yolov8n + Facenet represent at batch_size >= 32, at least 10x upstream's loop on a GPU: "
        "**holds**, 10.50x at batch_size 32 (torch cuda:0)."
    )


def test_a_failed_analyze_is_a_failure_and_faces_outside_the_tolerance_a_result(bench):
    state = {
        "outcomes": {"analyze emotion": ("measured", ""), "analyze emotion,age,gender,race": ("failed", "OSError")},
        "detector_rows": [],
        "analyze_rows": [{"actions": "emotion", "batch_size": 8, "outside": 2}, {"actions": "all", "skipped": "x"}],
    }
    lines, failures = bench.outcome_lines(state)
    assert failures == 1
    assert "analyze emotion batch 8: 2 faces outside the engine's declared tolerance" in "\n".join(lines)


def test_the_estimate_counts_the_analyze_rows(bench):
    costs = {
        "measured": "2026-12-02 04:24 UTC",
        "machine": "a CPU",
        "engine": "pytorch",
        "install_s": 0.0,
        "start_s": 0.0,
        "groups": {"analyze emotion": {"load_s": 2.0, "upstream_s": 0.5, "ours_s": {"1": 0.25}}},
    }
    groups = bench.planned([], [], bench.parse_analyze(bench.ANALYZE))
    text = "\n".join(bench.estimate_lines(costs, 4, [1], 1, groups, 0.0))
    # 2 + upstream 0.5 x 4 + batch 1: 0.25 x (1 + 4)
    assert re.search(r"analyze emotion +5 s", text)
    assert re.search(r"analyze emotion,age,gender,race +not measured by the rehearsal", text)


def test_the_report_has_the_analyze_rows_their_weights_and_the_target(bench):
    import argparse
    import datetime as dt

    measured = {
        **_analyze_row(bench, 32, 3.0),
        "runs": 1,
        "upstream_runs": 1,
        "faces": 4,
        "upstream_ips": 1.0,
        "ours_ips": 3.0,
        "deviation": 0.0007,
        "tolerance": 0.005,
        "regions_differ": 0,
        "outside": 0,
    }
    failed = {"actions": "emotion,age,gender,race", "detector": "yolov8n", "skipped": "OSError: no"}
    failed["outcome"] = "failed"
    state = {
        "args": argparse.Namespace(cpu=True, repeats=3, budget=0.0, installed_in=None),
        "n": 8,
        "on_gpu": False,
        "existing": "",
        "planted": {"Emotion", "Facenet", "yolov8n"},
        "real": set(),
        "attribute_models": ["Emotion", "Age"],
        "weights_source": "nowhere",
        "started": dt.datetime(2026, 12, 2, tzinfo=dt.timezone.utc),
        "engine": "pytorch",
        "engine_why": "--engine",
        "machine": "a CPU",
        "devices": [],
        "command": "benchmarks/gpu/run --cpu",
        "python_command": "python benchmarks/gpu/bench_gpu.py --cpu",
        "detector_rows": [],
        "represent_rows": [],
        "analyze_rows": [measured, failed],
        "notes": [],
        "threshold": None,
        "elapsed": None,
        "done": True,
    }
    text = bench.render(state)
    assert "| emotion | yolov8n | torch cuda:0 | 32 | 4 | 1.0 | 3.0 | **3.00x** | 7.0e-04 | 0.005 | 0 | 0 |" in text
    assert "| emotion,age,gender,race | yolov8n | | | | | | | **failed**: OSError: no | | | |" in text
    assert "analyze (emotion) at batch_size >= 32, at least 10x upstream's loop on a GPU (issue 22): not judged" in text
    assert "planted attribute models (Emotion: " in text
    assert "Timed fewer than 3 times to keep within the budget of 0 s: analyze emotion batch 32 (1, " in text


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
