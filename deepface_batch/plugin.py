"""The detector plugin base class: what a backend declares and what it must do."""

from __future__ import annotations

import importlib.util
from abc import ABC, abstractmethod
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from deepface_batch.errors import DetectorUnavailableError, WeightFileError

if TYPE_CHECKING:
    import numpy as np
    from deepface.models.Detector import FacialAreaRegion

__all__ = [
    "EXACT",
    "MAX_PIXELS_PER_PASS",
    "PROBE_SIZE",
    "BatchMode",
    "BorderAgreement",
    "DetectorPlugin",
    "GroupedPlugin",
    "Requirement",
    "Tolerance",
    "UpstreamDetectorPlugin",
    "group_by_shape",
    "run_grouped",
]


class BatchMode(str, Enum):
    """How a plugin runs a batch."""

    NATIVE = "native"  #: one forward pass per batch (or per same-shape group)
    PSEUDO = "pseudo"  #: a loop over the images


@dataclass(frozen=True)
class Tolerance:
    """The largest difference from the single-image path a plugin allows, per face.

    Attributes:
        box_px: x, y, w and h of the facial area, in pixels.
        landmark_px: each eye, nose and mouth coordinate, in pixels.
        confidence: the (rounded) confidence upstream reports.
        face: the face image's pixels after normalisation (0..1 when ``normalize_face``),
            compared where box and landmarks agree exactly (elsewhere the crop or the
            alignment angle differs, and the box and landmark tolerances apply).
    """

    box_px: float = 0.0
    landmark_px: float = 0.0
    confidence: float = 0.0
    face: float = 0.0

    @property
    def exact(self) -> bool:
        """Whether the plugin promises upstream's result bit for bit."""
        return all(getattr(self, f.name) == 0 for f in fields(self))

    def describe(self) -> str:
        """One line for tables: ``exact``, or each bound (``box 1 px, landmarks 1 px, ...``)."""
        if self.exact:
            return "exact"
        parts = [f"box {self.box_px:g} px", f"landmarks {self.landmark_px:g} px", f"confidence {self.confidence:g}"]
        if self.face:
            parts.append(f"face {self.face:g}")
        return ", ".join(parts)


EXACT = Tolerance()


@dataclass(frozen=True)
class BorderAgreement:
    """How ``detect_without_border=True`` agrees with upstream's default result, declared
    per plugin from measurements and checked by the contract suite.

    Without upstream's black border the detector sees other pixels, so the faces found may
    differ: this is not a tolerance but the agreement measured on real photos and on
    video-like frames with small faces (``benchmarks/bench_border.py``), with a little
    margin. Faces are matched greedily by intersection over union (at least 0.5), among
    those with a confidence above 0, over a whole set of images.

    Attributes:
        recall: the smallest fraction of the faces upstream finds that are found without
            the border too.
        precision: the smallest fraction of the faces found without the border that
            upstream finds too (low where the border hides faces from upstream: the
            faces found only without it are then faces upstream missed).
        box_px: the largest deviation of a matched face's box, in pixels: the largest of
            the differences in x, y, w and h (as :attr:`Tolerance.box_px`).
        box_fraction: the same deviation over the width of upstream's box: the pixels
            say little for faces of every size, from 10 to 500 pixels wide.

    The defaults declare full agreement, as :class:`Tolerance`'s declare an exact result:
    a declaration names every attribute its measurements loosen.
    """

    recall: float = 1.0
    precision: float = 1.0
    box_px: float = 0.0
    box_fraction: float = 0.0


#: side of the black image a freshly loaded upstream detector is probed with
PROBE_SIZE = 64


@dataclass(frozen=True)
class Requirement:
    """A package a plugin needs: the module it imports and how to install it."""

    module: str
    install: str  #: the pip command's arguments, e.g. "'deepface-batch[yolo]'"

    def installed(self) -> bool:
        """Whether the module can be imported, checked without importing it."""
        try:
            return importlib.util.find_spec(self.module) is not None
        except (ImportError, ValueError):
            return False


