"""Soak: a long stream of small frames through iter_extract_faces and iter_represent.

    DEEPFACE_BACKEND_ENGINE=onnx .venv/bin/python benchmarks/bench_soak.py \\
        --out benchmarks/results/$(date -u +%F)-cpu-soak.md
    DEEPFACE_BACKEND_ENGINE=onnx .venv/bin/python benchmarks/bench_soak.py --frames 2000   # quick check

What it measures: whether resident memory stays flat over a stream of frames, sampled
along the way, and how fast the stream goes.
Three soaks, each in a fresh process:

* **extract**: ``--frames`` frames (default 100,000) through
  ``deepface_batch.iter_extract_faces`` with the opencv detector (real cascades from
  OpenCV's wheel), ``enforce_detection=False``, ``errors="return"``.
* **represent**: ``--represent-frames`` frames (default 50,000) through
  ``deepface_batch.iter_represent``, opencv detector, OpenFace on planted seeded weights
  (tests/support/planting.py; speed and memory do not depend on the weights). Not 100,000: every
  frame is embedded (a frame without a face as the whole image, as upstream does with
  ``enforce_detection=False``), and on the 2-core CPU the results were measured on the
  represent soak runs about 160 frames/s unloaded, so 100,000 frames would take over 10
  minutes; 50,000 fit in about 5. Dlib, the one recognition model with real weights here,
  ran 13 frames/s on this stream (about 4,700 frames in 6 minutes), too slow for a soak,
  hence the planted OpenFace (``--model Dlib`` runs it anyway).
* **guard** (memory regression, not timed): ``--guard-frames`` frames through
  ``iter_extract_faces`` with ``errors="return"`` and ``enforce_detection=True`` where
  most frames are faceless, so most entries are returned ``FaceNotDetected`` errors. Every
  soak keeps every returned error until its end, as a caller logging failures would; an
  error that pinned its batch (an earlier defect) would add a batch's memory per error, so
  the guard compares the growth per kept error with the size of one batch, and its RSS with
  the extract soak's.

The frames come from a generator, never a list: small crops and rescales of scikit-image's
astronaut (96 x 72 and 128 x 96, some mirrored; ``deepface_batch.samples``), and faceless
frames (black, dark sensor-like noise, full-range noise), with a bad item every
``--bad-every`` frames (a 2-D array or a boolean array, alternately), each a returned error.

Resident memory (RSS, from psutil when installed, else /proc/self/statm) is sampled every
``--sample-every`` frames (default 2,000; 1/20 of the run when shorter); the peak is the
larger of the samples' and the kernel's high-water mark (VmHWM, reset when the soak
starts). Reported per soak: frames/s (the whole run, model loading included), faces
found, errors returned, RSS at start (deepface_batch imported; deepface, the detector and
the model load during the warm-up), after warm-up (the first ``--warmup`` of the frames,
default 10%), peak and end, and the RSS slope after warm-up by least squares, in MB
(10^6 bytes) per 10,000 frames, with a verdict: flat when the slope is under
``--flat-slope`` MB per 10,000 frames (default 1: under 100 bytes a frame), growing
otherwise, and no verdict under 20,000 frames after warm-up (the allocator's few MB of
settling read as a steep slope over a short run: ``--frames 2000`` only checks that it
all runs). The guard (default 20,000 frames) is judged by memory per kept error instead.
Nothing here asserts a time. Weights come from $DEEPFACE_HOME, else ../shared/weights (or
$DEEPFACE_BATCH_WEIGHTS; see tests/support/paths.py).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
from _common import machine, plant_recognition, weights_home, write_result

MB = 1e6

# -- the stream ---------------------------------------------------------------------------

#: shares of the faceless frames: black, dark noise (a sensor in the dark), full-range noise
FACELESS_KINDS = (("black", 0.45), ("dark", 0.40), ("noise", 0.15))
#: frame sizes (width, height) of the face frames and how often each is drawn
FACE_SIZES = (((96, 72), 0.75), ((128, 96), 0.25))
#: the size of the faceless frames and of the bad items
FACELESS_SIZE = (96, 72)


def face_palette() -> dict[tuple[int, int], list[np.ndarray]]:
    """Crops of the astronaut around her face, rescaled to each face frame size.

    Crops 160, 200 and 240 px wide (the face about 97 px wide in the 512 px photograph),
    shifted 20 px left, centred and 20 px right, each also mirrored: opencv finds the face
    in most of them, at 30 to 80 px, not in all (as in a real stream).
    """
    import cv2

    from deepface_batch import samples

    photo = samples.astronaut()
    centre_x, centre_y = 176 + 48, 66 + 48  # the face opencv finds in the photograph
    palette: dict[tuple[int, int], list[np.ndarray]] = {}
    for (width, height), _ in FACE_SIZES:
        frames = []
        for crop_w in (160, 200, 240):
            crop_h = crop_w * height // width
            for shift in (-20, 0, 20):
                x = max(0, centre_x - crop_w // 2 + shift)
                y = max(0, centre_y - crop_h // 2)
                crop = photo[y : y + crop_h, x : x + crop_w]
                frame = cv2.resize(crop, (width, height), interpolation=cv2.INTER_AREA)
                frames += [frame, np.ascontiguousarray(frame[:, ::-1])]
        palette[(width, height)] = frames
    return palette


def stream(n: int, face_share: float, bad_every: int, seed: int, counts: Counter) -> Iterator[np.ndarray]:
    """``n`` frames, made one at a time (a fresh array each), counted by kind in ``counts``.

    Every ``bad_every``-th item is bad (a 2-D array, then a boolean array, alternately);
    the others are a face frame with probability ``face_share``, else a faceless one.
    """
    palette = face_palette()
    sizes = [size for size, _ in FACE_SIZES]
    size_p = np.array([p for _, p in FACE_SIZES])
    kinds = [kind for kind, _ in FACELESS_KINDS]
    kind_p = np.array([p for _, p in FACELESS_KINDS])
    width, height = FACELESS_SIZE
    rng = np.random.default_rng(seed)
    bad = 0
    for i in range(n):
        if bad_every and i % bad_every == bad_every - 1:
            bad += 1
            if bad % 2:
                counts["bad: 2-D array"] += 1
                yield np.zeros((height, width), dtype=np.uint8)
            else:
                counts["bad: bool array"] += 1
                yield np.zeros((height, width, 3), dtype=bool)
            continue
        if rng.random() < face_share:
            size = sizes[rng.choice(len(sizes), p=size_p)]
            frames = palette[size]
            counts["face"] += 1
            yield frames[rng.integers(len(frames))].copy()
            continue
        kind = kinds[rng.choice(len(kinds), p=kind_p)]
        counts[kind] += 1
        if kind == "black":
            yield np.zeros((height, width, 3), dtype=np.uint8)
        elif kind == "dark":
            yield rng.integers(0, 12, (height, width, 3), dtype=np.uint8)
        else:
            yield rng.integers(0, 256, (height, width, 3), dtype=np.uint8)


# -- memory -------------------------------------------------------------------------------


def rss_reader() -> tuple[Callable[[], float], str]:
    """A function giving the resident size in bytes, and where it reads it from."""
    try:
        import psutil

        process = psutil.Process()
        return (lambda: float(process.memory_info().rss)), "psutil"
    except ImportError:
        page = os.sysconf("SC_PAGE_SIZE")

        def statm() -> float:
            with open("/proc/self/statm", encoding="ascii") as handle:
                return float(int(handle.read().split()[1]) * page)

        return statm, "/proc/self/statm"


def reset_peak() -> bool:
    """Reset the kernel's high-water mark (VmHWM) to the current resident size."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as refs:
            refs.write("5")
        return True
    except OSError:
        return False


