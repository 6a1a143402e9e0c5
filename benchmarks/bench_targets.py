"""Issue 16's CPU targets for ``detect_without_border=True``, end to end, with profiles.

    python benchmarks/bench_targets.py --out benchmarks/results/2026-11-25-cpu-targets.md
    python benchmarks/bench_targets.py --backends centerface,ssd --frames 16

Same-size 640 x 480 frames with small faces (tests/support/photos.py: deepface's photos
pasted at 1/3 to 1/6 of the frame height), one process. For each backend: upstream's own
loop (``detection.extract_faces`` one frame per call, its default ``align=True``: the
detector sees the bordered frame) against ``deepface_batch.extract_faces(frames,
detect_without_border=True)`` (batched, no border), both from decoded frames to result
dicts, after one warm-up call of each. The faces each side finds are counted and matched
(IoU at least 0.5, ``comparison.agreement``): the recall of upstream's faces on small
faces, for the backends with real weights. Where a backend misses its target (or
is slower than upstream's loop), a cProfile of our path says where the time goes.

Targets (issue 16): centerface >= 10x, retinaface and mtcnn >= 4x, opencv >= 2x, and no
backend slower than upstream's loop. RetinaFace and YOLO run on planted weights of the
real architectures (speed does not depend on the weights; their face counts mean
nothing and are not given).
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import io
import pstats
import sys
import time
from pathlib import Path

from _common import machine, plant_detectors, plant_recognition, weights_home, write_result  # root on sys.path

from tests.support import photos

TARGETS = {"centerface": 10.0, "retinaface": 4.0, "mtcnn": 4.0, "opencv": 2.0}
PLANTED = ("retinaface", "yolov8n")
DEFAULT = "opencv,ssd,yunet,centerface,dlib,mtcnn,fastmtcnn,retinaface,yolov8n"

HEADER = """# detect_without_border: issue 16's CPU targets (640 x 480 frames, end to end)

Written by `benchmarks/bench_targets.py` (its docstring has the method). Upstream's loop
with its default border against deepface-batch's batched path without it, from decoded
frames to result dicts; faces counted with a confidence above 0.