class DetectorPlugin(ABC):
    """A face detector that takes a batch of images.

    Subclasses set the class attributes and implement :meth:`detect_batch`. deepface_batch
    does everything around the detector call (borders, cropping, alignment, the result
    dicts) with upstream's own helpers, so a plugin only finds facial areas.

    Attributes:
        name: the ``detector_backend`` string users pass.
        batch_mode: ``native`` (one forward pass per batch) or ``pseudo`` (a loop).
        tolerance: the largest difference from the single-image path; the contract suite
            in :mod:`deepface_batch.testing` proves it.
        requires: packages the plugin needs, with the pip command for each.
        detects_faces: ``False`` for ``skip``, which takes the whole image as the face.
        border_agreement: how ``detect_without_border=True`` agrees with upstream's
            default result, as measured; ``None`` (the default) is undeclared, and the
            contract suite then checks nothing about it.
    """

    name: ClassVar[str]
    batch_mode: ClassVar[BatchMode] = BatchMode.PSEUDO
    tolerance: ClassVar[Tolerance] = EXACT
    border_agreement: ClassVar[BorderAgreement | None] = None
    requires: ClassVar[tuple[Requirement, ...]] = ()
    detects_faces: ClassVar[bool] = True

    @property
    def images_per_call(self) -> int | None:
        """How many images the engine gives one :meth:`detect_batch` call: ``None`` for
        the whole batch (the default of a native plugin), 1 for a pseudo plugin, which
        loops over them anyway. Each call's images are bordered just before it and
        finished just after, so a smaller call holds fewer 4x-pixel bordered copies at
        once: a plugin whose passes are small on the device it runs on says so here."""
        return 1 if self.batch_mode is BatchMode.PSEUDO else None

    def check_available(self) -> None:
        """Raise :class:`DetectorUnavailableError` naming the missing package and the pip
        command; return quietly when the plugin can run."""
        for requirement in self.requires:
            if not requirement.installed():
                raise DetectorUnavailableError(
                    f"detector backend '{self.name}' needs the '{requirement.module}' module, "
                    f"which is not installed; install it with: pip install {requirement.install}",
                    requirement=requirement,
                )

    @abstractmethod
    def detect_batch(self, images: Sequence[np.ndarray]) -> list[list[FacialAreaRegion]]:
        """Find the faces in each image.

        Args:
            images: BGR images, as upstream's detectors take them (already bordered when
                ``align=True``). Shapes may differ.

        Returns:
            One list of ``FacialAreaRegion`` per image, in order; an empty list for an
            image without faces.
        """

    def prepare(self) -> None:
        """Load models and weights once, before the first batch. Errors raised here are
        the plugin's, not any one image's. Nothing to load by default."""
        return None

    def detect_one(self, image: np.ndarray) -> list[FacialAreaRegion]:
        """The single-image path the contract suite compares batches against.

        Built-in plugins return upstream's own detector's result; the default runs a
        batch of one.
        """
        return self.detect_batch([image])[0]

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} {self.batch_mode.value}>"


class UpstreamDetectorPlugin(DetectorPlugin):
    """A plugin on upstream deepface's own detector for its backend name (built, checked
    and probed once): by itself it loops over it image by image (pseudo batching);
    native plugins on upstream's detector (ssd, centerface, :class:`GroupedPlugin`)
    replace ``detect_batch``."""

    batch_mode = BatchMode.PSEUDO
    tolerance = EXACT

    def __init__(self) -> None:
        self._detector: Any = None

    @property
    def detector(self) -> Any:
        """Upstream's detector instance (built, and its weights loaded, on first use)."""
        if self._detector is None:
            self._detector = self._load_detector()
        return self._detector

    def weight_files(self) -> list[Path]:
        """The files upstream's detector for this backend loads from deepface's weights
        folder (:data:`deepface_batch.weights.DETECTOR_FILES`); none for a backend the
        table does not list."""
        from deepface_batch import weights

        return weights.detector_files(self.name)

    def _load_detector(self) -> Any:
        """Build upstream's detector, its weight files checked before and after.

        A weight file with a known sha256 is verified before upstream parses it (a cut-off
        file then says so, instead of a parser error without a path), and again after the
        build, which may have downloaded it (both cached: one hash per file per process).
        A probe on a blank image follows: a file that loads but is not the model the
        detector expects fails here, once, and not on every image of a run.

        Raises:
            WeightFileError: a weight file is wrong; the message names it and what to do.
            DetectorUnavailableError: the detector could not be built for another reason.
        """
        from deepface_batch import compat, weights

        files = self.weight_files()
        verified = [path for path in files if weights.check_file(path)]
        try:
            detector = compat.get().build_detector(self.name)
        except Exception as err:
            # a file that matched its sha256 is not the cause; one that could not be
            # checked (no known hash, or the check turned off) may be
            present = [path for path in files if path.is_file() and path not in verified]
            if present:
                which = "the file is" if len(present) == 1 else "one of them is"
                raise WeightFileError(
                    f"detector backend '{self.name}' could not be built from "
                    f"{weights.describe_files(present)}: {_reason(err)}. If {which} damaged or "
                    "another model's, delete it so deepface downloads it again, or put "
                    "the right file there",
                    path=str(present[0]),
                ) from err
            raise DetectorUnavailableError(
                f"detector backend '{self.name}' could not be built: {err}. deepface "
                "loads weights from $DEEPFACE_HOME/.deepface/weights (downloading them "
                "when missing): put the file there, or check the package it names"
            ) from err
        weights.verify_all(files)
        if files:
            self._probe(detector, files)
        return detector

    def _probe(self, detector: Any, files: Sequence[Path]) -> None:
        """Run upstream's detector once on a small black image, right after loading.

        Cheap (one small detection, once per plugin instance) and it turns a model that
        loads but cannot run (another graph under the expected name, a cascade OpenCV
        read as empty) into one error naming the file.
        """
        import numpy as np

        try:
            detector.detect_faces(np.zeros((PROBE_SIZE, PROBE_SIZE, 3), dtype=np.uint8))
        except Exception as err:
            from deepface_batch import weights

            raise WeightFileError(
                f"detector backend '{self.name}' loaded {weights.describe_files(files)} but failed "
                f"on a blank {PROBE_SIZE}x{PROBE_SIZE} test image: {_reason(err)}. The "
                "file is probably damaged or another model's: delete it so deepface "
                "downloads it again, or put the right file there",
                path=str(files[0]),
            ) from err

    def prepare(self) -> None:
        _ = self.detector

    def detect_one(self, image: np.ndarray) -> list[FacialAreaRegion]:
        return list(self.detector.detect_faces(image))

    def detect_batch(self, images: Sequence[np.ndarray]) -> list[list[FacialAreaRegion]]:
        return [self.detect_one(image) for image in images]


