"""How two ``extract_faces`` results (or two lists of detector regions) differ.

Used by the contract suite (:mod:`deepface_batch.testing`), the demo and the front door's
parity check, so it imports no test framework: a user's environment without pytest runs it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from deepface_batch.plugin import BorderAgreement, Tolerance

__all__ = [
    "LANDMARKS",
    "MATCH_IOU",
    "Agreement",
    "agreement",
    "compare_faces",
    "deviation",
    "iou",
    "match_faces",
    "regions_close",
]

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
                mismatch: float | str = (
                    float(np.max(np.abs(face_got.astype(float) - face_want.astype(float))))
                    if face_got.shape == face_want.shape
                    else f"shape {face_got.shape} vs {face_want.shape}"
                )
                problems.append(f"{at}: face image differs ({mismatch}; allowed: bit-identical)")
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


# --- agreement between two detectors' results: faces matched by overlap -----------------

#: the intersection over union at which two boxes are taken for the same face
MATCH_IOU = 0.5


def _box(face: dict[str, Any]) -> tuple[int, int, int, int]:
    area = face["facial_area"]
    return area["x"], area["y"], area["w"], area["h"]


def iou(a: Sequence[float], b: Sequence[float]) -> float:
    """Intersection over union of two ``(x, y, w, h)`` boxes."""
    width = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    height = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    if width <= 0 or height <= 0:
        return 0.0
    inter = width * height
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


def match_faces(
    actual: Sequence[dict[str, Any]], expected: Sequence[dict[str, Any]], min_iou: float = MATCH_IOU
) -> list[tuple[int, int]]:
    """Pairs ``(i, j)`` of ``actual[i]`` and ``expected[j]`` taken for the same face:
    greedily, the pair with the largest intersection over union first, down to
    ``min_iou``; each face in at most one pair."""
    pairs = sorted(
        ((iou(_box(a), _box(b)), i, j) for i, a in enumerate(actual) for j, b in enumerate(expected)),
        reverse=True,
    )
    used_a: set[int] = set()
    used_b: set[int] = set()
    matched = []
    for overlap, i, j in pairs:
        if overlap < min_iou:
            break
        if i not in used_a and j not in used_b:
            used_a.add(i)
            used_b.add(j)
            matched.append((i, j))
    return sorted(matched)


@dataclass
class Agreement:
    """How one run's faces agree with another's (the reference's) over a set of images.

    Only faces with a confidence above 0 count: with ``enforce_detection=False``, upstream
    returns the whole image, at confidence 0, for an image without faces.

    Attributes:
        found: faces the reference found (upstream's default result).
        found_here: faces the run found.
        both: faces matched between the two (:func:`match_faces`).
        box_px: each matched face's box deviation in pixels, the largest of the
            differences in x, y, w and h.
        box_fraction: each matched face's box deviation over the reference box's width.
        missed: ``(image index, box)`` of the reference's faces the run did not find.
        extra: ``(image index, box)`` of the run's faces the reference did not find.
    """

    found: int = 0
    found_here: int = 0
    both: int = 0
    box_px: list[float] = field(default_factory=list)
    box_fraction: list[float] = field(default_factory=list)
    missed: list[tuple[int, tuple[int, int, int, int]]] = field(default_factory=list)
    extra: list[tuple[int, tuple[int, int, int, int]]] = field(default_factory=list)

    @property
    def recall(self) -> float:
        """The fraction of the reference's faces the run found too (1 when it found none)."""
        return self.both / self.found if self.found else 1.0

    @property
    def precision(self) -> float:
        """The fraction of the run's faces the reference found too (1 when the run found none)."""
        return self.both / self.found_here if self.found_here else 1.0

    @property
    def max_box_px(self) -> float:
        return max(self.box_px, default=0.0)

    @property
    def median_box_px(self) -> float:
        return float(np.median(self.box_px)) if self.box_px else 0.0

    @property
    def max_box_fraction(self) -> float:
        return max(self.box_fraction, default=0.0)

    def problems(self, declared: BorderAgreement) -> list[str]:
        """Where the agreement falls short of ``declared``, measured next to allowed."""
        problems = []
        if self.recall < declared.recall:
            problems.append(
                f"recall {self.recall:.3f} ({self.both} of the {self.found} faces upstream finds; "
                f"declared at least {declared.recall}); missed (image, box): {self.missed}"
            )
        if self.precision < declared.precision:
            problems.append(
                f"precision {self.precision:.3f} ({self.both} of the {self.found_here} faces found "
                f"upstream finds too; declared at least {declared.precision}); extra (image, box): {self.extra}"
            )
        if self.max_box_px > declared.box_px:
            problems.append(
                f"box deviation of matched faces up to {self.max_box_px:g} px (declared at most {declared.box_px:g})"
            )
        if self.max_box_fraction > declared.box_fraction:
            problems.append(
                f"box deviation of matched faces up to {self.max_box_fraction:.3f} of the face's width "
                f"(declared at most {declared.box_fraction:g})"
            )
        return problems


def agreement(actual: Sequence[Sequence[dict[str, Any]]], expected: Sequence[Sequence[dict[str, Any]]]) -> Agreement:
    """How ``actual``'s faces agree with ``expected``'s, input by input, over all inputs."""
    result = Agreement()
    for index, (got, want) in enumerate(zip(actual, expected, strict=True)):
        got = [face for face in got if face["confidence"] > 0]
        want = [face for face in want if face["confidence"] > 0]
        pairs = match_faces(got, want)
        result.found += len(want)
        result.found_here += len(got)
        result.both += len(pairs)
        for i, j in pairs:
            deviation = float(max(abs(a - b) for a, b in zip(_box(got[i]), _box(want[j]))))
            result.box_px.append(deviation)
            result.box_fraction.append(deviation / max(1, _box(want[j])[2]))
        result.missed += [(index, _box(want[j])) for j in sorted(set(range(len(want))) - {j for _, j in pairs})]
        result.extra += [(index, _box(got[i])) for i in sorted(set(range(len(got))) - {i for i, _ in pairs})]
    return result
