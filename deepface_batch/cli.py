"""``deepface-batch``: batched face detection and embeddings for folders, videos and streams.

    deepface-batch extract photos/ -o faces.jsonl --detector ssd
    deepface-batch represent 'shots/*.png' -o faces.parquet --model Facenet
    deepface-batch video clip.mp4 -o faces.csv --every 5 --annotate boxes.mp4
    deepface-batch backends
    deepface-batch parity --detector opencv,ssd
    deepface-batch demo

Argument parsing only: the jobs are :mod:`deepface_batch.jobs`, the records and files
:mod:`deepface_batch.records`, the frames :mod:`deepface_batch.video`. Exit status: 0 when
every input went through, 1 when some failed, 2 for a usage error, 130 on Ctrl-C.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

OK, FAILED, USAGE, INTERRUPTED = 0, 1, 2, 130


def _error(message: str) -> int:
    print(f"deepface-batch: error: {message}", file=sys.stderr)
    return USAGE


# --- extract, represent, video -----------------------------------------------------------


def _options(args: argparse.Namespace):
    from deepface_batch import jobs

    return jobs.Options(
        detector=args.detector,
        batch_size=args.batch_size,
        align=args.align,
        expand_percentage=args.expand_percentage,
        max_faces=args.max_faces,
        detect_without_border=args.detect_without_border,
        enforce_detection=args.enforce_detection,
        min_confidence=args.min_confidence,
        model=getattr(args, "model", None),
        strict=args.strict,
        crops=Path(args.crops) if args.crops else None,
        quiet=args.quiet,
    )


def _run_ray(args: argparse.Namespace) -> int:
    """``extract`` / ``represent`` on Ray Data: a folder of Parquet files at ``-o``."""
    if not args.output or args.output == "-":
        return _error("--ray writes Parquet: give -o FOLDER")
    try:
        import ray

        from deepface_batch import jobs
        from deepface_batch import ray as dfr
    except ImportError as err:
        return _error(f"--ray needs Ray Data: pip install 'deepface-batch[ray]' ({err})")
    start = time.perf_counter()
    ray.init(
        address=None if args.ray == "local" else args.ray,
        ignore_reinit_error=True,
        include_dashboard=False,
        log_to_driver=not args.quiet,
    )
    try:
        paths = jobs.expand_paths(args.paths)
        faces = dfr.faces_dataset(
            paths,
            model_name=getattr(args, "model", None),
            batch_size=args.batch_size,
            concurrency=args.ray_actors,
            num_gpus=args.ray_gpus,
            detector_backend=args.detector,
            enforce_detection=args.enforce_detection,
            align=args.align,
            expand_percentage=args.expand_percentage,
            max_faces=args.max_faces,
            detect_without_border=args.detect_without_border,
            min_confidence=args.min_confidence,
            channels="bgr",
        )
        faces.write_parquet(args.output)
    finally:
        ray.shutdown()
    if not args.quiet:
        from deepface_batch import records

        rows = list(records.read_parquet_folder(args.output))
        failed = sum(r["status"] == records.ERROR for r in rows)
        print(
            f"deepface-batch: {len(paths)} inputs on Ray Data, {len(rows)} rows ({failed} failed) "
            f"in {args.output}; {time.perf_counter() - start:.1f} s",
            file=sys.stderr,
        )
    return OK


def _settle(timeout: float = 5.0) -> None:
    """Wait (a little) for the read-ahead and decoding threads a run left behind.

    A run that stops early (``--strict``, Ctrl-C) leaves the next batch being read on a
    daemon thread; one still inside OpenCV when the interpreter exits aborts the process
    ("terminate called without an active exception", status 134) instead of exiting with
    the run's status. A thread stuck on a dead stream is left after ``timeout``.
    """
    import threading

    deadline = time.monotonic() + timeout
    try:
        for thread in threading.enumerate():
            if thread.daemon and thread.name.startswith("deepface-batch-"):
                thread.join(max(0.0, deadline - time.monotonic()))
    except KeyboardInterrupt:
        pass  # a second Ctrl-C: leave now


def _run_job(args: argparse.Namespace) -> int:
    from deepface_batch import jobs, records
    from deepface_batch.errors import DeepfaceBatchError

    if getattr(args, "ray", None):
        return _run_ray(args)

    output = None if args.output in (None, "-") else args.output
    try:
        records.format_of(output)
    except ValueError as err:
        return _error(str(err))
    if args.resume and output is None:
        return _error("--resume needs an output file (-o)")
    options = _options(args)
    try:
        # before the output is opened: a mistyped name must not empty an earlier file
        jobs.check(options)
        if args.command == "video":
            from deepface_batch import video

            for source in args.paths:
                video.describe(video.source_of(source))
    except (DeepfaceBatchError, ValueError, OSError, ImportError) as err:
        return _error(str(err))
    resume = None
    if args.resume and Path(output).exists():
        records.repair(output)
        resume = records.done_keys(output)
    try:
        writer = records.open_writer(output, append=bool(resume), embedding=bool(options.model))
    except (ImportError, OSError) as err:
        return _error(str(err))
    summary = None
    try:
        with writer:
            if args.command == "video":
                summary = jobs.run_video(
                    args.paths,
                    writer,
                    options,
                    every=args.every,
                    start=args.start,
                    end=args.end,
                    annotate=args.annotate,
                    sheet=args.sheet,
                    resume=resume,
                )
            else:
                summary = jobs.run_images(args.paths, writer, options, resume=resume)
    except KeyboardInterrupt:
        print(
            "deepface-batch: interrupted; what was finished is written"
            + (f" to {output} (run again with --resume to go on)" if output else ""),
            file=sys.stderr,
        )
        return INTERRUPTED
    except (DeepfaceBatchError, ValueError, OSError, ImportError) as err:
        # a backend or model that cannot run here, an unopenable video: nothing was read
        return _error(str(err))
    finally:
        _settle()
    if not args.quiet:
        print(f"deepface-batch: {summary.line()}", file=sys.stderr)
    return FAILED if summary.failures else OK


def _add_job_arguments(parser: argparse.ArgumentParser, video: bool = False) -> None:
    parser.add_argument(
        "paths",
        nargs="+",
        metavar="PATH",
        help="video files or sources OpenCV opens (a camera index, a stream URL)"
        if video
        else "image files, folders (searched recursively) and globs",
    )
    parser.add_argument("-o", "--output", help="records file: .jsonl (default, stdout without -o), .csv or .parquet")
    parser.add_argument("--detector", default="opencv", help="detector backend (default: opencv)")
    parser.add_argument("--batch-size", type=int, default=32, help="inputs per batch (default: 32)")
    parser.add_argument(
        "--align",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="align faces by the eyes, as upstream does (default: on)",
    )
    parser.add_argument("--expand-percentage", type=int, default=0)
    parser.add_argument("--max-faces", type=int, default=None)
    parser.add_argument(
        "--detect-without-border",
        action="store_true",
        help="detect on the image as given, not on upstream's 4x-pixel bordered copy "
        "(faster; faces found can differ from upstream's default)",
    )
    parser.add_argument(
        "--enforce-detection",
        action="store_true",
        help="an input without a face is a failure (default: a no_face record)",
    )
    parser.add_argument("--min-confidence", type=float, default=0.0, help="leave out faces below this")
    parser.add_argument("--crops", metavar="DIR", help="write each aligned face as a PNG here")
    parser.add_argument(
        "--resume", action="store_true", help="skip inputs (and frames) already in the output file, and append"
    )
    parser.add_argument("--strict", action="store_true", help="stop at the first failed input")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar, messages or summary")
    if not video:
        parser.add_argument(
            "--ray",
            nargs="?",
            const="local",
            metavar="ADDRESS",
            help="run on Ray Data (a local cluster without ADDRESS); -o is then a folder of Parquet files",
        )
        parser.add_argument("--ray-actors", type=int, default=1, help="actors with --ray (default: 1)")
        parser.add_argument("--ray-gpus", type=float, default=0, help="GPUs per actor with --ray (default: 0)")
    if video:
        parser.add_argument("--model", help="a recognition model: embeddings in the records too")
        parser.add_argument("--every", type=int, default=1, metavar="N", help="every N-th frame (default: 1)")
        parser.add_argument("--start", type=float, help="from this second")
        parser.add_argument("--end", type=float, help="up to this second")
        parser.add_argument("--annotate", metavar="OUT.mp4", help="write the video with boxes drawn")
        parser.add_argument("--sheet", metavar="OUT.jpg", help="write a contact sheet of sampled frames")


# --- backends ----------------------------------------------------------------------------


def _tolerance(tolerance) -> str:
    if tolerance.exact:
        return "exact"
    parts = [
        f"box {tolerance.box_px:g} px",
        f"landmarks {tolerance.landmark_px:g} px",
        f"confidence {tolerance.confidence:g}",
    ]
    if tolerance.face:
        parts.append(f"face {tolerance.face:g}")
    return ", ".join(parts)


def _hook_active() -> bool:
    """Whether the import hook is installed in this interpreter (and not turned off)."""
    return any(type(finder).__module__ == "deepface_batch_hook" for finder in sys.meta_path)


def _backends(_: argparse.Namespace) -> int:
    from deepface_batch import compat, registry, settings
    from deepface_batch.errors import DetectorUnavailableError

    layer = compat.get()
    from deepface_batch import compat

    print(
        f"deepface {layer.VERSION} (compat {compat.check_version().rsplit('.', 1)[-1]}), "
        f"engine {compat.get().backend_engine()}, import hook "
        f"{'active' if _hook_active() else 'not active'}"
        f"{' (turned off by ' + settings.DISABLE + ')' if settings.flag(settings.DISABLE, False) else ''}"
    )
    rows = []
    for name, plugin in registry.detectors().items():
        try:
            plugin.check_available()
            here = "available"
        except DetectorUnavailableError as err:
            needed = getattr(err, "requirement", None)
            here = f"missing: pip install {needed.install}" if needed is not None else f"unavailable: {err}"
        rows.append((name, plugin.batch_mode.value, _tolerance(plugin.tolerance), here))
    widths = [max(len(row[i]) for row in rows + [("backend", "batching", "tolerance", "here")]) for i in range(3)]
    print(f"{'backend':<{widths[0]}}  {'batching':<{widths[1]}}  {'tolerance':<{widths[2]}}  here")
    for row in rows:
        print(f"{row[0]:<{widths[0]}}  {row[1]:<{widths[1]}}  {row[2]:<{widths[2]}}  {row[3]}")
    return OK


# --- parity ------------------------------------------------------------------------------


def _parity(args: argparse.Namespace) -> int:
    import cv2

    from deepface_batch import api, comparison, compat, registry

    layer = compat.get()
    if args.paths:
        from deepface_batch import jobs

        files = jobs.expand_paths(args.paths)
        images = [cv2.imread(path) for path in files]
        missing = [path for path, image in zip(files, images) if image is None]
        if missing:
            return _error(f"cannot read {', '.join(missing[:5])}")
        where = f"{len(images)} images from {', '.join(args.paths)}"
    else:
        from deepface_batch import samples

        images = samples.video_frames() + samples.mixed_images()
        where = f"the {len(images)} bundled sample images (scikit-image's astronaut, scaled and flipped)"
    names = args.detector.split(",") if args.detector else list(registry.names())
    print(
        f"Parity of deepface-batch with upstream deepface {layer.VERSION}, on {where}; "
        f"batch size {args.batch_size}, align={args.align}.\n"
    )
    print(
        "| backend | batching | declared tolerance | measured: box px, landmark px, confidence | "
        "upstream img/s | ours img/s | ratio | within |"
    )
    print("| --- | --- | --- | --- | ---: | ---: | ---: | --- |")
    exceeded = False
    kwargs = {"enforce_detection": False, "align": args.align}
    for name in names:
        try:
            plugin = registry.get_detector(name)
            api.extract_faces(images[:1], detector_backend=name, **kwargs)  # weights loaded, once
            if name in layer.DETECTORS:
                layer.reference_extract_faces(images[0], detector_backend=name, **kwargs)
        except Exception as err:
            reason = " ".join(str(err).split())[:90]
            print(f"| {name} | - | - | not run: {reason} | | | | |")
            continue
        start = time.perf_counter()
        if name in layer.DETECTORS:
            upstream = [layer.reference_extract_faces(img, detector_backend=name, **kwargs) for img in images]
        else:
            upstream = [api.extract_one(plugin, img, **kwargs) for img in images]
        upstream_s = time.perf_counter() - start
        start = time.perf_counter()
        ours = api.extract_faces(images, detector_backend=name, batch_size=args.batch_size, **kwargs)
        ours_s = time.perf_counter() - start
        worst = comparison.deviation(ours, upstream)
        problems = [
            p for got, want in zip(ours, upstream) for p in comparison.compare_faces(got, want, plugin.tolerance)
        ]
        exceeded |= bool(problems)
        measured = f"{worst['box_px']:g}, {worst['landmark_px']:g}, {worst['confidence']:.2g}" + (
            f"; {worst['count_differs']:g} images differ in face count" if worst["count_differs"] else ""
        )
        print(
            f"| {name} | {plugin.batch_mode.value} | {_tolerance(plugin.tolerance)} | {measured} | "
            f"{len(images) / upstream_s:.1f} | {len(images) / ours_s:.1f} | {upstream_s / ours_s:.2f}x | "
            f"{'yes' if not problems else 'NO'} |"
        )
        if problems and not args.quiet:
            print("\n".join(f"<!-- {name}: {p} -->" for p in problems[:10]))
    return FAILED if exceeded else OK


# --- the demo ----------------------------------------------------------------------------


def _demo(args: argparse.Namespace) -> int:
    if args.images:
        from deepface_batch import demo

        return demo.side_by_side(args.detector, args.frames, args.batch_size)
    from deepface_batch import demo

    return demo.video_demo(args.detector, args.frames, args.batch_size, Path(args.out))


def build_parser(prog: str = "deepface-batch") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog, description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    extract = sub.add_parser("extract", help="faces in image files, folders and globs")
    _add_job_arguments(extract)
    extract.set_defaults(run=_run_job)
    represent = sub.add_parser("represent", help="faces and their embeddings in images")
    _add_job_arguments(represent)
    represent.add_argument("--model", default="VGG-Face", help="recognition model (default: VGG-Face)")
    represent.set_defaults(run=_run_job)
    video = sub.add_parser("video", help="faces (and embeddings, with --model) in every frame of videos")
    _add_job_arguments(video, video=True)
    video.set_defaults(run=_run_job)
    backends = sub.add_parser("backends", help="every detector backend, its batching, and whether it runs here")
    backends.set_defaults(run=_backends)
    parity = sub.add_parser("parity", help="batched vs upstream's single-image results and speed, as Markdown")
    parity.add_argument("paths", nargs="*", metavar="PATH", help="images (default: the bundled samples)")
    parity.add_argument("--detector", help="comma-separated backends (default: every one)")
    parity.add_argument("--batch-size", type=int, default=16)
    parity.add_argument("--align", action=argparse.BooleanOptionalAction, default=True)
    parity.add_argument("-q", "--quiet", action="store_true")
    parity.set_defaults(run=_parity)
    demo = sub.add_parser("demo", help="the main job on an embedded default: a clip from the bundled samples")
    demo.add_argument("--detector", default="opencv")
    demo.add_argument("--frames", type=int, default=48, help="frames in the clip (default: 48)")
    demo.add_argument("--batch-size", type=int, default=16)
    demo.add_argument("--out", default="demo-output", help="folder for the clip, faces.jsonl and the preview")
    demo.add_argument(
        "--images", action="store_true", help="instead: batched extract_faces beside upstream's loop on sample images"
    )
    demo.set_defaults(run=_demo)
    return parser


def main(argv: Sequence[str] | None = None, prog: str = "deepface-batch") -> int:
    args = build_parser(prog).parse_args(argv)
    if getattr(args, "batch_size", 1) < 1:
        return _error(f"--batch-size must be 1 or more, got {args.batch_size}")
    if getattr(args, "every", 1) < 1:
        return _error(f"--every must be 1 or more, got {args.every}")
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
