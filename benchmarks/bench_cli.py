"""``deepface-batch video`` end to end against the library and upstream's loop, per backend.

    python benchmarks/bench_cli.py                                   # opencv, ssd, yunet, centerface
    python benchmarks/bench_cli.py --frames 24 --repeats 1 --backends opencv
    DEEPFACE_BACKEND_ENGINE=tensorflow .venv-tf/bin/python benchmarks/bench_cli.py --backends mtcnn --out report.md

A clip is made once (``deepface_batch.demo.make_clip``: mp4v, 640 x 480, the bundled
astronaut moving and scaling, a stretch with two faces and one with none) and decoded
beforehand with a plain ``cv2.VideoCapture`` loop. Then, per backend, after a warm-up
(weights loaded, both paths and the job run once on a short clip), each of these is timed,
interleaved repeat by repeat so that load from elsewhere falls on all of them alike:

- upstream: ``DeepFace.extract_faces`` unpatched (``compat.get().reference_extract_faces``),
  one decoded frame per call;
- library: ``deepface_batch.extract_faces`` on the list of decoded frames, ``batch_size=B``;
- job: ``deepface_batch.jobs.run_video`` in this process (what ``deepface-batch video``
  runs after parsing its arguments), quiet, records to a JSONL file: decoding on its
  background thread and writing included; the clock is the job's own (``Summary.seconds``,
  the figure the command prints), and the wall time around the whole call is kept too;
- subprocess: ``python -m deepface_batch video CLIP -o out.jsonl --detector X --batch-size B -q``
  timed from outside: interpreter start, imports and model loading included; and once
  more without ``-q``, for the frames per second the command prints in its summary line
  (its job clock, which starts before the first batch prepares the detector).

It reports frames per second (median of the repeats), the ratios, and the target: the job
within 10% of the library on pre-decoded frames (decoding and writing hidden behind
inference). Where a backend misses it (or with ``--profile``), one ``run_video`` is
profiled (cProfile, main thread only: the decoder thread is not in it). Weights come from
$DEEPFACE_HOME, else ../shared/weights beside the checkout (see tests/support/paths.py).
"""

from __future__ import annotations

import argparse
import atexit
import cProfile
import datetime as dt
import io
import os
import pstats
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT, machine, weights_home, write_result  # puts the root on sys.path

#: the job's throughput must be at least this share of the library's on decoded frames
TARGET = 0.90


def decode(path: Path) -> list:
    """Every frame of ``path``, decoded with a plain VideoCapture loop (not the package's)."""
    import cv2

    capture = cv2.VideoCapture(str(path))
    frames = []
    try:
        while True:
            ok, image = capture.read()
            if not ok:
                break
            frames.append(image)
    finally:
        capture.release()
    return frames


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def load() -> float:
    return os.getloadavg()[0]


def run_job(clip: Path, out: Path, backend: str, batch_size: int):
    """``jobs.run_video`` as the command runs it (quiet), records to ``out``; its summary."""
    from deepface_batch import jobs, records

    options = jobs.JobOptions(detector=backend, batch_size=batch_size, quiet=True)
    with records.open_writer(out) as writer:
        return jobs.run_video([str(clip)], writer, options)


def run_subprocess(clip: Path, out: Path, backend: str, batch_size: int, quiet: bool = True) -> tuple[float, str]:
    """The command in a fresh interpreter: its wall time from outside, and its stderr."""
    command = [
        sys.executable, "-m", "deepface_batch", "video", str(clip), "-o", str(out),
        "--detector", backend, "--batch-size", str(batch_size),
    ] + (["-q"] if quiet else [])  # fmt: skip
    start = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, env=os.environ, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} exited {done.returncode}:\n{done.stderr[-2000:]}")
    return seconds, done.stderr


#: the command's summary line: "... ; 12.3 s, 7.8 frames/s"
SUMMARY = re.compile(r"deepface-batch: .*; ([0-9.]+) s, ([0-9.]+) frames/s")


def reported(stderr: str) -> float:
    """The job's seconds as the command prints them in its summary line."""
    found = SUMMARY.findall(stderr)
    if not found:
        raise SystemExit(f"no summary line in the command's stderr:\n{stderr[-2000:]}")
    return float(found[-1][0])


def profile_job(clip: Path, out: Path, backend: str, batch_size: int, top: int = 15) -> str:
    profiler = cProfile.Profile()
    profiler.enable()
    summary = run_job(clip, out, backend, batch_size)
    profiler.disable()
    text = io.StringIO()
    stats = pstats.Stats(profiler, stream=text)
    stats.strip_dirs().sort_stats("cumulative").print_stats(top)
    return f"job under the profiler: {summary.line()}\n\n" + text.getvalue().strip() + "\n"


