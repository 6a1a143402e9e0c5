"""Upstream's represent (a loop, and its list call) against deepface_batch, and memory.

    DEEPFACE_BACKEND_ENGINE=onnx python benchmarks/bench_represent.py --out report.md
    DEEPFACE_BACKEND_ENGINE=tensorflow python benchmarks/bench_represent.py --models Facenet

Speed: N same-size 640 x 480 frames (0, 1 and 2 faces) through a detector with real
weights (CenterFace by default), in one process, warmed up: upstream's loop
(``represent`` one image per call, unpatched), upstream's list call (one call on the
whole list), and ``deepface_batch.represent`` on the list. Faces per second, the ratio to
upstream's loop, and the largest deviation of an embedding from upstream's single-image
one (relative to its largest component). Models without real weights here are planted
(tests/support/planting.py, seeded); speed does not depend on the weights.

Memory: peak resident memory of a fresh process that represents N inputs (a file path
repeated, so the input list itself costs nothing), for several N: upstream's list call
against ``iter_represent`` with ``batch_size=32`` consuming the results as they come.
Detection is ``skip`` there, so the curve shows the recognition side; the detector side is
bounded by the same batches.
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
from _common import machine, plant_recognition, weights_home

TOLERANCE_NOTE = "relative: largest component difference / largest component"


def frames(n: int) -> list[np.ndarray]:
    from deepface_batch import samples

    base = samples.video_frames()
    return [base[i % len(base)].copy() for i in range(n)]


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def bench_speed(model: str, detector: str, images: list, batch_size: int) -> dict:
    import deepface_batch
    from deepface_batch import compat, embedding

    layer = compat.get()
    options = dict(model_name=model, detector_backend=detector, enforce_detection=False)
    warm = images[:3]
    layer.reference_represent(warm, **options)  # builds, traces, warms both paths
    [layer.reference_represent(img, **options) for img in warm]
    deepface_batch.represent(warm, batch_size=batch_size, **options)

    loop, t_loop = timed(lambda: [layer.reference_represent(img, **options) for img in images])
    as_list, t_list = timed(lambda: layer.reference_represent(images, **options))
    ours, t_ours = timed(lambda: deepface_batch.represent(images, batch_size=batch_size, **options))

    tolerance = embedding.get_embedder(model).tolerance
    faces = sum(len(r) for r in loop)
    worst = 0.0
    for got, want in zip(ours, loop):
        assert [f["facial_area"] for f in got] == [f["facial_area"] for f in want]
        for a, b in zip(got, want):
            worst = max(worst, tolerance.deviation(a["embedding"], b["embedding"]))
    list_worst = max(
        tolerance.deviation(a["embedding"], b["embedding"])
        for got, want in zip(as_list, loop)
        for a, b in zip(got, want)
    )
    return {
        "model": model,
        "embedder": type(embedding.get_embedder(model)).__name__,
        "faces": faces,
        "loop_fps": faces / t_loop,
        "list_fps": faces / t_list,
        "ours_fps": faces / t_ours,
        "deviation": worst,
        "list_deviation": list_worst,
        "tolerance": tolerance.relative,
    }


_MEMORY_CHILD = r"""
import json, sys
import deepface_batch
from deepface_batch import compat
how, n, path, model, batch_size = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5])
options = dict(model_name=model, detector_backend="skip")
compat.get().represent_skip_faces  # the compat layer, imported
deepface_batch.represent([path], **options)  # model built, first call made

def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1]) / 1024

with open("/proc/self/clear_refs", "w") as refs:
    refs.write("5")  # reset the peak (VmHWM) to the current resident size
base = status("VmRSS")
if how == "upstream":
    results = compat.get().reference_represent([path] * n, **options)
    count = len(results)
else:
    count = 0
    for entry in deepface_batch.iter_represent((path for _ in range(n)), batch_size=batch_size, **options):
        count += 1
