"""The main job on an embedded default (``deepface-batch demo``, ``scripts/demo``).

A short clip is made from the bundled sample photograph (scikit-image's astronaut, public
domain): the face moves and changes size across the frame, one stretch has two faces and
one has none. ``deepface-batch video`` runs on it (the same job as the command), writing
``faces.jsonl``, an annotated MP4, a contact sheet and a preview PNG, and every record is
checked against upstream's own ``extract_faces`` on the same frame (bit for bit for a
pseudo backend, within the declared tolerance for a native one).

Then what the package gives, side by side on this machine, each row measured in this run
on the same work for both sides (the clip's frames, decoded beforehand, in memory; weights
loaded before either clock), against upstream's own one-image-per-call loop:

* the default (exact) mode on the default detector;
* a natively batched detector (centerface);
* the opt-in mode without upstream's border (``detect_without_border=True``), with how
  its faces agree with upstream's default result;
* ``represent`` (Dlib, the one recognition model with real weights offline, on
  centerface), with the embeddings' largest deviation from upstream's.

The table is printed as Markdown and written to ``table.md`` beside the records; a row
whose detector or model cannot run here says why instead of a figure.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from deepface_batch import comparison, compat, config, jobs, records, registry, samples, video

__all__ = ["DemoRow", "make_clip", "measure_table", "records_differ", "side_by_side", "table_markdown", "video_demo"]

#: the natively batched detector and the recognition model of the table
NATIVE_DETECTOR = "centerface"
MODEL = "Dlib"


def make_clip(path: Path, frames: int = 48, fps: float = 12.0, height: int = 480, width: int = 640) -> Path:
    """Write the demo clip: a moving, scaled face; two faces in one stretch; none in another."""
    import cv2

    face = samples.astronaut()[0:300, 70:370]  # head and shoulders
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), fps, (width, height))
    if not writer.isOpened():
        raise OSError(f"cannot write {path} with OpenCV's mp4v codec")
    try:
        for n in range(frames):
            phase = n / max(1, frames - 1)
            canvas = np.full((height, width, 3), 70 + int(60 * phase), np.uint8)
            if 0.70 <= phase < 0.85:  # a stretch without a face
                writer.write(canvas)
                continue
            side = int(180 + 180 * abs(np.sin(np.pi * phase)))  # 180 .. 360 px
            small = cv2.resize(face, (side, side), interpolation=cv2.INTER_AREA)
            x = int((width - side) * phase)
            y = (height - side) // 2
            canvas[y : y + side, x : x + side] = small
            if 0.35 <= phase < 0.55:  # a second, mirrored face
                other = cv2.resize(face, (160, 160), interpolation=cv2.INTER_AREA)[:, ::-1]
                ox = width - 170 if x < width // 2 else 10
                canvas[10:170, ox : ox + 160] = other
            writer.write(canvas)
    finally:
        writer.release()
    return path


def video_demo(detector: str | None, frames: int, batch_size: int | None, out: Path) -> int:
    """Run the demo; 0 when every record matches upstream's result."""
    detector = detector or config.DEFAULTS["detector_backend"].value
    out.mkdir(parents=True, exist_ok=True)
    layer = compat.get()
    clip = make_clip(out / "clip.mp4", frames)
    plugin = registry.get_detector(detector)
    options = jobs.JobOptions(detector=detector, batch_size=batch_size, quiet=True)
    kwargs: dict[str, Any] = {"detector_backend": detector, "enforce_detection": False}
    decoded = [frame.image for frame in video.iter_frames(str(clip))]
    print(
        f"deepface {layer.VERSION}, engine {layer.backend_engine()}, detector {detector} "
        f"({plugin.batch_mode.value} batching): {len(decoded)} frames of 640 x 480 in {clip}"
    )
    # load the detector's weights before any clock starts
    layer.reference_extract_faces(decoded[0], **kwargs)
    jobs.check(options)

    faces_path = out / "faces.jsonl"
    with records.open_writer(faces_path) as writer:
        summary = jobs.run_video([str(clip)], writer, options, annotate=out / "annotated.mp4", sheet=out / "sheet.jpg")
    print(f"deepface-batch video {clip.name}: {summary.line()} (decoding and writing included)")

    start = time.perf_counter()
    upstream = [layer.reference_extract_faces(img, **kwargs) for img in decoded]
    upstream_s = time.perf_counter() - start

    written = list(records.read(faces_path))
    by_frame: dict[int, list[dict]] = {}
    for record in written:
        by_frame.setdefault(int(record["frame"]), []).append(record)
    problems = []
    for index, result in enumerate(upstream):
        want = records.from_result(result, str(clip), index)
        got = by_frame.get(index, [])
        problems += [f"frame {index}: {p}" for p in records_differ(got, want, plugin.tolerance)]
    best = max(by_frame, key=lambda i: (sum(r["status"] == records.FACE for r in by_frame[i]), -i))
    preview = video.annotate(decoded[best], by_frame[best], f"frame {best}")
    import cv2

    cv2.imwrite(str(out / "preview.png"), preview)
    print(
        f"wrote {faces_path} ({len(written)} records), {out / 'annotated.mp4'}, {out / 'sheet.jpg'}, "
        f"{out / 'preview.png'}"
    )
    if problems:
        print("records differ from upstream's results beyond the declared tolerance:")
        print("\n".join(problems[:20]))
        return 1
    how = "bit for bit" if plugin.tolerance.exact else "within the declared tolerance"
    print(f"records: every frame's faces match upstream's ({how})\n")

    rows = measure_table(decoded, detector, batch_size, (upstream, upstream_s))
    table = table_markdown(rows, len(decoded))
    print(table)
    (out / "table.md").write_text(table + "\n", encoding="utf-8")
    print(f"\nwrote {out / 'table.md'}")
    return 0 if all(row.agrees for row in rows) else 1


