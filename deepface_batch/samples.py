"""Sample images built from scikit-image's bundled astronaut photograph (public domain).

Used by the demo, the benchmarks and the contract suite; nothing is downloaded.
"""

from __future__ import annotations

import numpy as np

__all__ = ["astronaut", "mixed_images", "video_frames"]


def astronaut() -> np.ndarray:
    """scikit-image's bundled astronaut photograph (public domain), as BGR."""
    try:
        from skimage import data
    except ImportError as err:
        raise ImportError("the sample images come with scikit-image: pip install 'deepface-batch[demo]'") from err

    return np.ascontiguousarray(data.astronaut()[:, :, ::-1])


def _resize(img: np.ndarray, width: int, height: int) -> np.ndarray:
    import cv2

    return cv2.resize(img, (width, height), interpolation=cv2.INTER_AREA)


def _canvas(height: int, width: int, value: int = 96) -> np.ndarray:
    return np.full((height, width, 3), value, dtype=np.uint8)


def video_frames(height: int = 480, width: int = 640) -> list[np.ndarray]:
    """Same-size frames with one face, one flipped face, two faces and none."""
    face = astronaut()
    frames = []
    one = _canvas(height, width)
    small = _resize(face, height - 80, height - 80)
    one[40 : 40 + small.shape[0], 60 : 60 + small.shape[1]] = small
    frames.append(one)
    flipped = _canvas(height, width, 128)
    flipped[40 : 40 + small.shape[0], width - 60 - small.shape[1] : width - 60] = small[:, ::-1]
    frames.append(flipped)
    two = _canvas(height, width, 64)
    half = _resize(face, width // 2 - 20, width // 2 - 20)
    top = (height - half.shape[0]) // 2
    two[top : top + half.shape[0], 10 : 10 + half.shape[1]] = half
    two[top : top + half.shape[0], width // 2 + 10 : width // 2 + 10 + half.shape[1]] = half[:, ::-1]
    frames.append(two)
    frames.append(np.zeros((height, width, 3), dtype=np.uint8))
    return frames


def mixed_images() -> list[np.ndarray]:
    """Images of different sizes: the original, resized, flipped, a pair and a blank."""
    face = astronaut()
    pair = np.hstack([_resize(face, 320, 360), _resize(face, 320, 360)[:, ::-1]])
    return [
        face,
        _resize(face, 300, 300),
        np.ascontiguousarray(_resize(face, 400, 520)[:, ::-1]),
        pair,
        np.zeros((200, 260, 3), dtype=np.uint8),
    ]