print(json.dumps({"count": count, "base_mib": base, "peak_mib": status("VmHWM")}))
"""


def bench_memory(model: str, sizes: list[int], batch_size: int) -> list[dict]:
    import cv2

    from deepface_batch import samples

    path = Path(tempfile.mkdtemp(prefix="deepface-batch-bench-mem-")) / "frame.jpg"
    cv2.imwrite(str(path), samples.video_frames()[0])
    rows = []
    for n in sizes:
        row = {"n": n}
        for how in ("upstream", "ours"):
            start = time.perf_counter()
            out = subprocess.run(
                [sys.executable, "-c", _MEMORY_CHILD, how, str(n), str(path), model, str(batch_size)],
                capture_output=True,
                text=True,
                env=os.environ,
                check=False,
            )
            if out.returncode != 0:
                row[how] = f"failed (exit {out.returncode}): {out.stderr.strip().splitlines()[-1]}"
                continue
            result = json.loads(out.stdout.strip().splitlines()[-1])
            assert result["count"] == n
            row[how] = result["peak_mib"]
            row[f"{how}_s"] = time.perf_counter() - start
            row["base"] = result["base_mib"]
        rows.append(row)
        print(f"memory {model} n={n}: {row}", file=sys.stderr)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="Facenet,Dlib")
    parser.add_argument("--detector", default="centerface")
    parser.add_argument("--n", type=int, default=48)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--memory-model", default="Facenet")
    parser.add_argument("--memory-sizes", default="250,500,1000,2000")
    parser.add_argument("--out", help="append the markdown report here")
    args = parser.parse_args()
    weights_home()
    models = args.models.split(",")
    plant_recognition(sorted(set(models) | {args.memory_model}))
    from deepface_batch import compat

    engine = compat.get().backend_engine()
    images = frames(args.n)
    rows = []
    for model in models:
        row = bench_speed(model, args.detector, images, args.batch_size)
        rows.append(row)
        print(f"{model}: {row}", file=sys.stderr)
    memory = bench_memory(args.memory_model, [int(s) for s in args.memory_sizes.split(",") if s], 32)

    report = [
        f"## {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC, {engine} engine",
        "",
        f"Machine: {machine()}.",
        f"Command: `DEEPFACE_BACKEND_ENGINE={engine} python benchmarks/bench_represent.py "
        f"--models {args.models} --detector {args.detector} --n {args.n} --batch-size {args.batch_size} "
        f"--memory-model {args.memory_model} --memory-sizes {args.memory_sizes}`.",
        "",
        f"### Speed: {args.n} same-size 640 x 480 frames, detector {args.detector}, "
        f"batch_size={args.batch_size}, enforce_detection=False",
        "",
        "| model | embedder | faces | upstream loop faces/s | upstream list call faces/s | ours faces/s | ours / loop | ours / list | max deviation (ours; upstream's list call) | tolerance |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |",
    ]
    for r in rows:
        report.append(
            f"| {r['model']} | {r['embedder']} | {r['faces']} | {r['loop_fps']:.1f} | {r['list_fps']:.1f} | "
            f"{r['ours_fps']:.1f} | **{r['ours_fps'] / r['loop_fps']:.2f}x** | {r['ours_fps'] / r['list_fps']:.2f}x | "
            f"{r['deviation']:.1e}; {r['list_deviation']:.1e} | {r['tolerance']:.0e} |"
        )
    report += [
        "",
        f"### Peak memory: {args.memory_model}, detector skip, one 640 x 480 JPEG repeated N times",
        "",
        "Peak resident memory (VmHWM, MiB) of a fresh process during the call, measured from a "
        "reset after the model was built and a first call made (its resident size then in the "
        "last column).",
        "",
        "| N inputs | upstream list call | ours, iter_represent, batch_size=32 | before the call |",
        "| ---: | ---: | ---: | ---: |",
    ]
    for m in memory:
        cells = [
            f"{m[k]:.0f}" if isinstance(m.get(k), float) else str(m.get(k, "-")) for k in ("upstream", "ours", "base")
        ]
        report.append(f"| {m['n']} | {' | '.join(cells)} |")
    text = "\n".join(report) + "\n"
    print(text)
    if args.out:
        with open(args.out, "a", encoding="utf-8") as handle:
            handle.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