def bench(backend: str, clip: Path, warm_clip: Path, frames: list, args, work: Path) -> dict:
    import deepface_batch
    from deepface_batch import compat, records

    layer = compat.get()
    plugin = deepface_batch.get_detector(backend)
    kwargs = {"detector_backend": backend, "enforce_detection": False}
    b = args.batch_size
    n = len(frames)
    out = work / f"{backend}.jsonl"
    sub_out = work / f"{backend}-subprocess.jsonl"
    load_start = load()

    # warm every path (weights, nets per shape, thread pools, the job's imports) before any clock
    layer.reference_extract_faces(frames[0], **kwargs)
    deepface_batch.extract_faces(frames[:b], batch_size=b, **kwargs)
    run_job(warm_clip, out, backend, b)

    runs: dict[str, list[float]] = {"upstream": [], "library": [], "job": [], "job_wall": [], "subprocess": []}
    faces = job_faces = job_frames = None
    upstream_repeats = args.upstream_repeats if args.upstream_repeats is not None else args.repeats
    for repeat in range(args.repeats):
        if repeat < upstream_repeats:
            _, seconds = timed(lambda: [layer.reference_extract_faces(f, **kwargs) for f in frames])
            runs["upstream"].append(seconds)
        ours, seconds = timed(lambda: deepface_batch.extract_faces(frames, batch_size=b, **kwargs))
        runs["library"].append(seconds)
        faces = sum(1 for entry in ours for f in entry if f["confidence"] > 0)
        del ours
        summary, wall = timed(lambda: run_job(clip, out, backend, b))
        runs["job"].append(summary.seconds)
        runs["job_wall"].append(wall)
        job_faces, job_frames = summary.faces, summary.inputs
        runs["subprocess"].append(run_subprocess(clip, sub_out, backend, b)[0])
        print(
            f"  {backend} repeat {repeat + 1}: "
            + ", ".join(f"{k} {n / v[-1]:.1f} f/s" for k, v in runs.items() if len(v) > repeat),
            file=sys.stderr,
        )
    # once more without -q, for the time the command prints (its job clock: model loading
    # included, since the first batch prepares the detector; the progress bar on)
    wall, stderr = run_subprocess(clip, work / "loud.jsonl", backend, b, quiet=False)
    runs["printed"] = [reported(stderr)]
    runs["printed_wall"] = [wall]
    sub_records = list(records.read(sub_out))
    sub_faces = sum(1 for r in sub_records if r["status"] == records.FACE)
    sub_frames = len({r["frame"] for r in sub_records})
    fps = {k: n / statistics.median(v) for k, v in runs.items()}
    row = {
        "backend": backend,
        "mode": plugin.batch_mode.value,
        "frames": n,
        "runs": runs,
        "fps": fps,
        "ratio": fps["library"] / fps["upstream"],
        "job_ratio": fps["job"] / fps["library"],
        "job_upstream": fps["job"] / fps["upstream"],
        "start_s": statistics.median(runs["subprocess"]) - statistics.median(runs["job"]),
        "printed_s": runs["printed"][0],
        "faces": faces,
        "job_faces": job_faces,
        "job_frames": job_frames,
        "sub_faces": sub_faces,
        "sub_frames": sub_frames,
        "load": (load_start, load()),
    }
    row["met"] = row["job_ratio"] >= TARGET
    if args.profile or not row["met"]:
        row["profile"] = profile_job(clip, out, backend, b)
    return row


