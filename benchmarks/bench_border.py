"""What ``detect_without_border=True`` changes against upstream's default result, per backend.

    python benchmarks/bench_border.py                         # every backend with real weights here
    python benchmarks/bench_border.py --backends ssd,yunet --out benchmarks/results/x.md
    python benchmarks/bench_border.py --timing-only            # the speed columns again

For each backend and each of three sets: deepface's own test photos committed in
tests/data/deepface-dataset, video-like 640 x 480 frames with small faces made of them
(tests/support/photos.py), and the bundled sample images (deepface_batch.samples).
Upstream's default (``detection.extract_faces`` one image per call, unpatched, align=True:
the detector sees the bordered image) against ours without the border
(``deepface_batch.extract_faces`` on the whole set, ``detect_without_border=True``), both
with enforce_detection=False and only faces with a confidence above 0 counted. Faces are
matched greedily by intersection over union >= 0.5 (``deepface_batch.comparison``); a
matched face's box deviation is the largest of its differences in x, y, w and h, in
pixels. Times are wall-clock per image, after one warm-up call of each path.

RetinaFace and the YOLO models have no real weights here (the tests plant random ones),
so no agreement is measured for them: the script refuses them. Weights come from
$DEEPFACE_HOME, else ../shared/weights beside the checkout.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path

import numpy as np
from _common import machine, weights_home, write_result  # root on sys.path

from tests.support import photos

HEADER = """# detect_without_border against upstream's default result (CPU)

Written by `benchmarks/bench_border.py`; the sets, the matching and the deviation are
described in its docstring. Recall: the fraction of upstream's faces found without the
border too; precision: the fraction of the faces found without the border that upstream
finds too. Box deviation: the largest of |dx|, |dy|, |dw|, |dh| of a matched face, in
pixels, and the largest as a percentage of upstream's box width. Times are one pass each,
on 2 shared cores: noisy (see the load line of each run).

"""
DEFAULT_BACKENDS = "opencv,ssd,yunet,centerface,dlib,fastmtcnn,mtcnn,mediapipe"
#: backends whose weights here are planted (random): their agreement would mean nothing
PLANTED = ("retinaface", "yolo")


def image_sets(frames: int) -> dict[str, tuple[list[str], list[np.ndarray]]]:
    from deepface_batch import samples

    real = photos.photos()
    made = photos.small_face_frames(frames)
    bundled = samples.video_frames() + samples.mixed_images()
    return {
        "photos": (list(real), list(real.values())),
        "small-face frames": ([f"frame {n}" for n in range(len(made))], made),
        "samples": ([f"sample {n}" for n in range(len(bundled))], bundled),
    }


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def available(backend: str) -> str | None:
    """Why ``backend`` cannot run here, or None."""
    import deepface_batch
    from deepface_batch.errors import DeepfaceBatchError

    if backend.startswith(PLANTED):
        return "no real weights here (the tests plant random ones): agreement not measured"
    try:
        plugin = deepface_batch.get_detector(backend)
        plugin.check_available()
        plugin.prepare()
    except (DeepfaceBatchError, ImportError, ValueError) as err:
        return f"{type(err).__name__}: {err}"
    return None


def measure(backend: str, images: list[np.ndarray], timing_only: bool = False) -> dict:
    import deepface_batch
    from deepface_batch import comparison, compat

    layer = compat.get()
    kwargs = {"detector_backend": backend, "enforce_detection": False}
    # warm both paths (weights, nets per shape, thread pools) before any clock
    layer.reference_extract_faces(images[0], **kwargs)
    deepface_batch.extract_faces(images[:2], detect_without_border=True, **kwargs)
    upstream, upstream_s = timed(lambda: [layer.reference_extract_faces(i, **kwargs) for i in images])
    ours, ours_s = timed(lambda: deepface_batch.extract_faces(images, detect_without_border=True, **kwargs))
    row = {"images": len(images), "upstream_s": upstream_s / len(images), "ours_s": ours_s / len(images)}
    if not timing_only:
        row["agreement"] = comparison.agreement(ours, upstream)
    return row


def agreement_table(rows: list[dict]) -> str:
    lines = [
        "| backend | set | images | faces upstream / without border | both | only upstream | only without border | recall | precision | box deviation median / max px (max % of width) | upstream s/img | without border s/img | speed-up |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        a = r["agreement"]
        lines.append(
            f"| {r['backend']} | {r['set']} | {r['images']} | {a.found} / {a.found_here} | {a.both} | "
            f"{len(a.missed)} | {len(a.extra)} | {a.recall:.2f} | {a.precision:.2f} | "
            f"{a.median_box_px:g} / {a.max_box_px:g} ({100 * a.max_box_fraction:.0f} %) | {r['upstream_s']:.3f} | {r['ours_s']:.3f} | "
            f"{r['upstream_s'] / r['ours_s']:.2f}x |"
        )
    return "\n".join(lines)


def timing_table(rows: list[dict]) -> str:
    lines = [
        "| backend | set | images | upstream s/img | without border s/img | speed-up |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        lines.append(
            f"| {r['backend']} | {r['set']} | {r['images']} | {r['upstream_s']:.3f} | {r['ours_s']:.3f} | "
            f"{r['upstream_s'] / r['ours_s']:.2f}x |"
        )
    return "\n".join(lines)


def details(rows: list[dict], names: dict[str, list[str]]) -> list[str]:
    """Which image each face found by only one side is in."""
    out = []
    for r in rows:
        a = r["agreement"]
        where = names[r["set"]]
        for label, faces in (("only upstream", a.missed), ("only without border", a.extra)):
            if faces:
                listed = ", ".join(f"{where[i]} {w}x{h}" for i, (_, _, w, h) in faces)
                out.append(f"- {r['backend']}, {r['set']}, {label}: {listed}")
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default=DEFAULT_BACKENDS)
    parser.add_argument("--frames", type=int, default=6, help="small-face frames (the tests use 6)")
    parser.add_argument("--timing-only", action="store_true", help="only the speed columns, again")
    parser.add_argument("--note", default="", help="a line about the machine's other load")
    parser.add_argument("--out", help="write (or append to) this markdown file")
    args = parser.parse_args()
    weights_home()
    sets = image_sets(args.frames)
    names = {title: labels for title, (labels, _) in sets.items()}
    command = " ".join(["python benchmarks/bench_border.py", *sys.argv[1:]])
    report = [
        f"## {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC{' (timing again)' if args.timing_only else ''}",
        "",
        f"Machine: {machine()}.",
        f"Command: `{command}`.",
    ]
    if args.note:
        report.append(f"Load: {args.note}")
    report.append("")
    rows, skipped = [], []
    for backend in args.backends.split(","):
        reason = available(backend)
        if reason:
            skipped.append(f"- {backend}: {reason}")
            print(f"{backend:12s} skipped: {reason}", file=sys.stderr)
            continue
        for title, (_, images) in sets.items():
            row = {"backend": backend, "set": title, **measure(backend, images, args.timing_only)}
            rows.append(row)
            print(f"{backend:12s} {title:18s} {row['upstream_s'] / row['ours_s']:.2f}x", file=sys.stderr)
    report.append(timing_table(rows) if args.timing_only else agreement_table(rows))
    if not args.timing_only and rows:
        report += ["", "Faces found by one side only (image, box size):", "", *details(rows, names)]
    if skipped:
        report += ["", "Not measured:", "", *skipped]
    text = "\n".join(report)
    print(text)
    if args.out:
        write_result(Path(args.out), HEADER, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