"""


def profile(fn, lines: int = 14) -> str:
    profiler = cProfile.Profile()
    profiler.enable()
    fn()
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out).sort_stats("tottime")
    stats.print_stats(lines)
    text = out.getvalue()
    start = text.find("   ncalls")
    return text[start:].rstrip() if start >= 0 else text.rstrip()


def measure(backend: str, frames: list, batch_size: int) -> dict:
    import deepface_batch
    from deepface_batch import compat

    layer = compat.get()
    kwargs = {"detector_backend": backend, "enforce_detection": False}
    layer.reference_extract_faces(frames[0], **kwargs)
    deepface_batch.extract_faces(frames[:2], detect_without_border=True, batch_size=batch_size, **kwargs)
    start = time.perf_counter()
    upstream = [layer.reference_extract_faces(frame, **kwargs) for frame in frames]
    upstream_s = time.perf_counter() - start
    start = time.perf_counter()
    ours = deepface_batch.extract_faces(frames, detect_without_border=True, batch_size=batch_size, **kwargs)
    ours_s = time.perf_counter() - start
    from deepface_batch import comparison

    matched = comparison.agreement(ours, upstream)
    row = {
        "backend": backend,
        "upstream_ms": 1000 * upstream_s / len(frames),
        "ours_ms": 1000 * ours_s / len(frames),
        "faces": None if backend in PLANTED else (matched.found, matched.found_here, matched.both),
        "missed": matched.missed,
    }
    row["speedup"] = row["upstream_ms"] / row["ours_ms"]
    target = TARGETS.get(backend, 1.0)
    row["target"] = target
    if row["speedup"] < target:
        row["profile"] = profile(
            lambda: deepface_batch.extract_faces(frames, detect_without_border=True, batch_size=batch_size, **kwargs)
        )
    return row


def represent_split(frames: list, batch_size: int, model_name: str, detector: str) -> dict:
    """Item 4: how much of a batched ``represent`` (default mode, with the border) is
    neither the detector pass nor the model: the per-face work left to remove."""
    import deepface_batch
    from deepface_batch import compat, embedding

    layer = compat.get()
    kwargs = {"detector_backend": detector, "enforce_detection": False}
    deepface_batch.represent(frames[:2], model_name=model_name, batch_size=batch_size, **kwargs)
    start = time.perf_counter()
    deepface_batch.represent(frames, model_name=model_name, batch_size=batch_size, **kwargs)
    total = time.perf_counter() - start
    start = time.perf_counter()
    faces = deepface_batch.extract_faces(frames, batch_size=batch_size, **kwargs)
    extract = time.perf_counter() - start
    embedder = embedding.get_embedder(model_name)
    import numpy as np

    inputs = np.concatenate(
        [layer.represent_input(face, embedder.input_shape, "base") for per in faces for face in per]
    )
    start = time.perf_counter()
    for i in range(0, len(inputs), batch_size):
        embedder.embed(inputs[i : i + batch_size])
    model = time.perf_counter() - start
    return {"total": total, "extract": extract, "model": model, "faces": len(inputs), "model_name": model_name}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default=DEFAULT)
    parser.add_argument("--frames", type=int, default=24)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--note", default="")
    parser.add_argument("--represent", default="Facenet", help="model for item 4's split ('' skips it)")
    parser.add_argument("--out")
    args = parser.parse_args()
    backends = args.backends.split(",")
    weights_home()
    plant_detectors(backends)
    if args.represent:
        plant_recognition([args.represent])
    frames = photos.small_face_frames(args.frames)
    assert {frame.shape for frame in frames} == {(480, 640, 3)}

    import deepface_batch
    from deepface_batch import compat

    rows, skipped = [], []
    for backend in backends:
        try:
            plugin = deepface_batch.get_detector(backend)
            plugin.check_available()
            plugin.prepare()
        except Exception as err:  # a backend this environment lacks: say so
            skipped.append(f"- {backend}: {type(err).__name__}: {err}")
            continue
        row = measure(backend, frames, args.batch_size)
        rows.append(row)
        print(
            f"{backend}: {row['upstream_ms']:.1f} -> {row['ours_ms']:.1f} ms/frame, {row['speedup']:.2f}x", flush=True
        )

    split = None
    if args.represent:
        plugin = deepface_batch.get_detector("centerface")
        plugin.prepare()
        split = represent_split(frames, args.batch_size, args.represent, "centerface")

    started = dt.datetime.now(dt.timezone.utc)
    lines = [
        f"## {started:%Y-%m-%d %H:%M} UTC, engine {compat.get().backend_engine()}",
        "",
        f"Machine: {machine()}. {args.frames} frames, batch_size {args.batch_size}. {args.note}",
        f"Command: `python benchmarks/bench_targets.py {' '.join(sys.argv[1:])}`",
        "",
        "| backend | upstream ms/frame | ours ms/frame | speed-up | target | speed met "
        "| faces upstream / ours / both | recall of upstream's faces |",
        "| --- | ---: | ---: | ---: | ---: | --- | --- | ---: |",
    ]
    for row in rows:
        if row["faces"] is None:
            faces, recall = "planted weights", "-"
        else:
            upstream_n, ours_n, both = row["faces"]
            faces = f"{upstream_n} / {ours_n} / {both}"
            recall = f"{both / upstream_n:.2f}" if upstream_n else "-"
        met = "yes" if row["speedup"] >= row["target"] else "**no**"
        lines.append(
            f"| {row['backend']} | {row['upstream_ms']:.1f} | {row['ours_ms']:.1f} | {row['speedup']:.2f}x "
            f"| {row['target']:.0f}x | {met} | {faces} | {recall} |"
        )
    missed = [f"- {row['backend']}: frame {i}, box {box}" for row in rows if row["faces"] for i, box in row["missed"]]
    if missed:
        lines += ["", "Faces upstream finds that ours does not (frame, x/y/w/h):", "", *missed]
    lines += ["", *skipped] if skipped else []
    if split is not None:
        rest = split["total"] - split["extract"] - split["model"]
        lines += [
            "",
            f"Item 4, batched `represent` ({split['model_name']}, centerface, default mode, "
            f"{split['faces']} faces): {1000 * split['total'] / len(frames):.1f} ms/frame in all, of which "
            f"extract_faces {1000 * split['extract'] / len(frames):.1f}, the model on the stacked faces "
            f"{1000 * split['model'] / len(frames):.1f}, and the rest (resizing, normalising and "
            f"stacking faces, result dicts) {1000 * rest / len(frames):.1f} "
            f"({100 * rest / split['total']:.0f} %).",
        ]
    for row in rows:
        if "profile" in row:
            lines += ["", f"### Where the time goes: {row['backend']} (ours, cProfile, by own time)", "", "```"]
            lines += [row["profile"], "```"]
    if args.out:
        write_result(Path(args.out), HEADER, "\n".join(lines) + "\n")
    else:
        print(HEADER + "\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
