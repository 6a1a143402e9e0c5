"""Real photos from deepface's own test set, and video-like frames with small faces made of them.

The photos are committed in ``tests/data/deepface-dataset`` (``ORIGIN.md`` there says where
they come from): the tests and CI cannot reach deepface's repository. The frames are built
from them, deterministically: 640 x 480, a neutral grey canvas, one to three photos pasted
at a third to a sixth of the frame's height, as faces appear in a wide video shot.
"""

from __future__ import annotations

import numpy as np

from tests.support.paths import REPO_ROOT

PHOTOS_DIR = REPO_ROOT / "tests" / "data" / "deepface-dataset"
FRAME_HEIGHT, FRAME_WIDTH = 480, 640
#: the pasted photo's height, as a fraction of the frame's
SCALES = (1 / 3, 1 / 4, 1 / 5, 1 / 6)
SEED = 0


def photos() -> dict[str, np.ndarray]:
    """The committed photos as BGR arrays, by file name, in name order."""
    import cv2

    found = {path.name: cv2.imread(str(path)) for path in sorted(PHOTOS_DIR.glob("*.jpg"))}
    if not found:
        raise FileNotFoundError(f"no photos in {PHOTOS_DIR}; they are committed with the tests")
    return found


def small_face_frames(count: int = 6) -> list[np.ndarray]:
    """``count`` 640 x 480 frames, each with one to three photos pasted at a third to a
    sixth of its height, side by side (the same frames on every call; six frames paste
    each of the twelve photos once)."""
    import cv2

    rng = np.random.default_rng(SEED)
    sources = list(photos().values())
    frames = []
    pastes = 0
    for n in range(count):
        frame = np.full((FRAME_HEIGHT, FRAME_WIDTH, 3), 96 + 16 * (n % 4), dtype=np.uint8)
        pasted = 1 + n % 3
        slot = FRAME_WIDTH // pasted
        for k in range(pasted):
            photo = sources[pastes % len(sources)]
            pastes += 1
            height = FRAME_HEIGHT * SCALES[(n + k) % len(SCALES)]
            scale = min(height / photo.shape[0], (slot - 8) / photo.shape[1])
            size = (max(1, round(photo.shape[1] * scale)), max(1, round(photo.shape[0] * scale)))
            small = cv2.resize(photo, size, interpolation=cv2.INTER_AREA)
            left = k * slot + int(rng.integers(0, slot - small.shape[1] + 1))
            top = int(rng.integers(0, FRAME_HEIGHT - small.shape[0] + 1))
            frame[top : top + small.shape[0], left : left + small.shape[1]] = small
        frames.append(frame)
    return frames
