"""Upstream's analyze (its loop) against deepface_batch's, the one pass, and memory.

    DEEPFACE_BACKEND_ENGINE=onnx python benchmarks/bench_analyze.py --out report.md
    DEEPFACE_BACKEND_ENGINE=tensorflow python benchmarks/bench_analyze.py --all-four --out report.md

Speed (issue 22), in one process, on N same-size 640 x 480 video-like frames (0, 1 and 2
faces) through CenterFace (real weights), weights loaded and both paths warmed first:

- **emotion**: upstream's loop (``DeepFace.analyze`` one frame per call, unpatched)
  against ``deepface_batch.analyze(frames, actions=("emotion",))`` in the default mode, and
  with ``detect_without_border=True``;
- **all four actions** (``--all-four``): the same with emotion, age, gender and race, with
  where ours spends its time (detection against each model);
- **one pass**: ``represent(frames, actions=("emotion",))`` against our own ``represent``
  followed by our own ``analyze`` on the same frames;
- the largest score deviation from upstream's single-image result.

Memory: the peak resident memory of a fresh process that analyzes N inputs (one file path
repeated, detection ``skip``, emotion) with ``iter_analyze`` at ``batch_size=32``, for
several N. The attribute models have no real weights here: they are planted, seeded
(tests/support/planting.py); speed does not depend on the weights.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

# the attribute models are planted as Keras 2 (tf-keras) models, as deepface builds them
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
from _common import machine, planting, planting_home, weights_home, write_result

DETECTOR = "centerface"


def frames(n: int) -> list[np.ndarray]:
    from deepface_batch import samples

    base = samples.video_frames()
    # shift each frame a little, as consecutive video frames differ
    return [np.ascontiguousarray(np.roll(base[i % len(base)], 3 * i, axis=1)) for i in range(n)]


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def plant(models: list[str], engine: str) -> None:
    weights = planting_home()
    for model in models:
        planting.plant_recognition(model, engine, weights, task="facial_attribute")


def deviation(ours: list, upstream: list) -> float:
    worst = 0.0
    for got, want in zip(ours, upstream):
        for a, b in zip(got, want):
            for key, value in b.items():
                if isinstance(value, dict) and key != "region":
                    worst = max(worst, max(abs(float(a[key][k]) - float(v)) for k, v in value.items()))
    return worst


def bench_actions(actions: tuple[str, ...], images: list, batch_size: int, repeats: int) -> dict:
    import deepface_batch
    from deepface_batch import compat

    layer = compat.get()
    options = dict(actions=actions, detector_backend=DETECTOR, enforce_detection=False)
    layer.reference_analyze(images[0], **options)
    deepface_batch.analyze(images[:4], batch_size=batch_size, **options)
    deepface_batch.analyze(images[:4], batch_size=batch_size, detect_without_border=True, **options)
    row: dict = {"actions": ",".join(actions), "n": len(images)}
    for name, run in (
        ("upstream", lambda: [layer.reference_analyze(img, silent=True, **options) for img in images]),
        ("ours", lambda: deepface_batch.analyze(images, batch_size=batch_size, **options)),
        (
            "no_border",
            lambda: deepface_batch.analyze(images, batch_size=batch_size, detect_without_border=True, **options),
        ),
    ):
        times = []
        for _ in range(repeats):
            result, seconds = timed(run)
            times.append(seconds)
        row[name] = min(times)
        row[f"{name}_result"] = result
    row["deviation"] = deviation(row["ours_result"], row["upstream_result"])
    faces = sum(len(r) for r in row["upstream_result"])
    row["faces"] = faces
    # where ours spends its time: detection alone, then each model on the stack of faces
    detected, row["detect"] = timed(
        lambda: deepface_batch.extract_faces(images, detector_backend=DETECTOR, enforce_detection=False,
                                             batch_size=batch_size)
    )  # fmt: skip
    inputs = [layer.analyze_input(face) for entry in detected for face in entry if face["confidence"] > 0]
    stack = np.concatenate(inputs) if inputs else None
    for action in actions:
        client = layer.build_attribute_model(layer.ATTRIBUTE_MODELS[action])
        if stack is not None:
            _, seconds = timed(
                lambda c=client: [c.predict(stack[i : i + batch_size]) for i in range(0, len(stack), batch_size)]
            )
            _, single = timed(lambda c=client: [c.predict(stack[i : i + 1]) for i in range(min(8, len(stack)))])
            row[f"model_{action}"] = seconds
            row[f"model_{action}_single_ms"] = single / min(8, len(stack)) * 1000
    for key in ("upstream_result", "ours_result", "no_border_result"):
        del row[key]
    return row


def bench_one_pass(images: list, model: str, batch_size: int, repeats: int) -> dict:
    import deepface_batch

    common = dict(detector_backend=DETECTOR, enforce_detection=False, batch_size=batch_size)
    deepface_batch.represent(images[:4], model_name=model, actions=("emotion",), **common)
    row: dict = {"model": model, "n": len(images)}
    runs = {
        "one_pass": lambda: deepface_batch.represent(images, model_name=model, actions=("emotion",), **common),
        "two_calls": lambda: (
            deepface_batch.represent(images, model_name=model, **common),
            deepface_batch.analyze(images, actions=("emotion",), **common),
        ),
    }
    for name, run in runs.items():
        row[name] = min(timed(run)[1] for _ in range(repeats))
    return row


_MEMORY_CHILD = r"""
import json, sys
import deepface_batch
n, path, batch_size = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
options = dict(actions=("emotion",), detector_backend="skip")
deepface_batch.analyze([path], **options)  # model built, first call made