def high_water_mark() -> float | None:
    """VmHWM in bytes, where /proc has it."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM"):
                    return float(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def slope_per_10k(samples: list[tuple[int, float]], after: int) -> float | None:
    """Least-squares slope of RSS (MB) over frames, in MB per 10,000 frames, from ``after``."""
    points = [(frames, rss) for frames, rss in samples if frames >= after]
    if len(points) < 3:
        return None
    x = np.array([p[0] for p in points], dtype=float)
    y = np.array([p[1] for p in points], dtype=float) / MB
    return float(np.polyfit(x, y, 1)[0] * 10_000)


# -- one soak, in its own process ---------------------------------------------------------


def run_soak(config: dict[str, Any]) -> dict[str, Any]:
    """Stream ``config['frames']`` frames through one soak; the measurements as a dict."""
    rss, rss_source = rss_reader()
    import deepface_batch

    frames = config["frames"]
    every = config["sample_every"]
    warmup = config["warmup"]
    counts: Counter = Counter()
    source = stream(frames, config["face_share"], config["bad_every"], config["seed"], counts)
    common = dict(
        detector_backend=config["detector"],
        enforce_detection=config["enforce_detection"],
        batch_size=config["batch_size"],
        errors="return",
    )
    # start: nothing of deepface loaded yet (iter_represent builds its model when called)
    peak_reset = reset_peak()
    load_start = os.getloadavg()[0]
    start_rss = rss()
    started = time.perf_counter()
    if config["kind"] == "represent":
        results = deepface_batch.iter_represent(source, model_name=config["model"], **common)
        confidence = "face_confidence"
    else:
        results = deepface_batch.iter_extract_faces(source, **common)
        confidence = "confidence"
    samples: list[tuple[int, float]] = [(0, start_rss)]
    kept_errors: list[Exception] = []  # every returned error, kept to the end
    error_kinds: Counter = Counter()
    faces = whole_image = done = 0
    warm_rss: float | None = None
    warm_errors = 0
    for entry in results:
        done += 1
        if isinstance(entry, Exception):
            kept_errors.append(entry)
            name = type(entry).__name__
            if name == "error":  # cv2.error
                name = f"{type(entry).__module__.split('.')[0]}.error"
            error_kinds[name] += 1
        else:
            for face in entry:
                if face[confidence] > 0:
                    faces += 1
                else:
                    whole_image += 1
        entry = None
        if done % every == 0 or done == frames:
            samples.append((done, rss()))
            print(
                f"{config['kind']}: {done} frames, {time.perf_counter() - started:.0f} s, "
                f"RSS {samples[-1][1] / MB:.1f} MB, {len(kept_errors)} errors kept",
                file=sys.stderr,
                flush=True,
            )
        if done == warmup:
            warm_rss = rss()
            warm_errors = len(kept_errors)
    wall = time.perf_counter() - started
    end_rss = rss()
    hwm = high_water_mark() if peak_reset else None
    peak = max([value for _, value in samples] + [end_rss] + ([hwm] if hwm else []))
    # what one batch of these frames holds in the engine: the frames and their bordered
    # copies (twice the width and height), the least an error pinning its batch would keep
    width, height = FACELESS_SIZE
    batch_bytes = config["batch_size"] * width * height * 3 * (1 + 4)
    return {
        "kind": config["kind"],
        "frames": done,
        "wall_s": wall,
        "fps": done / wall,
        "counts": dict(counts),
        "faces": faces,
        "whole_image": whole_image,
        "errors": len(kept_errors),
        "error_kinds": dict(error_kinds),
        "error_example": str(kept_errors[0]) if kept_errors else None,
        "errors_after_warmup": len(kept_errors) - warm_errors,
        "rss_source": rss_source,
        "start_mb": start_rss / MB,
        "warm_mb": (warm_rss or start_rss) / MB,
        "peak_mb": peak / MB,
        "end_mb": end_rss / MB,
        "slope": slope_per_10k(samples, warmup),
        "samples": [(f, round(r / MB, 1)) for f, r in samples],
        "load": (load_start, os.getloadavg()[0]),
        "batch_bytes": batch_bytes,
    }


def soak_in_child(config: dict[str, Any]) -> dict[str, Any]:
    """``run_soak(config)`` in a fresh interpreter, so each soak's RSS is its own."""
    out = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--child", json.dumps(config)],
        stdout=subprocess.PIPE,
        text=True,
        env=os.environ,
        check=False,
    )
    if out.returncode != 0:
        raise SystemExit(f"the {config['kind']} soak failed (exit {out.returncode})")
    return json.loads(out.stdout.strip().splitlines()[-1])


