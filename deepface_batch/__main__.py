"""``python -m deepface_batch``: the demo, on an embedded default, and a backend listing.

    python -m deepface_batch demo [--detector opencv] [--frames 32] [--batch-size 16]
    python -m deepface_batch backends
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence


def _demo(args: argparse.Namespace) -> int:
    import deepface_batch
    from deepface_batch import comparison, compat, samples

    frames = samples.video_frames()
    images = [frames[i % len(frames)] for i in range(args.frames)] + samples.mixed_images()
    kwargs = {"detector_backend": args.detector, "enforce_detection": False}
    layer = compat.get()
    print(
        f"deepface {layer.VERSION}, detector {args.detector}: {args.frames} frames of 640 x 480 "
        f"and {len(images) - args.frames} images of mixed sizes, from scikit-image's astronaut"
    )

    # build the detector (and load its weights) before any clock starts
    layer.reference_extract_faces(images[0], **kwargs)

    start = time.perf_counter()
    upstream = [layer.reference_extract_faces(img, **kwargs) for img in images]
    upstream_s = time.perf_counter() - start

    start = time.perf_counter()
    batched = deepface_batch.extract_faces(images, batch_size=args.batch_size, **kwargs)
    batched_s = time.perf_counter() - start

    plugin = deepface_batch.get_detector(args.detector)
    problems = []
    for index, (got, want) in enumerate(zip(batched, upstream)):
        problems += comparison.compare_faces(got, want, plugin.tolerance, where=f"image {index}")

    faces = [sum(1 for f in entry if f["confidence"] > 0) for entry in batched]
    print("faces per image:", " ".join(str(n) for n in faces))
    print(f"upstream loop    : {upstream_s:7.2f} s  ({len(images) / upstream_s:6.1f} images/s)")
    print(
        f"deepface_batch   : {batched_s:7.2f} s  ({len(images) / batched_s:6.1f} images/s, "
        f"{plugin.batch_mode.value} batching, batch_size={args.batch_size})"
    )
    print(f"speed-up         : {upstream_s / batched_s:7.2f}x")
    if problems:
        print("results differ from upstream beyond the declared tolerance:")
        print("\n".join(problems))
        return 1
    how = "bit-identical" if plugin.tolerance.exact else "within tolerance"
    print(f"results          : every image matches upstream's ({how})")
    return 0


def _backends(_: argparse.Namespace) -> int:
    from deepface_batch import registry
    from deepface_batch.errors import DetectorUnavailableError

    print(f"{'backend':<12} {'batching':<8} {'tolerance':<40} here")
    for name, plugin in registry.detectors().items():
        try:
            plugin.check_available()
            here = "available"
        except DetectorUnavailableError as err:
            needed = getattr(err, "requirement", None)
            here = f"missing: pip install {needed.install}" if needed is not None else f"unavailable: {err}"
        tol = "exact" if plugin.tolerance.exact else repr(plugin.tolerance)
        print(f"{name:<12} {plugin.batch_mode.value:<8} {tol:<40} {here}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deepface_batch", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="batched extract_faces beside upstream's loop")
    demo.add_argument("--detector", default="opencv")
    demo.add_argument("--frames", type=int, default=32)
    demo.add_argument("--batch-size", type=int, default=16)
    demo.set_defaults(run=_demo)
    backends = sub.add_parser("backends", help="every detector backend, its batching and whether it runs here")
    backends.set_defaults(run=_backends)
    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