def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1]) / 1024

with open("/proc/self/clear_refs", "w") as refs:
    refs.write("5")  # reset the peak (VmHWM) to the current resident size
base = status("VmRSS")
count = 0
for entry in deepface_batch.iter_analyze((path for _ in range(n)), batch_size=batch_size, **options):
    count += 1
print(json.dumps({"count": count, "base_mib": base, "peak_mib": status("VmHWM")}))
"""


def bench_memory(sizes: list[int], batch_size: int) -> list[dict]:
    import cv2

    from deepface_batch import samples

    path = Path(tempfile.mkdtemp(prefix="deepface-batch-bench-mem-")) / "frame.jpg"
    cv2.imwrite(str(path), samples.video_frames()[0])
    rows = []
    for n in sizes:
        start = time.perf_counter()
        out = subprocess.run(
            [sys.executable, "-c", _MEMORY_CHILD, str(n), str(path), str(batch_size)],
            capture_output=True,
            text=True,
            env=os.environ,
            check=False,
        )
        if out.returncode != 0:
            rows.append({"n": n, "error": out.stderr.strip().splitlines()[-1]})
            continue
        result = json.loads(out.stdout.strip().splitlines()[-1])
        assert result["count"] == n
        rows.append({"n": n, "base": result["base_mib"], "peak": result["peak_mib"], "s": time.perf_counter() - start})
        print(f"memory n={n}: {rows[-1]}", file=sys.stderr)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=48)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--all-four", action="store_true", help="also all four actions (slow: three VGG models)")
    parser.add_argument("--one-pass-model", default="Facenet")
    parser.add_argument("--memory", default="250,500,1000,2000")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    weights_home()
    from deepface_batch import compat

    engine = compat.get().backend_engine()
    plant(["Emotion", *(["Age", "Gender", "Race"] if args.all_four else [])], engine)
    weights = planting_home()
    planting.plant_recognition(args.one_pass_model, engine, weights)
    images = frames(args.n)
    rows = [bench_actions(("emotion",), images, args.batch_size, args.repeats)]
    if args.all_four:
        rows.append(bench_actions(("emotion", "age", "gender", "race"), images, args.batch_size, 1))
    one_pass = bench_one_pass(images, args.one_pass_model, args.batch_size, args.repeats)
    memory = bench_memory([int(n) for n in args.memory.split(",")], args.batch_size) if args.memory else []

    lines = [
        f"## analyze, engine {engine} ({dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC)",
        "",
        f"`{' '.join(['python benchmarks/bench_analyze.py', *sys.argv[1:]])}`; {machine()}. {args.n} same-size "
        f"640 x 480 frames, {DETECTOR}, batch size {args.batch_size}; the best of {args.repeats} runs (all four: one). "
        "Attribute models on planted, seeded weights.",
        "",
        "| actions | faces | upstream's loop ms/frame | ours ms/frame | speed-up | without the border ms/frame | "
        "speed-up | largest score deviation (points) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in rows:
        n = row["n"]
        lines.append(
            f"| {row['actions']} | {row['faces']} | {row['upstream'] / n * 1000:.0f} | {row['ours'] / n * 1000:.0f} | "
            f"{row['upstream'] / row['ours']:.2f}x | {row['no_border'] / n * 1000:.0f} | "
            f"{row['upstream'] / row['no_border']:.2f}x | {row['deviation']:.2g} |"
        )
    lines += ["", "Where ours spends its time (seconds for the whole set):", ""]
    for row in rows:
        parts = [f"detection {row['detect']:.2f} s"] + [
            f"{a} {row[f'model_{a}']:.2f} s ({row[f'model_{a}_single_ms']:.1f} ms per face one at a time, "
            f"{row[f'model_{a}'] / max(1, row['faces']) * 1000:.1f} ms per face in stacks)"
            for a in row["actions"].split(",")
            if f"model_{a}" in row
        ]
        lines.append(f"- {row['actions']}: total {row['ours']:.2f} s; " + "; ".join(parts))
    lines += [
        "",
        f"One pass (`represent(frames, model_name={one_pass['model']!r}, actions=('emotion',))`) against our "
        f"`represent` then our `analyze`: {one_pass['one_pass']:.2f} s against {one_pass['two_calls']:.2f} s, "
        f"{one_pass['two_calls'] / one_pass['one_pass']:.2f}x.",
    ]
    if memory:
        lines += ["", "Peak resident memory of `iter_analyze` over N inputs (emotion, `skip`), MiB:", ""]
        lines += ["| N | before the run | peak | seconds |", "| ---: | ---: | ---: | ---: |"]
        for row in memory:
            if "error" in row:
                lines.append(f"| {row['n']} | failed: {row['error']} | | |")
            else:
                lines.append(f"| {row['n']} | {row['base']:.0f} | {row['peak']:.0f} | {row['s']:.0f} |")
    text = "\n".join(lines)
    print(text)
    if args.out:
        write_result(args.out, "# deepface-batch: batched analyze against upstream's loop\n\n", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