# -- report -------------------------------------------------------------------------------


#: fewest frames after warm-up for a slope to judge by: RSS moves by a few MB as the
#: allocator settles, which over a short run reads as a steep slope
MIN_JUDGED_FRAMES = 20_000


def guard_cost(guard: dict[str, Any]) -> float | None:
    """RSS growth after warm-up per error kept after warm-up, in bytes."""
    if not guard["errors_after_warmup"]:
        return None
    return (guard["end_mb"] - guard["warm_mb"]) * MB / guard["errors_after_warmup"]


def verdict(result: dict[str, Any], flat: float) -> str:
    """``flat`` or ``GROWING`` by the slope; for the guard, by the memory each kept error holds."""
    if result["kind"] == "guard":
        per_error = guard_cost(result)
        if per_error is None:
            return "no errors after warm-up"
        pinned = per_error > result["batch_bytes"] / 10
        return (
            f"{'ERRORS HOLD THEIR BATCHES' if pinned else 'flat but for the kept errors'}: "
            f"{per_error / 1024:.2f} KiB per kept error"
        )
    slope = result["slope"]
    judged = result["frames"] - result["warmup"]
    if slope is None or judged < MIN_JUDGED_FRAMES:
        return f"too short to judge ({judged:,} frames after warm-up, under {MIN_JUDGED_FRAMES:,})"
    return "flat" if slope < flat else "GROWING"