def table(rows: list[dict]) -> str:
    lines = [
        "| backend | batching | upstream loop f/s | library f/s | job (in-process) f/s | "
        "subprocess f/s (wall) | printed by the command f/s | ours/upstream | job/library | job within 10% | faces: library, job, subprocess |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |",
    ]
    for r in rows:
        f = r["fps"]
        consistent = (
            r["faces"] == r["job_faces"] == r["sub_faces"] and r["job_frames"] == r["sub_frames"] == r["frames"]
        )
        lines.append(
            f"| {r['backend']} | {r['mode']} | {f['upstream']:.1f} | {f['library']:.1f} | {f['job']:.1f} | "
            f"{f['subprocess']:.1f} | {f['printed']:.1f} | {r['ratio']:.2f}x | **{r['job_ratio']:.2f}** | "
            f"{'yes' if r['met'] else '**no**'} | {r['faces']}, {r['job_faces']}, {r['sub_faces']}"
            f"{'' if consistent else ' (DIFFER)'} |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="\n".join(__doc__.splitlines()[1:]),
    )  # fmt: skip
    parser.add_argument("--backends", default="opencv,ssd,yunet,centerface", help="comma-separated detector backends")
    parser.add_argument("--frames", type=int, default=96, help="frames in the clip (default: 96)")
    parser.add_argument(
        "--batch-size", type=int, default=32, help="batch size of the library and the job (default: 32, the command's)"
    )
    parser.add_argument(
        "--repeats", type=int, default=3, help="timed runs of each measurement; the median is reported (default: 3)"
    )
    parser.add_argument(
        "--upstream-repeats", type=int, default=None, help="timed runs of upstream's loop (default: --repeats)"
    )
    parser.add_argument(
        "--profile", action="store_true", help="profile one job per backend even where it meets the target"
    )
    parser.add_argument("--out", help="write the markdown report here (a section appended if it exists)")
    args = parser.parse_args()
    weights_home()

    from deepface_batch import compat, demo

    engine = compat.get().backend_engine()
    work = Path(tempfile.mkdtemp(prefix="deepface-batch-bench-cli-"))
    atexit.register(shutil.rmtree, work, ignore_errors=True)
    clip = demo.make_clip(work / "clip.mp4", args.frames)
    warm_clip = demo.make_clip(work / "warm.mp4", min(args.frames, max(8, args.batch_size)))
    decode_runs = []
    for _ in range(max(3, args.repeats)):
        frames, seconds = timed(lambda: decode(clip))
        decode_runs.append(seconds)
    decode_fps = len(frames) / statistics.median(decode_runs)
    if len(frames) != args.frames:
        print(f"note: the clip decodes to {len(frames)} frames, not {args.frames}", file=sys.stderr)

    started = dt.datetime.now(dt.timezone.utc)
    rows = []
    for backend in args.backends.split(","):
        print(f"{backend}: {len(frames)} frames, batch size {args.batch_size}", file=sys.stderr)
        rows.append(bench(backend, clip, warm_clip, frames, args, work))

    upstream_repeats = args.upstream_repeats if args.upstream_repeats is not None else args.repeats
    python = os.path.relpath(sys.executable, Path.cwd()) if sys.executable.startswith(str(ROOT)) else "python"
    command = (
        f"{'DEEPFACE_BACKEND_ENGINE=' + os.environ['DEEPFACE_BACKEND_ENGINE'] + ' ' if os.environ.get('DEEPFACE_BACKEND_ENGINE') else ''}"
        f"{python} benchmarks/bench_cli.py --backends {args.backends} --frames {args.frames} "
        f"--batch-size {args.batch_size} --repeats {args.repeats}"
        + (f" --upstream-repeats {upstream_repeats}" if upstream_repeats != args.repeats else "")
        + (" --profile" if args.profile else "")
    )
    lines = [
        f"## {started:%Y-%m-%d %H:%M} UTC, {engine} engine",
        "",
        f"Machine: {machine()}.",
        f"Command: `{command}`.",
        f"Clip: {len(frames)} frames, 640 x 480, mp4v (`demo.make_clip`); decoding it alone "
        f"(a plain VideoCapture loop) runs {decode_fps:.0f} frames/s, {1000 / decode_fps:.1f} ms a frame. "
        f"batch_size={args.batch_size}, align=True, enforce_detection=False. Frames per second are the "
        f"median of {args.repeats} timed runs ({upstream_repeats} for upstream's loop), interleaved, after a warm-up. "
        "Job: `jobs.run_video` in this process, warmed, on its own clock (`Summary.seconds`); "
        "printed: the frames/s in the summary line of one more subprocess run without -q (the same clock, "
        "but cold: it starts before the first batch loads the detector); "
        "subprocess: `python -m deepface_batch video CLIP -o out.jsonl --detector X --batch-size B -q`, "
        "wall time from outside (interpreter start, imports and model loading included).",
        "",
        table(rows),
        "",
        "Runs (frames/s, in order) and load average (1 min) at each backend's start and end:",
        "",
    ]
    n = len(frames)
    for r in rows:
        runs = "; ".join(f"{k} " + ", ".join(f"{n / s:.1f}" for s in v) for k, v in r["runs"].items() if v)
        lines.append(
            f"- {r['backend']}: {runs}. Subprocess start-up and model loading, median subprocess "
            f"wall minus median job: {r['start_s']:.1f} s. Job over upstream's loop: "
            f"{r['job_upstream']:.2f}x. Load {r['load'][0]:.1f} -> {r['load'][1]:.1f}."
        )
    for r in rows:
        if "profile" in r:
            lines += [
                "",
                f"### Profile: {r['backend']}, one `run_video` ({'target missed' if not r['met'] else '--profile'}), "
                "top 15 by cumulative time",
                "",
                "```",
                r["profile"].rstrip(),
                "```",
            ]
    text = "\n".join(lines)
    print(text)
    if args.out:
        header = f"# `deepface-batch video` end to end, {started:%Y-%m-%d}, CPU ({os.cpu_count()} cores)\n\n"
        write_result(Path(args.out), header, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
