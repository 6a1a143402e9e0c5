"""Upstream's one-image-per-call loop against deepface_batch, per detector backend.

    python benchmarks/bench_detectors.py                       # ssd, centerface, yunet, opencv
    python benchmarks/bench_detectors.py --backends ssd --n 32 --profile

For each backend and each of two sets (N same-size 640 x 480 video-like frames with 0, 1
and 2 faces; N images of mixed sizes), in one process: upstream's loop
(``detection.extract_faces`` one image per call, unpatched, defaults: align=True), ours
(``deepface_batch.extract_faces`` on the whole list), and the plugin's ``detect_batch``
alone on the same, already bordered, images (the limit the pipeline can approach). It
reports images per second, the ratio, and the largest deviation from upstream's results.
Weights come from $DEEPFACE_HOME, or ../shared/weights when it is beside the checkout.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import io
import os
import platform
import pstats
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "weights"


def _weights_home() -> None:
    """Point DEEPFACE_HOME at the real weights beside the checkout, if none is set."""
    if os.environ.get("DEEPFACE_HOME") or not SHARED.is_dir():
        return
    home = Path(tempfile.mkdtemp(prefix="deepface-batch-bench-"))
    weights = home / ".deepface" / "weights"
    weights.mkdir(parents=True)
    for entry in SHARED.iterdir():
        if entry.is_file() and entry.suffix != ".md" and entry.suffix != ".tsv":
            (weights / entry.name).symlink_to(entry.resolve())
    os.environ["DEEPFACE_HOME"] = str(home)


def _plant_yolo() -> None:
    """Seeded YOLO face models of the real architectures: speed does not depend on the
    weights, and random weights need a low threshold to find anything."""
    os.environ.setdefault("YOLO_OFFLINE", "true")
    sys.path.insert(0, str(ROOT / "tests"))
    import planting
    from deepface_batch import samples

    # plant into a fresh home that links the real weights, never into the user's own
    source = Path(os.environ["DEEPFACE_HOME"]) / ".deepface" / "weights"
    home = Path(tempfile.mkdtemp(prefix="deepface-batch-bench-yolo-"))
    weights = home / ".deepface" / "weights"
    weights.mkdir(parents=True)
    if source.is_dir():
        for entry in source.iterdir():
            (weights / entry.name).symlink_to(entry.resolve())
    os.environ["DEEPFACE_HOME"] = str(home)
    for backend, file_name in planting.YOLO_FILES.items():
        if not (weights / file_name).exists():
            planting.plant_yolo(backend, weights, [samples.astronaut(), *samples.video_frames()[:3]])
    os.environ.setdefault("YOLO_MIN_DETECTION_CONFIDENCE", "0.03")


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
    key = lambda f: tuple(f["facial_area"][k] for k in "xywh")  # noqa: E731
    for got, want in zip(ours, upstream):
        if len(got) != len(want):
            worst["face_count"] += 1
            continue
        for a, b in zip(sorted(got, key=key), sorted(want, key=key)):
            fa, fb = a["facial_area"], b["facial_area"]
            worst["box_px"] = max(worst["box_px"], max(abs(fa[k] - fb[k]) for k in "xywh"))
            for k in ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right"):
                if fa.get(k) is not None and fb.get(k) is not None:
                    worst["landmark_px"] = max(
                        worst["landmark_px"], max(abs(x - y) for x, y in zip(fa[k], fb[k]))
                    )
                elif (fa.get(k) is None) != (fb.get(k) is None):
                    worst["landmark_px"] = float("inf")
            worst["confidence"] = max(worst["confidence"], abs(a["confidence"] - b["confidence"]))
            if a["face"].shape == b["face"].shape:
                worst["face"] = max(worst["face"], float(np.max(np.abs(a["face"] - b["face"]))))
            else:
                worst["face"] = float("inf")
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
    # warm both paths (weights, nets per shape, OpenCV's thread pool) before any clock
    layer.reference_extract_faces(images[0], **kwargs)
    deepface_batch.extract_faces(images[:batch_size], batch_size=batch_size, **kwargs)

    upstream, upstream_s = timed(lambda: [layer.reference_extract_faces(i, **kwargs) for i in images])
    ours, ours_s = timed(lambda: deepface_batch.extract_faces(images, batch_size=batch_size, **kwargs))
    bordered = [layer.add_border(i, True)[0] for i in images]
    _, detector_s = timed(
        lambda: [plugin.detect_batch(chunk) for chunk in pipeline.chunks(bordered, batch_size)]
    )
    row = {
        "backend": backend,
        "mode": plugin.batch_mode.value,
        "images": len(images),
        "upstream_ips": len(images) / upstream_s,
        "ours_ips": len(images) / ours_s,
        "ratio": upstream_s / ours_s,
        "detector_ips": len(images) / detector_s,
        "faces": sum(len([f for f in r if f["confidence"] > 0]) for r in ours),
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


def machine() -> str:
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f", {kb / 2**20:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    import cv2
    from importlib import metadata

    return (
        f"{cpu}, {os.cpu_count()} cores{mem}; Python {platform.python_version()}, "
        f"deepface {metadata.version('deepface')}, OpenCV {cv2.__version__}, "
        f"engine {os.environ.get('DEEPFACE_BACKEND_ENGINE', 'default')}"
    )


def table(rows: list[dict], title: str) -> str:
    lines = [
        f"### {title}",
        "",
        "| backend | batching | upstream img/s | ours img/s | ratio | detector alone img/s | faces | max deviation (box px, landmark px, confidence, face pixels; images with another face count) |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in rows:
        lines.append(
            f"| {r['backend']} | {r['mode']} | {r['upstream_ips']:.1f} | {r['ours_ips']:.1f} | "
            f"**{r['ratio']:.2f}x** | {r['detector_ips']:.1f} | {r['faces']} | "
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
        "--plant-yolo",
        action="store_true",
        help="plant seeded yolov8n/yolov11n weights (tests/planting.py) where none are present",
    )
    args = parser.parse_args()
    _weights_home()
    if args.plant_yolo:
        _plant_yolo()

    sets = {"same-size 640 x 480 frames": same_size_set(args.n), "mixed sizes": mixed_set(args.n)}
    report = [
        f"## {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC",
        "",
        f"Machine: {machine()}.",
        f"Command: `python benchmarks/bench_detectors.py --backends {args.backends} --n {args.n} --batch-size {args.batch_size}"
        f"{' --plant-yolo' if args.plant_yolo else ''}`; "
        "defaults otherwise (align=True, enforce_detection=False).",
        "",
    ]
    profiles = []
    for title, images in sets.items():
        rows = []
        for backend in args.backends.split(","):
            row = bench(backend, images, args.batch_size, args.profile)
            rows.append(row)
            print(f"{title:28s} {backend:12s} ratio {row['ratio']:.2f}x", file=sys.stderr)
            if "profile" in row:
                profiles.append(f"#### {backend}, {title}: one batch of {args.batch_size}\n\n```\n{row['profile']}```")
        report += [table(rows, f"{title} ({len(images)} images, batch_size={args.batch_size})"), ""]
    report += profiles
    text = "\n".join(report)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
