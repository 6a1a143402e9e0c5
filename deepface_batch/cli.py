"""``deepface-batch``: batched face detection and embeddings for folders, videos and streams.

    deepface-batch extract photos/ -o faces.jsonl --detector ssd
    deepface-batch represent 'shots/*.png' -o faces.parquet --model Facenet
    deepface-batch analyze photos/ -o faces.csv --actions emotion,age
    deepface-batch video clip.mp4 -o faces.csv --every 5 --annotate boxes.mp4
    deepface-batch register photos/ --database sqlite:faces.db --model Dlib
    deepface-batch backends
    deepface-batch parity --detector opencv,ssd
    deepface-batch parity --upstream-tests deepface/tests/unit
    deepface-batch demo

Argument parsing only: each subcommand is one call into a public module, the same call a
program makes (:func:`deepface_batch.jobs.run`, :func:`deepface_batch.ray.run_job`,
:func:`deepface_batch.registry.backends_report`,
:func:`deepface_batch.database.register_files`, :mod:`deepface_batch.parity`,
:mod:`deepface_batch.demo`); the defaults are :mod:`deepface_batch.config`'s. Exit
status: 0 when every input went through, 1 when some failed, 2 for a usage error, 130 on
Ctrl-C.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from deepface_batch import config

__all__ = ["FAILED", "INTERRUPTED", "OK", "USAGE", "build_parser", "main"]

OK, FAILED, USAGE, INTERRUPTED = 0, 1, 2, 130


def _error(message: str) -> int:
    print(f"deepface-batch: error: {message}", file=sys.stderr)
    return USAGE


# --- extract, represent, video -----------------------------------------------------------


def _job_options(args: argparse.Namespace):  # -> jobs.JobOptions (imported late: it is heavy)
    from deepface_batch import jobs

    return jobs.JobOptions(
        detector=args.detector,
        batch_size=args.batch_size,
        align=args.align,
        expand_percentage=args.expand_percentage,
        max_faces=args.max_faces,
        detect_without_border=args.detect_without_border,
        enforce_detection=args.enforce_detection,
        min_confidence=args.min_confidence,
        model=getattr(args, "model", None),
        actions=tuple(a.strip() for a in args.actions.split(",")) if args.actions else None,
        strict=args.strict,
        crops=Path(args.crops) if args.crops else None,
        quiet=args.quiet,
    )


def _run_ray(args: argparse.Namespace) -> int:
    """``extract`` / ``represent`` on Ray Data: a folder of Parquet files at ``-o``."""
    if not args.output or args.output == "-":
        return _error("--ray writes Parquet: give -o FOLDER")
    try:
        import ray  # noqa: F401  (said now: the message names the extra)

        from deepface_batch import ray as dfr
    except ImportError as err:
        return _error(f"--ray needs Ray Data: pip install 'deepface-batch[ray]' ({err})")
    summary = dfr.run_job(
        args.paths,
        args.output,
        _job_options(args),
        address=None if args.ray == "local" else args.ray,
        actors=args.ray_actors,
        gpus=args.ray_gpus,
        log_to_driver=not args.quiet,
    )
    if not args.quiet:
        print(f"deepface-batch: {summary.line()}", file=sys.stderr)
    return OK


def _run_job(args: argparse.Namespace) -> int:
    from deepface_batch import jobs
    from deepface_batch.errors import DeepfaceBatchError

    if getattr(args, "ray", None):
        return _run_ray(args)
    video = args.command == "video"
    try:
        summary = jobs.run(
            args.command,
            args.paths,
            args.output,
            _job_options(args),
            resume=args.resume,
            **(
                {
                    "every": args.every,
                    "start": args.start,
                    "end": args.end,
                    "annotate": args.annotate,
                    "sheet": args.sheet,
                }
                if video
                else {}
            ),
        )
    except KeyboardInterrupt:
        output = None if args.output in (None, "-") else args.output
        print(
            "deepface-batch: interrupted; what was finished is written"
            + (f" to {output} (run again with --resume to go on)" if output else ""),
            file=sys.stderr,
        )
        return INTERRUPTED
    except (DeepfaceBatchError, ValueError, OSError, ImportError) as err:
        # jobs.UsageError: nothing was written; the others: a backend or model that cannot
        # run here, an unopenable video, found as the run started
        return _error(str(err))
    return _finished(summary, args.quiet)


def _finished(summary, quiet: bool) -> int:  # summary: jobs.Summary
    """The summary line (unless ``quiet``) and the exit status of a run."""
    if not quiet:
        print(f"deepface-batch: {summary.line()}", file=sys.stderr)
    return FAILED if summary.failures else OK


def _add_job_arguments(parser: argparse.ArgumentParser, video: bool = False, actions: str | None = None) -> None:
    parser.add_argument(
        "paths",
        nargs="+",
        metavar="PATH",
        help="video files or sources OpenCV opens (a camera index, a stream URL)"
        if video
        else "image files, folders (searched recursively) and globs",
    )
    parser.add_argument("-o", "--output", help="records file: .jsonl (default, stdout without -o), .csv or .parquet")
    detector = config.DEFAULTS["detector_backend"].value
    parser.add_argument("--detector", default=detector, help=f"detector backend (default: {detector})")
    _add_batch_size(parser)
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
        "--actions",
        default=actions,
        metavar="A,B",
        help="analyze's attributes of every face too: emotion, age, gender, race (comma-separated)"
        + (f"; default: {actions}" if actions else ""),
    )
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
        parser.add_argument("--start", type=float, help="from this second (a stream with a frame rate)")
        parser.add_argument("--end", type=float, help="up to this second (a stream with a frame rate)")
        parser.add_argument("--annotate", metavar="OUT.mp4", help="write the video with boxes drawn")
        parser.add_argument("--sheet", metavar="OUT.jpg", help="write a contact sheet of sampled frames")


def _add_batch_size(parser: argparse.ArgumentParser) -> None:
    default = config.DEFAULTS["batch_size"]
    parser.add_argument(
        "--batch-size",
        type=int,
        default=None,
        help=f"inputs per batch (default: ${default.variable}, else {default.value})",
    )


# --- register ----------------------------------------------------------------------------


def _register(args: argparse.Namespace) -> int:
    from deepface_batch import database
    from deepface_batch.errors import DeepfaceBatchError

    try:
        summary = database.register_files(
            args.paths,
            args.database,
            args.model,
            args.detector,
            batch_size=args.batch_size,
            align=args.align,
            expand_percentage=args.expand_percentage,
            enforce_detection=args.enforce_detection,
            detect_without_border=args.detect_without_border,
            resume=args.resume,
            quiet=args.quiet,
        )
    except KeyboardInterrupt:
        print("deepface-batch: interrupted; the images done are in the database (--resume goes on)", file=sys.stderr)
        return INTERRUPTED
    except (DeepfaceBatchError, ValueError, OSError, ImportError) as err:
        return _error(str(err))
    return _finished(summary, args.quiet)


def _add_register_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", metavar="PATH", help="image files, folders (recursively) and globs")
    parser.add_argument(
        "--database",
        required=True,
        metavar="TYPE:DETAILS",
        help="sqlite:PATH, postgres:URI or another of deepface's database types",
    )
    model, detector = config.DEFAULTS["model_name"].value, config.DEFAULTS["detector_backend"].value
    parser.add_argument("--model", default=model, help=f"recognition model (default: {model})")
    parser.add_argument("--detector", default=detector, help=f"detector backend (default: {detector})")
    _add_batch_size(parser)
    parser.add_argument("--align", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--expand-percentage", type=int, default=0)
    parser.add_argument(
        "--enforce-detection",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="an image without a face is counted and not inserted (default: on, as upstream's register); "
        "--no-enforce-detection inserts the whole image as its face, as upstream does",
    )
    parser.add_argument("--detect-without-border", action="store_true", help="as for extract")
    parser.add_argument("--resume", action="store_true", help="skip images the database already holds")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar, messages or summary")


# --- backends, parity, demo --------------------------------------------------------------


def _backends(_: argparse.Namespace) -> int:
    from deepface_batch import registry

    print(registry.backends_report())
    return OK


def _parity(args: argparse.Namespace) -> int:
    from deepface_batch import parity, registry

    if args.upstream_tests:
        try:
            report = parity.upstream_tests(args.upstream_tests, pytest_args=args.pytest_args, quiet=args.quiet)
        except FileNotFoundError as err:
            return _error(str(err))
        print(report.markdown())
        if not report.ran:
            return _error(f"no tests ran in {args.upstream_tests} (pytest exited {report.returncodes})")
        return FAILED if report.broken else OK
    try:
        images, where = parity.load_images(args.paths)
    except OSError as err:
        return _error(str(err))
    names = args.detector.split(",") if args.detector else list(registry.names())
    rows = parity.check_detectors(images, names, batch_size=args.batch_size, align=args.align)
    size = args.batch_size or config.default("batch_size")
    print(parity.detectors_table(rows, where, size, args.align, details=not args.quiet))
    return OK if all(row.within or row.error is not None for row in rows) else FAILED


def _demo(args: argparse.Namespace) -> int:
    from deepface_batch import demo

    if args.images:
        return demo.side_by_side(args.detector, args.frames, args.batch_size)
    return demo.video_demo(args.detector, args.frames, args.batch_size, Path(args.out))


def build_parser(prog: str = "deepface-batch") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog, description=(__doc__ or "").splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    extract = sub.add_parser("extract", help="faces in image files, folders and globs")
    _add_job_arguments(extract)
    extract.set_defaults(run=_run_job)
    represent = sub.add_parser("represent", help="faces and their embeddings in images")
    _add_job_arguments(represent)
    model = config.DEFAULTS["model_name"].value
    represent.add_argument("--model", default=model, help=f"recognition model (default: {model})")
    represent.set_defaults(run=_run_job)
    analyze = sub.add_parser("analyze", help="faces and their age, gender, emotion and race in images")
    _add_job_arguments(analyze, actions="emotion,age,gender,race")
    analyze.set_defaults(run=_run_job)
    video = sub.add_parser("video", help="faces (and embeddings, with --model) in every frame of videos")
    _add_job_arguments(video, video=True)
    video.set_defaults(run=_run_job)
    register = sub.add_parser("register", help="faces of images into a database (sqlite, postgres, ...), as they go")
    _add_register_arguments(register)
    register.set_defaults(run=_register)
    backends = sub.add_parser("backends", help="every detector backend, its batching, and whether it runs here")
    backends.set_defaults(run=_backends)
    parity = sub.add_parser(
        "parity",
        help="batched vs upstream's single-image results and speed, as Markdown; or upstream's tests, unpatched "
        "and patched",
    )
    parity.add_argument("paths", nargs="*", metavar="PATH", help="images (default: the bundled samples)")
    parity.add_argument("--detector", help="comma-separated backends (default: every one)")
    _add_batch_size(parity)
    parity.add_argument("--align", action=argparse.BooleanOptionalAction, default=True)
    parity.add_argument(
        "--upstream-tests",
        metavar="PATH",
        help="instead: run upstream's tests in PATH (a checkout's tests/unit) unpatched, then patched, and "
        "report every test that passes unpatched and fails patched (exit 1 on any)",
    )
    parity.add_argument(
        "--pytest-args",
        nargs=argparse.REMAINDER,
        default=[],
        help="with --upstream-tests: the rest of the line goes to pytest (e.g. -k verify)",
    )
    parity.add_argument("-q", "--quiet", action="store_true")
    parity.set_defaults(run=_parity)
    demo = sub.add_parser("demo", help="the main job on an embedded default: a clip from the bundled samples")
    demo.add_argument("--detector", default=config.DEFAULTS["detector_backend"].value)
    demo.add_argument("--frames", type=int, default=48, help="frames in the clip (default: 48)")
    _add_batch_size(demo)
    demo.add_argument("--out", default="demo-output", help="folder for the clip, faces.jsonl and the preview")
    demo.add_argument(
        "--images", action="store_true", help="instead: batched extract_faces beside upstream's loop on sample images"
    )
    demo.set_defaults(run=_demo)
    return parser


def main(argv: Sequence[str] | None = None, prog: str = "deepface-batch") -> int:
    args = build_parser(prog).parse_args(argv)
    if getattr(args, "batch_size", None) is not None and args.batch_size < 1:
        return _error(f"--batch-size must be 1 or more, got {args.batch_size}")
    if getattr(args, "every", 1) < 1:
        return _error(f"--every must be 1 or more, got {args.every}")
    try:
        return args.run(args)
    except config.ConfigError as err:  # DEEPFACE_BATCH_SIZE=abc and the like
        return _error(str(err))


if __name__ == "__main__":
    sys.exit(main())