def _reason(err: BaseException) -> str:
    """An exception as one line, with the error it wraps: upstream's wrappers hide the
    parser's message behind advice about optional dependencies."""
    parts = [f"{type(err).__name__}: {' '.join(str(err).split()).rstrip('.')}"]
    cause = err.__cause__
    if cause is not None:
        parts.append(f"(from {type(cause).__name__}: {' '.join(str(cause).split()).rstrip('.')})")
    return " ".join(parts)


class GroupedPlugin(UpstreamDetectorPlugin):
    """A native plugin on upstream's detector: one ``_detect_group`` call per pass over a
    same-shape group, a group split into passes of ``images_per_pass`` images.

    Subclasses implement ``_detect_group`` and, where stacks pay off only on a GPU,
    ``on_gpu``; they set ``cpu_images_per_pass`` and ``gpu_images_per_pass`` to what they
    measured (``None``: a whole group per pass).
    """

    batch_mode = BatchMode.NATIVE
    cpu_images_per_pass: ClassVar[int | None] = 1
    gpu_images_per_pass: ClassVar[int | None] = None

    def __init__(self, images_per_pass: int | None = None) -> None:
        super().__init__()
        self._images_per_pass = images_per_pass

    @property
    def images_per_pass(self) -> int | None:
        """``images_per_pass=`` when given, else the measured default for the device."""
        if self._images_per_pass:
            return self._images_per_pass
        return self.gpu_images_per_pass if self.on_gpu() else self.cpu_images_per_pass

    def on_gpu(self) -> bool:
        """Whether the detector's network runs on a GPU."""
        return False

    @property
    def images_per_call(self) -> int | None:
        """A pass's worth of images per call: its passes are what the device takes."""
        return self.images_per_pass

    @abstractmethod
    def _detect_group(self, images: list[np.ndarray]) -> list[list[FacialAreaRegion]]:
        """Regions for each image of a list of same-shape images, in one forward pass."""

    def detect_batch(self, images: Sequence[np.ndarray]) -> list[list[FacialAreaRegion]]:
        return run_grouped(images, self._detect_group, max_images=self.images_per_pass)


# --- grouping by shape: for plugins whose network takes a stack of equal-shape images ----


def group_by_shape(images: Sequence[np.ndarray]) -> dict[tuple[int, ...], list[int]]:
    """Positions of the images that share a shape, for plugins that batch equal shapes.

    Padding every image to the largest one changes what a detector sees (the mtcnn
    package does that, and runs 3.5 times slower on a mixed set), so equal shapes go
    together and nothing is padded.
    """
    groups: dict[tuple[int, ...], list[int]] = defaultdict(list)
    for position, image in enumerate(images):
        groups[tuple(image.shape)].append(position)
    return dict(groups)


#: pixels one forward pass may take: a detector's activations grow with them, and
#: ``align=True`` doubles both sides of every image before detection
MAX_PIXELS_PER_PASS = 16 * 1280 * 960


def run_grouped(
    images: Sequence[np.ndarray],
    forward: Callable[[list[np.ndarray]], list[Any]],
    max_pixels: int = MAX_PIXELS_PER_PASS,
    max_images: int | None = None,
) -> list[Any]:
    """Call ``forward`` once per same-shape group and put the results back in order.

    A group larger than ``max_pixels`` (or than ``max_images`` images) is split, so that
    memory stays bounded for large images whatever the ``batch_size``.
    """
    results: list[Any] = [None] * len(images)
    for shape, positions in group_by_shape(images).items():
        per_pass = max(1, max_pixels // max(1, shape[0] * shape[1]))
        if max_images:
            per_pass = min(per_pass, max_images)
        for start in range(0, len(positions), per_pass):
            part = positions[start : start + per_pass]
            outputs = forward([images[p] for p in part])
            if len(outputs) != len(part):
                raise RuntimeError(f"a batched forward pass returned {len(outputs)} results for {len(part)} images")
            for position, output in zip(part, outputs):
                results[position] = output
    return results