def report(args: argparse.Namespace, command: str, engine: str, results: list[dict]) -> str:
    by_kind = {r["kind"]: r for r in results}
    lines = [
        f"## {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC, {engine} engine",
        "",
        f"Machine: {machine()}.",
        f"Command: `{command}`.",
        "Load average (1 min) at the start and end of each soak: "
        + "; ".join(f"{r['kind']} {r['load'][0]:.1f} -> {r['load'][1]:.1f}" for r in results)
        + " (the soak itself keeps both cores busy, about 2; well above that, other jobs shared the CPU).",
        "",
        f"Stream: a generator of fresh arrays. Face frames ({args.face_share:.0%} in extract and "
        f"represent, {args.guard_face_share:.0%} in the guard): astronaut crops at "
        + " and ".join(f"{w} x {h} ({p:.0%})" for (w, h), p in FACE_SIZES)
        + "; faceless frames at "
        + f"{FACELESS_SIZE[0]} x {FACELESS_SIZE[1]}: "
        + ", ".join(f"{k} {p:.0%}" for k, p in FACELESS_KINDS)
        + f"; a bad item every {args.bad_every} frames (2-D array and boolean array, "
        f'alternately). errors="return"; every returned error is kept to the end of its '
        f"soak. batch_size={args.batch_size}. RSS from {results[0]['rss_source']}, sampled "
        f"every {results[0]['samples'][1][0] if len(results[0]['samples']) > 1 else '-'} frames; "
        f"MB = 10^6 bytes.",
        "",
        "| soak | call | frames | wall s | frames/s | faces found (face frames) | whole-image entries | errors returned | RSS start | after warm-up | peak | end MB | slope after warm-up, MB / 10k frames | verdict |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in results:
        call = {
            "extract": f"iter_extract_faces, {r['detector']}, enforce_detection={r['enforce_detection']}",
            "represent": f"iter_represent, {r['model']}, {r['detector']}, enforce_detection={r['enforce_detection']}",
            "guard": f"iter_extract_faces, {r['detector']}, enforce_detection={r['enforce_detection']}",
        }[r["kind"]]
        errors = ", ".join(f"{n:,} {k}" for k, n in sorted(r["error_kinds"].items())) or "0"
        slope = "-" if r["slope"] is None else f"{r['slope']:+.2f}"
        lines.append(
            f"| {r['kind']} | {call} | {r['frames']:,} | {r['wall_s']:.0f} | {r['fps']:.1f} | "
            f"{r['faces']:,} ({r['counts'].get('face', 0):,}) | {r['whole_image']:,} | {errors} | "
            f"{r['start_mb']:.0f} | {r['warm_mb']:.0f} | {r['peak_mb']:.0f} | {r['end_mb']:.0f} | "
            f"{slope} | {verdict(r, args.flat_slope)} |"
        )
    lines += [
        "",
        "Warm-up: the first "
        + ", ".join(f"{r['warmup']:,} frames of {r['kind']}" for r in results)
        + " (model built, allocator settled); verdict flat when the slope is under "
        f"{args.flat_slope:g} MB per 10,000 frames. Peak: the larger of the samples and VmHWM.",
        "",
    ]
    guard, extract = by_kind.get("guard"), by_kind.get("extract")
    if guard:
        grown = (guard["end_mb"] - guard["warm_mb"]) * MB
        per_error = guard_cost(guard)
        lines += [
            "### Memory-regression guard: most frames faceless, errors returned and kept",
            "",
            f"{guard['errors']:,} errors returned and kept of {guard['frames']:,} frames "
            f"({guard['errors_after_warmup']:,} after warm-up); RSS grew "
            f"{grown / MB:+.1f} MB after warm-up"
            + (f", {per_error / 1024:.2f} KiB per kept error" if per_error is not None else "")
            + f". One batch of these frames ({args.batch_size} frames of "
            f"{FACELESS_SIZE[0]} x {FACELESS_SIZE[1]} and their bordered copies) is at least "
            f"{guard['batch_bytes'] / 1024:.0f} KiB: an error pinning its batch would add that "
            "much per error"
            + (
                f" (here {guard['batch_bytes'] * guard['errors_after_warmup'] / MB:,.0f} MB)."
                if guard["errors_after_warmup"]
                else "."
            ),
        ]
        if per_error is not None:
            pinned = per_error > guard["batch_bytes"] / 10
            lines.append(
                f"Verdict: {'ERRORS HOLD MEMORY' if pinned else 'errors do not pin their batches'} "
                f"(a kept error costs {per_error / guard['batch_bytes']:.2%} of a batch; the "
                "threshold is 10%)."
            )
        if extract:
            lines.append(
                f"Beside the extract soak ({extract['errors']:,} errors in {extract['frames']:,} "
                f"frames): RSS after warm-up {guard['warm_mb']:.0f} against "
                f"{extract['warm_mb']:.0f} MB, peak {guard['peak_mb']:.0f} against "
                f"{extract['peak_mb']:.0f} MB, end {guard['end_mb']:.0f} against "
                f"{extract['end_mb']:.0f} MB."
            )
        lines.append("")
    lines += ["### RSS samples (frames: MB)", ""]
    for r in results:
        lines.append(f"- {r['kind']}: " + ", ".join(f"{f:,}: {m:.0f}" for f, m in r["samples"]))
    lines.append("")
    example = [r["error_example"] for r in results if r["error_example"]]
    if example:
        lines += ["First error of each soak, as returned:", ""]
        lines += [f"- {r['kind']}: `{r['error_example']}`" for r in results if r["error_example"]]
        lines.append("")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=100_000, help="extract soak frames")
    parser.add_argument(
        "--represent-frames",
        type=int,
        default=None,
        help="represent soak frames (default 50,000, or --frames when fewer; 0 skips it)",
    )
    parser.add_argument(
        "--guard-frames",
        type=int,
        default=None,
        help="guard frames (default 20,000, or --frames when fewer; 0 skips it)",
    )
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--model", default="OpenFace", help="recognition model of the represent soak")
    parser.add_argument("--detector", default="opencv")
    parser.add_argument("--face-share", type=float, default=0.2)
    parser.add_argument("--guard-face-share", type=float, default=0.05)
    parser.add_argument("--bad-every", type=int, default=500)
    parser.add_argument("--sample-every", type=int, default=2000)
    parser.add_argument("--warmup", type=float, default=0.1, help="share of each soak's frames")
    parser.add_argument("--flat-slope", type=float, default=1.0, help="MB per 10,000 frames")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", help="write the markdown report here (appended if it exists)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_soak(json.loads(args.child))))
        return 0

    weights_home()
    plant_recognition([args.model])
    from deepface_batch import compat

    engine = compat.get().backend_engine()
    sizes = {
        "extract": args.frames,
        "represent": min(args.frames, 50_000) if args.represent_frames is None else args.represent_frames,
        "guard": min(args.frames, 20_000) if args.guard_frames is None else args.guard_frames,
    }
    results = []
    for kind, frames in sizes.items():
        if frames <= 0:
            continue
        every = max(1, min(args.sample_every, frames // 20))
        config = {
            "kind": kind,
            "frames": frames,
            "detector": args.detector,
            "model": args.model,
            "enforce_detection": kind == "guard",
            "face_share": args.guard_face_share if kind == "guard" else args.face_share,
            "bad_every": args.bad_every,
            "batch_size": args.batch_size,
            "sample_every": every,
            "warmup": max(every, int(frames * args.warmup) // every * every),
            "seed": args.seed,
        }
        result = soak_in_child(config)
        result.update({k: config[k] for k in ("detector", "model", "enforce_detection", "warmup")})
        results.append(result)
        print(
            f"{kind}: {result['frames']} frames, {result['fps']:.1f} frames/s, RSS start "
            f"{result['start_mb']:.0f} / warm {result['warm_mb']:.0f} / peak {result['peak_mb']:.0f}"
            f" / end {result['end_mb']:.0f} MB, slope {result['slope']}",
            file=sys.stderr,
        )
    command = (
        f"DEEPFACE_BACKEND_ENGINE={engine} python benchmarks/bench_soak.py --frames {args.frames} "
        f"--represent-frames {sizes['represent']} --guard-frames {sizes['guard']} "
        f"--batch-size {args.batch_size} --model {args.model} --detector {args.detector}"
    )
    text = report(args, command, engine, results)
    print(text)
    if args.out:
        out = Path(args.out)
        header = (
            f"# Soak: a stream of small frames through iter_extract_faces and iter_represent "
            f"({dt.datetime.now(dt.timezone.utc):%Y-%m-%d}, {os.cpu_count()}-core CPU, no GPU)\n\n"
        )
        write_result(out, header, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
