"""Every backend's default mode against upstream's loop, on frames in memory and on files.

    python benchmarks/bench_default.py                     # every backend that runs here
    python benchmarks/bench_default.py --backends ssd,yunet --repeats 7

The promise this checks (issue 25, item 1): ``deepface_batch.extract_faces(images)`` with
nothing but the images and the backend (the default mode: upstream's border, the default
batch size, the default read-ahead) is never slower than upstream's own loop
(``DeepFace.extract_faces`` one image per call, unpatched). In one process, for each
backend, on N same-size 640 x 480 video-like frames (0, 1 and 2 faces), given two ways:

- **in memory**: BGR arrays, as a video's decoded frames arrive;
- **files**: the same frames as JPEG files, each side reading its own (upstream's loop
  reads a path per call; ours reads ahead on a thread while a batch is detected).

Upstream's loop and ours alternate, ``--repeats`` times each in a shuffled order, and the
median of each is kept; the ratio is upstream's time over ours (1.0: as fast). Where a
backend has no real weights here (YOLO, RetinaFace), seeded weights of the real
architecture are planted (speed does not depend on the weights). Slow backends run on
fewer frames, so that each run takes seconds, not minutes.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import machine, plant_detectors, planted_threshold, weights_home, write_result

#: seconds one timed run may take: frames are fewer for slower backends
RUN_SECONDS = 4.0


def frames(n: int) -> list[np.ndarray]:
    from deepface_batch import samples

    base = samples.video_frames()
    # shift each frame a little, as consecutive video frames differ
    return [np.ascontiguousarray(np.roll(base[i % len(base)], 3 * i, axis=1)) for i in range(n)]


def available(names: list[str]) -> tuple[list[str], dict[str, str]]:
    from deepface_batch import registry
    from deepface_batch.errors import DetectorUnavailableError

    ok, skipped = [], {}
    for name in names:
        try:
            registry.get_detector(name).check_available()
            ok.append(name)
        except DetectorUnavailableError as err:
            skipped[name] = str(err).split(";")[0]
    return ok, skipped


def before(run):
    """``run`` as the engine ran before issue 25: a read-ahead thread for every batch, and
    the whole batch bordered for one detector call."""
    from deepface_batch import api
    from deepface_batch.plugin import DetectorPlugin

    saved = api.reads_files, DetectorPlugin.images_per_call
    api.reads_files = lambda chunk: True  # type: ignore[assignment]
    DetectorPlugin.images_per_call = property(lambda self: None)  # type: ignore[assignment]
    overrides = {cls: cls.__dict__["images_per_call"] for cls in _plugin_classes() if "images_per_call" in cls.__dict__}
    for cls in overrides:
        cls.images_per_call = None
    try:
        return run()
    finally:
        api.reads_files, DetectorPlugin.images_per_call = saved
        for cls, value in overrides.items():
            cls.images_per_call = value


def _plugin_classes():
    from deepface_batch import registry

    seen = set()
    for plugin in registry.detectors().values():
        for cls in type(plugin).__mro__:
            seen.add(cls)
    return seen


def measure(backend: str, n_max: int, repeats: int, folder: Path) -> dict:
    import cv2

    import deepface_batch
    from deepface_batch import compat

    layer = compat.get()
    kwargs = {"detector_backend": backend, "enforce_detection": False}
    sample = frames(2)
    # weights loaded, detector probed, and one call of each side before any clock
    layer.reference_extract_faces(sample[0], **kwargs)
    deepface_batch.extract_faces(sample, **kwargs)
    start = time.perf_counter()
    layer.reference_extract_faces(sample[1], **kwargs)
    per_frame = time.perf_counter() - start
    n = int(max(4, min(n_max, RUN_SECONDS / max(per_frame, 1e-3))))
    images = frames(n)
    paths = []
    for i, image in enumerate(images):
        path = folder / f"{backend}-{i:03d}.jpg"
        cv2.imwrite(str(path), image, [cv2.IMWRITE_JPEG_QUALITY, 95])
        paths.append(str(path))
    runs = {
        ("memory", "upstream"): lambda: [layer.reference_extract_faces(img, **kwargs) for img in images],
        ("memory", "ours"): lambda: deepface_batch.extract_faces(images, **kwargs),
        ("memory", "before"): lambda: before(lambda: deepface_batch.extract_faces(images, **kwargs)),
        ("files", "upstream"): lambda: [layer.reference_extract_faces(p, **kwargs) for p in paths],
        ("files", "ours"): lambda: deepface_batch.extract_faces(paths, **kwargs),
    }
    times: dict[tuple[str, str], list[float]] = {key: [] for key in runs}
    order = list(runs)
    rng = random.Random(0)
    for _ in range(repeats):
        rng.shuffle(order)
        for key in order:
            start = time.perf_counter()
            runs[key]()
            times[key].append(time.perf_counter() - start)
    row = {"backend": backend, "n": n}
    row["before"] = statistics.median(times[("memory", "upstream")]) / statistics.median(times[("memory", "before")])
    for given in ("memory", "files"):
        up = statistics.median(times[(given, "upstream")])
        ours = statistics.median(times[(given, "ours")])
        row[given] = (up / n * 1000, ours / n * 1000, up / ours)
        # the ratio of each repeat's pair: how noisy the median is
        pairs = [u / o for u, o in zip(times[(given, "upstream")], times[(given, "ours")])]
        row[f"{given}_range"] = (min(pairs), max(pairs))
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--backends",
        default="opencv,ssd,yunet,centerface,dlib,mtcnn,fastmtcnn,retinaface,yolov8n,skip",
    )
    parser.add_argument("--n", type=int, default=24, help="frames at most (fewer for slow backends)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    weights_home()
    os.environ.setdefault("YOLO_OFFLINE", "true")
    names, skipped = available(args.backends.split(","))
    planted = plant_detectors(names)
    from deepface_batch import compat, registry

    for name in names:
        if name in planted and name.startswith("yolo"):
            threshold = planted_threshold(registry.get_detector(name), frames(4))
            os.environ["YOLO_MIN_DETECTION_CONFIDENCE"] = f"{threshold:.6f}"
    rows, failed = [], {}
    with tempfile.TemporaryDirectory(prefix="deepface-batch-bench-default-") as scratch:
        for name in names:
            print(f"== {name}", file=sys.stderr, flush=True)
            try:
                rows.append(measure(name, args.n, args.repeats, Path(scratch)))
            except Exception as err:
                failed[name] = f"{type(err).__name__}: {' '.join(str(err).split())[:120]}"
    engine = compat.get().backend_engine()
    lines = [
        f"## Default mode against upstream's loop, engine {engine} ({dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC)",
        "",
        f"`python benchmarks/bench_default.py --repeats {args.repeats}`; {machine()}. Same-size 640 x 480 "
        "frames; ms per frame, the median of the repeats; ratio = upstream's time / ours (above 1: ours faster), "
        "with the range of the repeats' pairwise ratios; 'before issue 25': the same ratio for the engine as it ran "
        "before (a read-ahead thread for every batch, the whole batch bordered for one detector call).",
        "",
        "| backend | batching | frames | memory: upstream ms | ours ms | ratio (range) | before issue 25 | "
        "files: upstream ms | ours ms | ratio (range) |",
        "| --- | --- | ---: | ---: | ---: | --- | ---: | ---: | ---: | --- |",
    ]
    for row in rows:
        plugin = registry.get_detector(row["backend"])
        cells = []
        for given in ("memory", "files"):
            up, ours, ratio = row[given]
            low, high = row[f"{given}_range"]
            cells.append(f"{up:.1f} | {ours:.1f} | {ratio:.2f}x ({low:.2f}-{high:.2f})")
            if given == "memory":
                cells.append(f"{row['before']:.2f}x")
        note = " (planted weights)" if row["backend"] in planted else ""
        lines.append(f"| {row['backend']}{note} | {plugin.batch_mode.value} | {row['n']} | " + " | ".join(cells) + " |")
    for name, why in {**skipped, **failed}.items():
        lines.append(f"| {name} | | | not run: {why} | | | | | | |")
    text = "\n".join(lines)
    print(text)
    if args.out:
        write_result(args.out, "# deepface-batch: the default mode against upstream's loop\n\n", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
