"""How two ``extract_faces`` results (or two lists of detector regions) differ.

Used by the contract suite (:mod:`deepface_batch.testing`), the demo and the front door's
parity check, so it imports no test framework: a user's environment without pytest runs it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from deepface_batch.plugin import Tolerance

LANDMARKS = ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")


def _distance(a: Any, b: Any) -> float:
    if a is None and b is None:
        return 0.0
    if a is None or b is None:
        return float("inf")
    return float(max(abs(x - y) for x, y in zip(a, b)))


def _box_key(face: dict[str, Any]) -> tuple:
    area = face["facial_area"]
    # boxes clipped to the image edges can tie: the eyes and the confidence break ties
    eyes = tuple(tuple(area.get(k) or ()) for k in ("left_eye", "right_eye"))
    return (area["x"], area["y"], area["w"], area["h"], eyes, face.get("confidence", 0))


def compare_faces(
    actual: Sequence[dict[str, Any]],
    expected: Sequence[dict[str, Any]],
    tolerance: Tolerance,
    where: str = "",
) -> list[str]:
    """Differences between two ``extract_faces`` results beyond ``tolerance``.

    Each message reports the measured difference next to the allowed one.
    """
    problems: list[str] = []
    if len(actual) != len(expected):
        return [f"{where}: {len(actual)} faces, expected {len(expected)}"]
    # Faces of one image are compared in a canonical order: upstream's own opencv detector
    # returns them in an order that depends on thread scheduling, run to run.
    actual, expected = sorted(actual, key=_box_key), sorted(expected, key=_box_key)
    for n, (got, want) in enumerate(zip(actual, expected)):
        at = f"{where} face {n}"
        if set(got) != set(want):
            problems.append(f"{at}: keys {sorted(got)} != {sorted(want)}")
            continue
        area_got, area_want = got["facial_area"], want["facial_area"]
        if set(area_got) != set(area_want):
            problems.append(f"{at}: facial_area keys {sorted(area_got)} != {sorted(area_want)}")
            continue
        box = max(abs(area_got[k] - area_want[k]) for k in "xywh")
        if box > tolerance.box_px:
            problems.append(f"{at}: box differs by {box} px (allowed {tolerance.box_px})")
        for key in LANDMARKS:
            if key in area_want:
                diff = _distance(area_got[key], area_want[key])
                if diff > tolerance.landmark_px:
                    problems.append(
                        f"{at}: {key} {area_got[key]} vs {area_want[key]} differs by {diff} px "
                        f"(allowed {tolerance.landmark_px})"
                    )
        conf = abs(got["confidence"] - want["confidence"])
        if conf > tolerance.confidence:
            problems.append(f"{at}: confidence differs by {conf:.6g} (allowed {tolerance.confidence})")
        face_got, face_want = np.asarray(got["face"]), np.asarray(want["face"])
        if tolerance.exact:
            if face_got.dtype != face_want.dtype or not np.array_equal(face_got, face_want):
                diff = (
                    float(np.max(np.abs(face_got.astype(float) - face_want.astype(float))))
                    if face_got.shape == face_want.shape
                    else f"shape {face_got.shape} vs {face_want.shape}"
                )
                problems.append(f"{at}: face image differs ({diff}; allowed: bit-identical)")
        elif area_got == area_want and face_got.shape != face_want.shape:
            # a box clipped to the image edges can agree after clipping and still have
            # differed before it: the crop's size shows by how much
            crop = max(abs(a - b) for a, b in zip(face_got.shape, face_want.shape))
            if crop > tolerance.box_px:
                problems.append(
                    f"{at}: face crop {face_got.shape} vs {face_want.shape}: the box differs by "
                    f"{crop} px before clipping (allowed {tolerance.box_px})"
                )
        elif area_got == area_want:
            # the face image follows from the box and the eyes: where they agree, so must it
            diff = float(np.max(np.abs(face_got.astype(float) - face_want.astype(float))))
            if diff > tolerance.face:
                problems.append(f"{at}: face pixels differ by {diff:.6g} (allowed {tolerance.face})")
        for key in set(want) - {"face", "facial_area", "confidence"}:
            if got[key] != want[key]:
                problems.append(f"{at}: {key} {got[key]!r} != {want[key]!r}")
    return problems


def regions_close(actual: list, expected: list, tolerance: Tolerance) -> list[str]:
    """Differences between two lists of regions beyond ``tolerance``."""
    if len(actual) != len(expected):
        return [f"{len(actual)} regions, expected {len(expected)}"]
    problems = []
    order = lambda region: (region.x, region.y, region.w, region.h)  # noqa: E731
    actual, expected = sorted(actual, key=order), sorted(expected, key=order)
    for n, (got, want) in enumerate(zip(actual, expected)):
        box = max(abs(getattr(got, k) - getattr(want, k)) for k in "xywh")
        if box > tolerance.box_px:
            problems.append(f"region {n}: box differs by {box} px (allowed {tolerance.box_px})")
        conf = abs((got.confidence or 0) - (want.confidence or 0))
        # regions carry raw confidences; upstream rounds them to 2 decimals afterwards
        if conf > max(tolerance.confidence, 0.0):
            problems.append(f"region {n}: confidence differs by {conf:.6g} (allowed {tolerance.confidence})")
        for key in LANDMARKS:
            diff = _distance(getattr(got, key), getattr(want, key))
            if diff > tolerance.landmark_px:
                problems.append(f"region {n}: {key} differs by {diff} px (allowed {tolerance.landmark_px})")
    return problems


def deviation(
    actual: Sequence[Sequence[dict[str, Any]]], expected: Sequence[Sequence[dict[str, Any]]]
) -> dict[str, float]:
    """The largest differences between two runs' results, input by input.

    Faces are matched in the canonical order of :func:`compare_faces`. Returns the largest
    box, landmark and confidence difference over the matched faces, and ``inputs`` whose
    face count differs (their faces are not matched).
    """
    worst = {"box_px": 0.0, "landmark_px": 0.0, "confidence": 0.0, "count_differs": 0.0}
    for got, want in zip(actual, expected):
        if isinstance(got, BaseException) or isinstance(want, BaseException):
            worst["count_differs"] += float(type(got) is not type(want))
            continue
        if len(got) != len(want):
            worst["count_differs"] += 1
            continue
        for a, b in zip(sorted(got, key=_box_key), sorted(want, key=_box_key)):
            area_a, area_b = a["facial_area"], b["facial_area"]
            worst["box_px"] = max(worst["box_px"], *(abs(area_a[k] - area_b[k]) for k in "xywh"))
            for key in LANDMARKS:
                if key in area_b and key in area_a:
                    worst["landmark_px"] = max(worst["landmark_px"], _distance(area_a[key], area_b[key]))
            worst["confidence"] = max(worst["confidence"], abs(a["confidence"] - b["confidence"]))
    return worst
