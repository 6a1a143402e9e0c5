"""The main job on an embedded default (``deepface-batch demo``, ``scripts/demo``).

A short clip is made from the bundled sample photograph (scikit-image's astronaut, public
domain): the face moves and changes size across the frame, one stretch has two faces and
one has none. ``deepface-batch video`` runs on it (the same job as the command), writing
``faces.jsonl``, an annotated MP4, a contact sheet and a preview PNG; then upstream's own
``extract_faces`` runs frame by frame on the same decoded frames, for the speed beside
ours and for the check: every record must agree with upstream's result within the
backend's declared tolerance (bit for bit for a pseudo backend).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from deepface_batch import comparison, compat, jobs, records, registry, samples, video

__all__ = ["make_clip", "records_differ", "side_by_side", "video_demo"]


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


def video_demo(detector: str, frames: int, batch_size: int, out: Path) -> int:
    """Run the demo; 0 when every record matches upstream's result."""
    out.mkdir(parents=True, exist_ok=True)
    layer = compat.get()
    clip = make_clip(out / "clip.mp4", frames)
    plugin = registry.get_detector(detector)
    options = jobs.JobOptions(detector=detector, batch_size=batch_size)
    kwargs: dict[str, Any] = {"detector_backend": detector, "enforce_detection": False}
    decoded = [frame.image for frame in video.iter_frames(str(clip))]
    print(
        f"deepface {layer.VERSION}, detector {detector} ({plugin.batch_mode.value} batching): "
        f"{len(decoded)} frames of 640 x 480 in {clip}"
    )
    # load the detector's weights before any clock starts
    layer.reference_extract_faces(decoded[0], **kwargs)
    jobs.check(options)

    faces_path = out / "faces.jsonl"
    with records.open_writer(faces_path) as writer:
        summary = jobs.run_video([str(clip)], writer, options, annotate=out / "annotated.mp4", sheet=out / "sheet.jpg")
    print(f"deepface-batch video: {summary.line()} (decoding included)")

    start = time.perf_counter()
    upstream = [layer.reference_extract_faces(img, **kwargs) for img in decoded]
    upstream_s = time.perf_counter() - start
    print(
        f"upstream loop    : {upstream_s:6.2f} s, {len(decoded) / upstream_s:6.1f} frames/s (frames decoded beforehand)"
    )
    print(
        f"deepface-batch   : {summary.seconds:6.2f} s, {summary.per_second:6.1f} frames/s, "
        f"{upstream_s / summary.seconds:.2f}x upstream's loop"
    )

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
    print(f"records          : every frame's faces match upstream's ({how})")
    return 0


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
