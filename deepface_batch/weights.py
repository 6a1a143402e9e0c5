"""deepface's weight files: which ones a backend loads, their known sha256, and the check.

deepface downloads a weight file once into ``$DEEPFACE_HOME/.deepface/weights`` and never
looks at it again: an interrupted download, a file copied under the wrong name or an
HTML error page saved as the model all load later as a cryptic parser error (a protobuf
``DecodeError`` with no path), or load and then fail on every image. deepface_batch checks
the files whose sha256 is known when a plugin first loads them, once per file per process
(a few tens of milliseconds for the largest), and names the file and what to do when one
is wrong. A file not in :data:`KNOWN` (a model this table does not list, a planted test
file) is not checked.

``DEEPFACE_BATCH_VERIFY_WEIGHTS=0`` turns the sha256 check off, for someone who means to
run another build of a model under deepface's file name.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from deepface_batch import compat, config
from deepface_batch.errors import WeightFileError

__all__ = [
    "DETECTOR_FILES",
    "KNOWN",
    "RECOGNITION_FILES",
    "KnownWeight",
    "clear_cache",
    "describe_files",
    "detector_files",
    "enabled",
    "recognition_files",
    "sha256_of",
    "check_file",
    "verify_all",
    "weights_dir",
]


@dataclass(frozen=True)
class KnownWeight:
    """A weight file's sha256 (hex) and size in bytes, as deepface downloads it."""

    sha256: str
    size: int


# Source: ../shared/weights/MANIFEST.tsv, its top-level entries whose "verification"
# column traces the file to the URL deepface 0.0.103 downloads it from. Its alternates/
# are other builds (int8), not deepface's files. Its two haar cascades are left out too:
# they are the OpenCV 4.14 wheel's cv2/data files, while deepface downloads its fallback
# copies from OpenCV 4.9.0's data/haarcascades, which nothing here ties to those bytes (a
# stored copy of haarcascade_eye.xml in opencv/opencv's history differs in length).
KNOWN: Mapping[str, KnownWeight] = MappingProxyType(
    {
        "res10_300x300_ssd_iter_140000.caffemodel": KnownWeight(
            "2a56a11a57a4a295956b0660b4a3d76bbdca2206c4961cea8efe7d95c7cb2f2d", 10666211
        ),
        "deploy.prototxt": KnownWeight("f62621cac923d6f37bd669298c428bb7ee72233b5f8c3389bb893e35ebbcf795", 28092),
        "face_detection_yunet_2023mar.onnx": KnownWeight(
            "8f2383e4dd3cfbb4553ea8718107fc0423210dc964f9f4280604804ed2552fa4", 232589
        ),
        "centerface.onnx": KnownWeight("77e394b51108381b4c4f7b4baf1c64ca9f4aba73e5e803b2636419578913b5fe", 7532772),
        "shape_predictor_5_face_landmarks.dat": KnownWeight(
            "c4b1e9804792707d3a405c2c16a80a20269e6675021f64a41d30fffafbc41888", 9150489
        ),
        "dlib_face_recognition_resnet_model_v1.dat": KnownWeight(
            "55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30", 22466066
        ),
    }
)

#: detector backend -> the files deepface 0.0.103's detector loads from the weights folder
DETECTOR_FILES: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "ssd": ("deploy.prototxt", "res10_300x300_ssd_iter_140000.caffemodel"),
        "yunet": ("face_detection_yunet_2023mar.onnx",),
        "centerface": ("centerface.onnx",),
        "dlib": ("shape_predictor_5_face_landmarks.dat",),
        # no known sha256; named in errors, and only where cv2/data lacks them
        "opencv": ("haarcascade_frontalface_default.xml", "haarcascade_eye.xml"),
    }
)

#: recognition model -> the files deepface loads for it from the weights folder
RECOGNITION_FILES: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {"Dlib": ("dlib_face_recognition_resnet_model_v1.dat",)}
)

_verified: set[tuple[str, int, int]] = set()
_lock = threading.Lock()