@dataclass
class DemoRow:
    """One row of the demo's table: what was run, both sides' speed, and the agreement."""

    what: str
    backend: str
    batching: str = ""
    frames: int = 0
    upstream_s: float = 0.0
    ours_s: float = 0.0
    agreement: str = ""
    agrees: bool = True
    error: str | None = None

    @property
    def speedup(self) -> float:
        return self.upstream_s / self.ours_s if self.ours_s else 0.0


def _timed(run: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    result = run()
    return result, time.perf_counter() - start


def measure_table(
    decoded: list[np.ndarray],
    detector: str,
    batch_size: int | None,
    default_upstream: tuple[list, float] | None = None,
    every: int = 3,
) -> list[DemoRow]:
    """The table's rows, each measured now on the same frames for both sides.

    Args:
        decoded: the clip's frames, in memory.
        detector: the default mode's detector (the command's default: upstream's).
        batch_size: ours (``None``: the default).
        default_upstream: upstream's results and seconds on ``decoded`` with ``detector``,
            when already measured (the record check measures them).
        every: the slower rows run on every ``every``-th frame.
    """
    import deepface_batch

    layer = compat.get()
    few = decoded[::every]
    rows = []
    options: dict[str, Any] = {"enforce_detection": False}
    ours_options: dict[str, Any] = {**options, "batch_size": batch_size}

    # 1. the default mode: upstream's border, the plugin's batching, upstream's result
    plugin = registry.get_detector(detector)
    upstream, upstream_s = default_upstream or _timed(
        lambda: [layer.reference_extract_faces(img, detector_backend=detector, **options) for img in decoded]
    )
    ours, ours_s = _timed(lambda: deepface_batch.extract_faces(decoded, detector_backend=detector, **ours_options))
    rows.append(_extract_row("the default mode (exact)", plugin, decoded, upstream, upstream_s, ours, ours_s))

    # 2. a natively batched detector, and 3. the same without upstream's border
    try:
        native = registry.get_detector(NATIVE_DETECTOR)
        deepface_batch.extract_faces(few[:2], detector_backend=NATIVE_DETECTOR, **ours_options)
        layer.reference_extract_faces(few[0], detector_backend=NATIVE_DETECTOR, **options)
    except Exception as err:
        reason = " ".join(str(err).split())[:100]
        rows.append(DemoRow("a natively batched detector", NATIVE_DETECTOR, error=reason))
        rows.append(DemoRow("without the border (opt-in)", NATIVE_DETECTOR, error=reason))
    else:
        upstream, upstream_s = _timed(
            lambda: [layer.reference_extract_faces(img, detector_backend=NATIVE_DETECTOR, **options) for img in few]
        )
        ours, ours_s = _timed(
            lambda: deepface_batch.extract_faces(few, detector_backend=NATIVE_DETECTOR, **ours_options)
        )
        rows.append(_extract_row("a natively batched detector", native, few, upstream, upstream_s, ours, ours_s))
        free, free_s = _timed(
            lambda: deepface_batch.extract_faces(
                few, detector_backend=NATIVE_DETECTOR, detect_without_border=True, **ours_options
            )
        )
        measured = comparison.agreement(free, upstream)
        declared = native.border_agreement
        agrees = declared is None or not measured.problems(declared)
        rows.append(
            DemoRow(
                "without the border (opt-in)",
                NATIVE_DETECTOR,
                native.batch_mode.value,
                len(few),
                upstream_s,
                free_s,
                f"{measured.both} of upstream's {measured.found} faces found (recall {measured.recall:.2f}), "
                f"{measured.found_here - measured.both} more; boxes within {measured.max_box_px:g} px",
                agrees,
            )
        )

    # 4. represent: detection and embeddings
    rows.append(_represent_row(few, batch_size))
    return rows


def _extract_row(
    what: str, plugin: Any, images: list, upstream: list, upstream_s: float, ours: list, ours_s: float
) -> DemoRow:
    problems = [p for got, want in zip(ours, upstream) for p in comparison.compare_faces(got, want, plugin.tolerance)]
    worst = comparison.deviation(ours, upstream)
    if problems:
        agreement = f"NOT within the declared tolerance: {problems[0]}"
    elif plugin.tolerance.exact:
        agreement = "bit for bit"
    else:
        agreement = f"within tolerance ({plugin.tolerance.describe()}; measured box {worst['box_px']:g} px)"
    return DemoRow(
        what,
        plugin.name,
        plugin.batch_mode.value,
        len(images),
        upstream_s,
        ours_s,
        agreement,
        not problems,
    )


def _represent_row(images: list, batch_size: int | None) -> DemoRow:
    import deepface_batch
    from deepface_batch import embedding

    layer = compat.get()
    what = f"represent ({MODEL})"
    options: dict[str, Any] = {"model_name": MODEL, "detector_backend": NATIVE_DETECTOR, "enforce_detection": False}
    try:
        embedder = embedding.get_embedder(MODEL)
        layer.reference_represent(images[0], **options)
        deepface_batch.represent(images[:2], batch_size=batch_size, **options)
    except Exception as err:
        return DemoRow(what, NATIVE_DETECTOR, error=" ".join(str(err).split())[:100])
    upstream, upstream_s = _timed(lambda: [layer.reference_represent(img, **options) for img in images])
    ours, ours_s = _timed(lambda: deepface_batch.represent(images, batch_size=batch_size, **options))
    tolerance = embedder.tolerance
    worst, counts_differ = 0.0, 0
    for got, want in zip(ours, upstream):
        if len(got) != len(want):
            counts_differ += 1
            continue
        for a, b in zip(got, want):
            worst = max(worst, tolerance.deviation(a["embedding"], b["embedding"]))
    agrees = counts_differ == 0 and worst <= tolerance.relative
    faces = sum(len(entry) for entry in upstream)
    agreement = (
        f"{faces} embeddings, largest relative deviation {worst:.2g} (tolerance {tolerance.relative:g})"
        if not counts_differ
        else f"{counts_differ} frames differ in their number of faces"
    )
    batching = f"{registry.get_detector(NATIVE_DETECTOR).batch_mode.value}, model {embedder.mode.value}"
    return DemoRow(what, NATIVE_DETECTOR, batching, len(images), upstream_s, ours_s, agreement, agrees)


def table_markdown(rows: list[DemoRow], clip_frames: int) -> str:
    """The demo's table: one row per mode, both sides measured on the same frames."""
    from deepface_batch import compat

    layer = compat.get()
    lines = [
        f"What deepface-batch gives on this machine: the demo clip's 640 x 480 frames, decoded beforehand, "
        f"each side on the same frames (deepface {layer.VERSION}, engine {layer.backend_engine()}):",
        "",
        "| mode | backend | batching | frames | upstream's loop, frames/s | deepface-batch, frames/s | speed-up | "
        "agreement with upstream |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for row in rows:
        if row.error is not None:
            lines.append(f"| {row.what} | {row.backend} | | | | | | not run here: {row.error} |")
            continue
        lines.append(
            f"| {row.what} | {row.backend} | {row.batching} | {row.frames} | {row.frames / row.upstream_s:.1f} | "
            f"{row.frames / row.ours_s:.1f} | {row.speedup:.2f}x | {row.agreement} |"
        )
    return "\n".join(lines)


def records_differ(got: list[dict], want: list[dict], tolerance) -> list[str]:
    """Differences between two inputs' records beyond ``tolerance`` (boxes, eyes, confidence)."""
    if [r["status"] for r in got] != [r["status"] for r in want]:
        return [f"{len(got)} records {[r['status'] for r in got]} vs {[r['status'] for r in want]}"]
    order = lambda r: (r["x"] or 0, r["y"] or 0, r["w"] or 0, r["h"] or 0)  # noqa: E731
    problems = []
    for a, b in zip(sorted(got, key=order), sorted(want, key=order)):
        if a["status"] != records.FACE:
            continue
        box = max(abs(a[k] - b[k]) for k in "xywh")
        if box > tolerance.box_px:
            problems.append(f"box differs by {box} px (allowed {tolerance.box_px})")
        for key in records.LANDMARKS:
            if (a[key] is None) != (b[key] is None):
                problems.append(f"{key} {a[key]} vs {b[key]}")
            elif a[key] is not None:
                diff = max(abs(x - y) for x, y in zip(a[key], b[key]))
                if diff > tolerance.landmark_px:
                    problems.append(f"{key} differs by {diff} px (allowed {tolerance.landmark_px})")
        conf = abs(a["confidence"] - b["confidence"])
        if conf > tolerance.confidence:
            problems.append(f"confidence differs by {conf:.3g} (allowed {tolerance.confidence})")
    return problems


def side_by_side(detector: str, frames: int, batch_size: int) -> int:
    """Batched ``extract_faces`` beside upstream's loop on the sample images (the old demo)."""
    import deepface_batch

    sample_frames = samples.video_frames()
    images = [sample_frames[i % len(sample_frames)] for i in range(frames)] + samples.mixed_images()
    kwargs: dict[str, Any] = {"detector_backend": detector, "enforce_detection": False}
    layer = compat.get()
    print(
        f"deepface {layer.VERSION}, detector {detector}: {frames} frames of 640 x 480 "
        f"and {len(images) - frames} images of mixed sizes, from scikit-image's astronaut"
    )
    layer.reference_extract_faces(images[0], **kwargs)  # weights loaded before the clocks

    start = time.perf_counter()
    upstream = [layer.reference_extract_faces(img, **kwargs) for img in images]
    upstream_s = time.perf_counter() - start
    start = time.perf_counter()
    batched = deepface_batch.extract_faces(images, batch_size=batch_size, **kwargs)
    batched_s = time.perf_counter() - start

    plugin = deepface_batch.get_detector(detector)
    problems = []
    for index, (got, want) in enumerate(zip(batched, upstream)):
        problems += comparison.compare_faces(got, want, plugin.tolerance, where=f"image {index}")
    faces = [sum(1 for f in entry if f["confidence"] > 0) for entry in batched]
    print("faces per image:", " ".join(str(n) for n in faces))
    print(f"upstream loop    : {upstream_s:7.2f} s  ({len(images) / upstream_s:6.1f} images/s)")
    print(
        f"deepface_batch   : {batched_s:7.2f} s  ({len(images) / batched_s:6.1f} images/s, "
        f"{plugin.batch_mode.value} batching, batch_size={batch_size})"
    )
    print(f"speed-up         : {upstream_s / batched_s:7.2f}x")
    if problems:
        print("results differ from upstream beyond the declared tolerance:")
        print("\n".join(problems))
        return 1
    how = "bit-identical" if plugin.tolerance.exact else "within tolerance"
    print(f"results          : every image matches upstream's ({how})")
    return 0
