"""Ray Data against the local engine on the same images: the overhead of going distributed.

    python benchmarks/bench_ray.py [--images 160] [--detector centerface] [--model Dlib]

Writes ``benchmarks/results/<date>-cpu-ray.md``: images per second of the local batched
engine (``deepface_batch.extract_faces`` / ``represent`` over the paths) and of
``deepface_batch.ray.faces_dataset`` on a local Ray cluster with 1 and 2 actors (cluster
start excluded, each actor's model load included: that is what a job pays), and the
command a GPU cluster would run.
"""

from __future__ import annotations

import argparse
import datetime
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT, machine, weights_home

GPU_COMMAND = (
    "deepface-batch represent /mnt/shared/photos/ --ray ray://head:10001 --ray-actors 4 "
    "--ray-gpus 1 --detector retinaface --model Facenet --batch-size 64 -o /mnt/shared/faces/"
)


def _images(folder: Path, count: int) -> list[str]:
    import cv2

    from deepface_batch import samples

    pool = samples.video_frames() + samples.mixed_images()
    paths = []
    for n in range(count):
        path = folder / f"img{n:04d}.jpg"
        cv2.imwrite(str(path), pool[n % len(pool)])
        paths.append(str(path))
    return paths


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=160)
    parser.add_argument("--detector", default="centerface")
    parser.add_argument("--model", default=None, help="a recognition model: represent instead of extract")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    weights_home()

    import ray

    import deepface_batch
    from deepface_batch import ray as dfr

    folder = Path(tempfile.mkdtemp(prefix="bench-ray-"))
    paths = _images(folder, args.images)
    kwargs = {"detector_backend": args.detector, "enforce_detection": False, "errors": "return"}
    call = deepface_batch.represent if args.model else deepface_batch.extract_faces
    extra = {"model_name": args.model} if args.model else {}
    call(paths[:2], batch_size=2, **kwargs, **extra)  # weights loaded before the clock
    start = time.perf_counter()
    local = call(paths, batch_size=args.batch_size, **kwargs, **extra)
    local_s = time.perf_counter() - start
    local_faces = sum(len(r) for r in local if not isinstance(r, Exception))

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    rows = {}
    for actors in (1, 2):
        start = time.perf_counter()
        got = dfr.faces_dataset(
            paths,
            model_name=args.model,
            batch_size=args.batch_size,
            concurrency=actors,
            detector_backend=args.detector,
        ).take_all()
        rows[actors] = (time.perf_counter() - start, len(got))
    ray.shutdown()

    today = datetime.date.today().isoformat()
    out = Path(args.out or ROOT / "benchmarks" / "results" / f"{today}-cpu-ray.md")
    what = f"represent ({args.model})" if args.model else "extract_faces"
    lines = [
        f"# Ray Data vs the local engine, {what}, {args.detector}, {today}",
        "",
        f"Machine: {machine()}. Command: `python benchmarks/bench_ray.py --images {args.images} "
        f"--detector {args.detector}{' --model ' + args.model if args.model else ''} --batch-size {args.batch_size}`.",
        f"{args.images} JPEG files (640 x 480 frames and mixed sizes from the bundled sample photo), "
        "paths in, one row per face out. Ray: a local cluster with 2 CPUs, started before the clock; "
        "each run includes its actors' start and model load.",
        "",
        "| path | seconds | images/s | vs local | rows |",
        "| --- | ---: | ---: | ---: | ---: |",
        f"| local `{call.__name__}` (batch {args.batch_size}) | {local_s:.1f} | {args.images / local_s:.1f} | 1.00x | "
        f"{local_faces} rows |",
    ]
    for actors, (seconds, count) in rows.items():
        lines.append(
            f"| Ray Data, {actors} actor{'s' if actors > 1 else ''} | {seconds:.1f} | {args.images / seconds:.1f} | "
            f"{local_s / seconds:.2f}x | {count} rows |"
        )
    lines += [
        "",
        "On 2 cores a second actor competes with the first for the same cores (each detector",
        "already uses both), so Ray's gain is on more cores, more machines or more GPUs; what this",
        "measures is the overhead of the distributed path on one machine.",
        "",
        "On a GPU cluster (one actor per GPU; paths any worker can read):",
        "",
        f"    {GPU_COMMAND}",
        "",
    ]
    out.write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