def weights_dir() -> Path:
    """deepface's weights folder, read from ``DEEPFACE_HOME`` now (it may change)."""
    return compat.get().weights_folder()


def detector_files(backend: str) -> list[Path]:
    """The paths deepface's detector for ``backend`` loads from the weights folder.

    The opencv cascades count only where ``cv2/data`` lacks them: deepface prefers the
    copies that come with OpenCV, which are not deepface's to check.
    """
    names = DETECTOR_FILES.get(backend, ())
    if backend == "opencv":
        import cv2

        bundled = Path(cv2.__file__).parent / "data"
        names = tuple(name for name in names if not (bundled / name).is_file())
    folder = weights_dir()
    return [folder / name for name in names]


def recognition_files(model_name: str) -> list[Path]:
    """The paths deepface's recognition model ``model_name`` loads from the weights folder."""
    folder = weights_dir()
    return [folder / name for name in RECOGNITION_FILES.get(model_name, ())]


def enabled() -> bool:
    """Whether the sha256 check is on (``DEEPFACE_BATCH_VERIFY_WEIGHTS``, default on)."""
    return bool(config.default("verify_weights"))


def sha256_of(path: str | os.PathLike[str]) -> str:
    """The sha256 (hex) of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_file(path: str | os.PathLike[str]) -> bool:
    """Check a weight file against its known sha256, once per file per process.

    A file whose name is not in :data:`KNOWN`, or one that does not exist (deepface will
    download it), is not checked. A checked file is remembered by its real path, size
    and modification time, so a later call costs one ``stat``, and a file replaced in
    the meantime is checked again.

    Args:
        path: the weight file, in deepface's weights folder.

    Returns:
        True when the file was found to match (now or earlier), False when it was not
        checked.

    Raises:
        WeightFileError: the file's sha256 is not the known one; the message has the
            path, both sha256s and both sizes, and what to do.
    """
    known = KNOWN.get(os.path.basename(path))
    if known is None or not enabled():
        return False
    try:
        stat = os.stat(path)  # follows a symlink: the file it points at is what loads
    except FileNotFoundError:
        return False
    key = (os.path.realpath(path), stat.st_size, stat.st_mtime_ns)
    with _lock:
        if key in _verified:
            return True
    found = sha256_of(path)
    if found != known.sha256:
        raise WeightFileError(
            f"weight file {os.fspath(path)} is not the file deepface downloads: sha256 "
            f"{found} ({stat.st_size} bytes), expected {known.sha256} ({known.size} "
            f"bytes){_hint(found, stat.st_size, known.size)}. Delete it so deepface downloads it "
            "again, or put the right file there (or set "
            f"{config.variable('verify_weights')}=0 to use this file as it is)",
            path=os.fspath(path),
        )
    with _lock:
        _verified.add(key)
    return True


def verify_all(paths: Sequence[str | os.PathLike[str]]) -> None:
    """:func:`check_file` each path in turn."""
    for path in paths:
        check_file(path)


def _hint(sha256: str, found: int, expected: int) -> str:
    """What a mismatch most likely is, for the error message."""
    other = next((name for name, known in KNOWN.items() if known.sha256 == sha256), None)
    if other is not None:
        return f"; it is deepface's {other}, under this file's name"
    if found < expected:
        return "; it is shorter: cut off (an interrupted download?) or another model's file"
    if found > expected:
        return "; it is longer: another model's file, or another build of this one"
    return "; same size, other bytes: a damaged or modified copy"


def describe_files(paths: Sequence[str | os.PathLike[str]]) -> str:
    """``path (N bytes)`` for each existing path, joined, for error messages."""
    parts = []
    for path in paths:
        try:
            parts.append(f"{os.fspath(path)} ({os.path.getsize(path)} bytes)")
        except OSError:
            parts.append(f"{os.fspath(path)} (missing)")
    return ", ".join(parts)


def clear_cache() -> None:
    """Forget which files were checked (tests; a long-lived process that replaced files)."""
    with _lock:
        _verified.clear()
