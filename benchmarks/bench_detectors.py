"""Upstream's one-image-per-call loop against deepface_batch, per detector backend.

    python benchmarks/bench_detectors.py                       # ssd, centerface, yunet, opencv
    python benchmarks/bench_detectors.py --backends ssd --n 32 --profile

For each backend and each of two sets (N same-size 640 x 480 video-like frames with 0, 1
and 2 faces; N images of mixed sizes), in one process: upstream's loop
(``detection.extract_faces`` one image per call, unpatched, defaults: align=True), ours
(``deepface_batch.extract_faces`` on the whole list), and the detector alone on the same,
already bordered, images: one image per call (upstream's detector) and the plugin's
``detect_batch`` (the limit the pipeline can approach). It
reports images per second, the ratio, and the largest deviation from upstream's results.
Weights come from $DEEPFACE_HOME, else ../shared/weights beside the checkout (or
$DEEPFACE_BATCH_WEIGHTS; see tests/support/paths.py).
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import io
import os
import pstats
import sys
import time
from pathlib import Path

import numpy as np
from _common import (  # root on sys.path
    PLANTED_FACES_PER_IMAGE,
    machine,
    plant_detectors,
    planted_threshold,
    weights_home,
)

#: backends running on planted weights in this process
PLANTED: set[str] = set()
#: faces per image the threshold of a planted model is set to give, as real frames have


def same_size_set(n: int) -> list[np.ndarray]:
    from deepface_batch import samples

    frames = samples.video_frames()
    # shift each frame a little, as consecutive video frames differ
    return [np.ascontiguousarray(np.roll(frames[i % len(frames)], 3 * i, axis=1)) for i in range(n)]


def mixed_set(n: int) -> list[np.ndarray]:
    import cv2

    from deepface_batch import samples

    rng = np.random.default_rng(0)
    base = samples.mixed_images()
    out = []
    for i in range(n):
        img = base[i % len(base)]
        scale = rng.uniform(0.6, 1.2)
        out.append(cv2.resize(img, (int(img.shape[1] * scale), int(img.shape[0] * scale))))
    return out


def deviation(ours: list, upstream: list) -> dict[str, float]:
    """Largest differences from upstream over a set (faces matched by box order)."""
    worst = {"face_count": 0, "box_px": 0.0, "landmark_px": 0.0, "confidence": 0.0, "face": 0.0}
    # boxes clipped to the image can tie: the eyes and the confidence break ties
    key = lambda f: (  # noqa: E731
        tuple(f["facial_area"][k] for k in "xywh"),
        tuple(f["facial_area"].get("left_eye") or ()),
        tuple(f["facial_area"].get("right_eye") or ()),
        f["confidence"],
    )
    for got, want in zip(ours, upstream):
        if len(got) != len(want):
            worst["face_count"] += 1
            continue
        for a, b in zip(sorted(got, key=key), sorted(want, key=key)):
            fa, fb = a["facial_area"], b["facial_area"]
            worst["box_px"] = max(worst["box_px"], max(abs(fa[k] - fb[k]) for k in "xywh"))
            for k in ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right"):
                if fa.get(k) is not None and fb.get(k) is not None:
                    worst["landmark_px"] = max(worst["landmark_px"], max(abs(x - y) for x, y in zip(fa[k], fb[k])))
                elif (fa.get(k) is None) != (fb.get(k) is None):
                    worst["landmark_px"] = float("inf")
            worst["confidence"] = max(worst["confidence"], abs(a["confidence"] - b["confidence"]))
            if a["face"].shape == b["face"].shape:
                worst["face"] = max(worst["face"], float(np.max(np.abs(a["face"] - b["face"]))))
            else:
                # a box clipped to the image can agree after clipping and have differed
                # before: the crop's size shows by how much
                crop = max(abs(x - y) for x, y in zip(a["face"].shape, b["face"].shape))
                worst["box_px"] = max(worst["box_px"], crop)
    return worst


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def bench(backend: str, images: list[np.ndarray], batch_size: int, profile: bool) -> dict:
    import deepface_batch
    from deepface_batch import compat, pipeline

    layer = compat.get()
    plugin = deepface_batch.get_detector(backend)
    plugin.prepare()
    kwargs = {"detector_backend": backend, "enforce_detection": False}
    threshold = None
    if backend in PLANTED and backend.startswith("yolo"):
        sample = [layer.add_border(i, True)[0] for i in images[:8]]
        threshold = planted_threshold(plugin, sample)
        os.environ["YOLO_MIN_DETECTION_CONFIDENCE"] = f"{threshold:.6f}"
    # warm both paths (weights, nets per shape, OpenCV's thread pool) before any clock
    layer.reference_extract_faces(images[0], **kwargs)
    deepface_batch.extract_faces(images[:batch_size], batch_size=batch_size, **kwargs)

    upstream, upstream_s = timed(lambda: [layer.reference_extract_faces(i, **kwargs) for i in images])
    ours, ours_s = timed(lambda: deepface_batch.extract_faces(images, batch_size=batch_size, **kwargs))
    upstream_all_cores_s = upstream_threads = None
    if backend.startswith("yolo"):
        # ultralytics leaves torch on cores - 1 threads (one, on two cores), so upstream's
        # loop above ran on those; time it again on every core, to tell the two gains apart
        import torch

        from deepface_batch.plugins.yolo import usable_cores

        left = upstream_threads = torch.get_num_threads()
        torch.set_num_threads(usable_cores())
        _, upstream_all_cores_s = timed(lambda: [layer.reference_extract_faces(i, **kwargs) for i in images])
        torch.set_num_threads(left)
    bordered = [layer.add_border(i, True)[0] for i in images]
    _, detector_s = timed(lambda: [plugin.detect_batch(chunk) for chunk in pipeline.chunks(bordered, batch_size)])
    _, detector_one_s = timed(lambda: [plugin.detect_one(i) for i in bordered])
    row = {
        "backend": backend,
        "mode": plugin.batch_mode.value,
        "images": len(images),
        "upstream_ips": len(images) / upstream_s,
        "ours_ips": len(images) / ours_s,
        "ratio": upstream_s / ours_s,
        "detector_ips": len(images) / detector_s,
        "detector_one_ips": len(images) / detector_one_s,
        "faces": sum(len([f for f in r if f["confidence"] > 0]) for r in ours),
        "threshold": threshold,
        "median_face": int(np.median([f["facial_area"]["w"] for r in ours for f in r] or [0])),
        "upstream_threads": upstream_threads if upstream_all_cores_s else None,
        "upstream_all_cores_ips": upstream_all_cores_s and len(images) / upstream_all_cores_s,
        **deviation(ours, upstream),
    }
    if profile:
        profiler = cProfile.Profile()
        profiler.enable()
        deepface_batch.extract_faces(images[:batch_size], batch_size=batch_size, **kwargs)
        profiler.disable()
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats("cumulative").print_stats(18)
        row["profile"] = text.getvalue()
    return row


def table(rows: list[dict], title: str) -> str:
    lines = [
        f"### {title}",
        "",
        "| backend | batching | upstream img/s | ours img/s | ratio | detector alone: one per call, batched img/s | faces | max deviation (box px, before clipping; landmark px; confidence; face pixels where boxes agree; images with another face count) |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in rows:
        lines.append(
            f"| {r['backend']} | {r['mode']} | {r['upstream_ips']:.1f} | {r['ours_ips']:.1f} | "
            f"**{r['ratio']:.2f}x** | {r['detector_one_ips']:.1f}, {r['detector_ips']:.1f} | {r['faces']} | "
            f"{r['box_px']:g}, {r['landmark_px']:g}, {r['confidence']:g}, {r['face']:g}; {r['face_count']} |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="ssd,centerface,yunet,opencv")
    parser.add_argument("--n", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--profile", action="store_true", help="profile one batch per backend")
    parser.add_argument("--out", help="write the markdown report here")
    parser.add_argument(
        "--plant",
        action="store_true",
        help="plant seeded weights (tests/support/planting.py) for yolov8n/yolov11n/yolov12n and "
        "retinaface where none are present",
    )
    args = parser.parse_args()
    weights_home()
    if args.plant:
        PLANTED.update(plant_detectors(args.backends.split(",")))

    sets = {"same-size 640 x 480 frames": same_size_set(args.n), "mixed sizes": mixed_set(args.n)}
    report = [
        f"## {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC",
        "",
        f"Machine: {machine()}.",
        f"Command: `python benchmarks/bench_detectors.py --backends {args.backends} --n {args.n} --batch-size {args.batch_size}"
        f"{' --plant' if args.plant else ''}`; "
        "defaults otherwise (align=True, enforce_detection=False).",
        "",
    ]
    profiles = []
    notes: list[str] = []
    for title, images in sets.items():
        rows = []
        for backend in args.backends.split(","):
            row = bench(backend, images, args.batch_size, args.profile)
            rows.append(row)
            print(f"{title:28s} {backend:12s} ratio {row['ratio']:.2f}x", file=sys.stderr)
            if row["upstream_all_cores_ips"]:
                notes.append(
                    f"- {backend} ({title}): upstream's loop ran on the torch threads "
                    f"ultralytics leaves ({row['upstream_threads']}); on every core it gives "
                    f"{row['upstream_all_cores_ips']:.1f} img/s, and ours is "
                    f"{row['ours_ips'] / row['upstream_all_cores_ips']:.2f}x that."
                )
            if row["threshold"] is not None:
                notes.append(
                    f"- {backend} ({title}): planted seeded weights, "
                    f"YOLO_MIN_DETECTION_CONFIDENCE={row['threshold']:.4f} (about "
                    f"{PLANTED_FACES_PER_IMAGE} faces per image); median face box "
                    f"{row['median_face']} px wide."
                )
            if backend in PLANTED and row["threshold"] is None:
                notes.append(f"- {backend} ({title}): planted seeded weights, upstream's threshold.")
            if "profile" in row:
                profiles.append(f"#### {backend}, {title}: one batch of {args.batch_size}\n\n```\n{row['profile']}```")
        report += [table(rows, f"{title} ({len(images)} images, batch_size={args.batch_size})"), ""]
    if notes:
        report += ["Notes:", "", *notes, ""]
    report += profiles
    text = "\n".join(report)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
