"""One module per deepface layout deepface_batch supports.

Each module offers the same functions, built on that deepface version's own helpers, so
that the engine never reaches into deepface directly. The functions and constants every
such module must provide are declared by :class:`CompatLayer` (tests/test_compat.py holds
each module in :data:`SUPPORTED`, and every ``compat.get().NAME`` the package uses, to
it). ``get()`` returns the module for the installed deepface, or raises
:class:`UnsupportedDeepfaceVersion` naming what to do.

Mirrored third-party internals: the upgrade checklist
-----------------------------------------------------

Every place deepface_batch restates a third party's code step for step (rather than
calling it), with the upstream file and version it mirrors. On an upgrade of deepface,
mtcnn, retina-face or facenet-pytorch, diff each upstream file below between the old and
the new version and carry the changes over; the contract and native tests compare against
upstream's own single-image calls and catch a result that drifted.

deepface 0.0.103 (``deepface/`` below is the installed package):

* ``compat/v0_0_103.py``, all of it: the glue of ``deepface/modules/detection.py``
  (``extract_faces``: the argument defaults, the black border, the tail from
  ``FaceNotDetected`` to the result dicts and ``ImgNotFound``; ``detect_faces``: the
  negative ``expand_percentage`` warning, ``max_faces`` by area, the ``skip`` region),
  of ``deepface/modules/representation.py`` (``represent``: the argument defaults, the
  ``skip`` face dict, ``max_faces`` and the spoof check, resize and normalisation of a
  face, the embedding normalisations and the result dict) and of
  ``deepface/modules/modeling.py`` (``AVAILABLE_MODELS`` keys, ``build_model`` tasks).
  A new deepface release gets a new ``v0_0_NNN.py`` and an entry in :data:`SUPPORTED`.
* Each plugin's mapping of raw backend output to ``FacialAreaRegion`` (``regions_of``),
  and the preprocessing it does instead of upstream's detector, per
  ``deepface/models/face_detection/``:

  - ``plugins/ssd.py`` (``regions_of``, ``forward``: uint8, 300 x 300, blob, threshold
    0.90): ``Ssd.py`` ``SsdClient.detect_faces``;
  - ``plugins/yolo.py`` (``regions_of``, ``predict``'s arguments and
    ``YOLO_MIN_DETECTION_CONFIDENCE``): ``Yolo.py`` ``YoloDetectorClient.detect_faces``;
  - ``plugins/mtcnn.py`` (``regions_of``, the BGR-to-RGB view): ``MtCnn.py``
    ``MtCnnClient.detect_faces``;
  - ``plugins/fastmtcnn.py`` (``regions_of`` with the issue-1043 check, the cv2 RGB and
    uint8 conversion): ``FastMtCnn.py`` ``FastMtCnnClient.detect_faces`` and
    ``xyxy_to_xywh``;
  - ``plugins/retinaface.py`` (``regions_of``, ``THRESHOLD``): ``RetinaFace.py``
    ``RetinaFaceClient.detect_faces``;
  - ``plugins/centerface.py`` (``regions_of``, ``CENTERFACE_THRESHOLD``): ``CenterFace.py``
    ``CenterFaceClient.detect_faces``; its blob (``transform``'s sizes, ``blobFromImage``'s
    arguments, output names ``537``-``540``) restates ``CenterFace.forward`` and
    ``inference_opencv``, and it fills ``CenterFace.__new__``'s attributes
    (``img_h_new``, ``img_w_new``, ``scale_h``, ``scale_w``, ``net``) that
    ``postprocess`` and ``forward`` read;
  - ``plugins/skip.py``: the whole-image region of ``deepface/modules/detection.py``.
* ``embedding.py``: the Keras post-processing (``_keras_post``, ``_rows``) restates
  ``deepface/models/FacialRecognition.py`` ``FacialRecognition.forward`` (``.tolist()``,
  a stack of one flattened) and ``deepface/models/facial_recognition/tf/VGGFace.py``
  ``VggFaceClient.forward`` (L2 normalisation by row); ``_dlib_scales`` restates the
  ``img.max() <= 1`` test of ``facial_recognition/dlib/Dlib.py`` ``DlibClient.forward``;
  ``_PER_FACE`` records methods read and found per-face (``onnx/OnnxFacialRecognition.py``,
  ``onnx/VGGFace.py``, ``pytorch/TorchFacialRecognition.py``, ``pytorch/VGGFace.py``),
  to be read again; ``make_embedder`` knows SFace's fixed batch of one and Buffalo_L's
  loop.
* ``inputs.py`` ``check_image``: the input rule of ``detection.extract_faces``
  (``height, width, _ = img.shape``).
* Data, not code, tied to the same release: ``weights.py`` ``KNOWN`` (file names and
  sha256 of the weights deepface 0.0.103 downloads), ``registry.py`` ``YOLO_BACKENDS``
  (deepface's YOLO backend names, ``modeling.py``) and ``patch.py``'s patched functions
  (``deepface.modules.detection.extract_faces``, ``representation.represent``).

mtcnn 1.0.0 (the ``mtcnn`` package, TensorFlow):

* ``plugins/mtcnn_pnet.py``, all of it: ``mtcnn/stages/stage_pnet.py``
  ``StagePNet.__call__`` and ``mtcnn/utils/images.py`` ``apply_scales`` and
  ``scale_images`` (the P-Net pyramid); ``pyramid_supported`` turns it off for any other
  mtcnn version.
* ``plugins/mtcnn.py`` ``MtCnnPlugin._build``: ``mtcnn/mtcnn.py`` (``MTCNN._stages``,
  stage 0 is P-Net) and ``mtcnn/stages/base.py`` (a stage's network is ``_model``).

retina-face 0.0.19:

* ``plugins/retinaface.py``, the stand-in network (``_Outputs``, ``_Array``) and
  ``forward``: ``retinaface/RetinaFace.py`` ``detect_faces`` (one
  ``preprocess.preprocess_image(img, allow_upscaling=True)``, then one ``_predict`` on
  that tensor) and ``_predict`` (``.numpy()`` on TensorFlow and torch outputs, onnx
  outputs used as they come).

facenet-pytorch 2.6.0: ``plugins/fastmtcnn.py`` relies on ``MTCNN.detect`` taking a stack
of equal-size images and returning per-image boxes, probabilities and landmarks.

CenterFace's ONNX graph (``centerface.onnx`` from Star-Clouds/CenterFace, the file deepface
0.0.103 downloads): ``plugins/centerface.py`` ``dynamic_session`` rebuilds the graph
with symbolic input and output dimensions, relying on its layout (one image input besides
the weights the export lists as inputs, outputs ``537``-``540``, NCHW), and
``check_session`` holds a loaded file to ``PROBE_SHAPES``.
"""

from __future__ import annotations

import importlib
from importlib import metadata
from types import ModuleType
from typing import TYPE_CHECKING, Any, Protocol, cast

from deepface_batch.errors import UnsupportedDeepfaceVersion

if TYPE_CHECKING:
    import numpy as np
    from deepface.models.Detector import DetectedFace, FacialAreaRegion

# deepface version -> compat module. 0.0.103 is the current release.
SUPPORTED: dict[str, str] = {
    "0.0.103": "deepface_batch.compat.v0_0_103",
}

_cached: ModuleType | None = None


class CompatLayer(Protocol):
    """What a compat module provides: the steps of upstream's single-image
    ``extract_faces`` and ``represent`` around the detector and model calls.

    A module satisfies it with module-level constants and functions of these names and
    signatures (``self`` aside). The engine, the patch, the testing kit and the tests reach
    deepface only through these names.
    """



    # -- extract_faces --------------------------------------------------------------------
    VERSION: str
    """The deepface version the module is written against, e.g. ``"0.0.103"``."""

    DETECTORS: tuple[str, ...]
    """Every ``detector_backend`` upstream accepts, in upstream's order, ``"skip"`` last."""

    EXTRACT_FACES_DEFAULTS: dict[str, Any]
    """Upstream ``extract_faces``' keyword arguments besides ``img_path``, with defaults."""

    def reference_extract_faces(self, img: Any, **kwargs: Any) -> list[dict[str, Any]]:
        """Upstream's own single-image ``extract_faces``, unpatched."""
        ...

    def load_image(self, item: Any) -> tuple[np.ndarray, str]:
        """Load a path, base64 string, URL, file object or array as upstream does."""
        ...

    def build_detector(self, name: str) -> Any:
        """Upstream's cached detector instance for the backend ``name``."""
        ...

    def add_border(self, img: np.ndarray, align: bool) -> tuple[np.ndarray, int, int]:
        """The image to detect on (bordered when ``align``), and the border's width, height."""
        ...

    def clamp_expand_percentage(self, expand_percentage: int) -> int:
        """``expand_percentage`` as upstream uses it (a negative one warned about, made 0)."""
        ...

    def faces_from_regions(
        self,
        detector_backend: str,
        bordered: np.ndarray,
        regions: list[FacialAreaRegion],
        align: bool,
        expand_percentage: int,
        max_faces: int | None,
        width_border: int,
        height_border: int,
    ) -> list[DetectedFace]:
        """What upstream's ``detect_faces`` makes of the detector's regions: cropped faces."""
        ...

    def skip_faces(self, img: np.ndarray) -> list[DetectedFace]:
        """The whole image as one face, as upstream's ``skip`` backend gives it."""
        ...

    def shift_regions(self, regions: list[FacialAreaRegion], dx: int, dy: int) -> list[FacialAreaRegion]:
        """Regions found on an image moved by ``(dx, dy)``: into the frame of the bordered
        image, for detection without upstream's border."""
        ...

    def finish(
        self,
        img: np.ndarray,
        img_name: str | None,
        face_objs: list[DetectedFace],
        enforce_detection: bool = True,
        grayscale: bool = False,
        color_face: str = "rgb",
        normalize_face: bool = True,
        anti_spoofing: bool = False,
    ) -> list[dict[str, Any]]:
        """Detected faces as upstream's result dicts (the tail of ``extract_faces``)."""
        ...

    # -- represent ------------------------------------------------------------------------
    RECOGNITION_MODELS: tuple[str, ...]
    """Every ``model_name`` upstream's ``represent`` accepts, in upstream's order."""

    REPRESENT_DEFAULTS: dict[str, Any]
    """Upstream ``represent``'s keyword arguments besides ``img_path``, with defaults."""

    def reference_represent(self, img: Any, **kwargs: Any) -> list[dict[str, Any]]:
        """Upstream's own single-image ``represent``, unpatched."""
        ...

    def build_recognition_model(self, model_name: str) -> Any:
        """Upstream's cached recognition client for ``model_name``."""
        ...

    def represent_skip_faces(self, img: np.ndarray) -> list[dict[str, Any]]:
        """The face dict upstream's ``represent`` makes itself for ``detector_backend='skip'``."""
        ...

    def represent_select(
        self, img_objs: list[dict[str, Any]], max_faces: int | None, anti_spoofing: bool
    ) -> list[dict[str, Any]]:
        """``represent``'s ``max_faces`` (largest areas first) and its spoof check."""
        ...

    def represent_input(
        self, img_obj: dict[str, Any], target_size: tuple[int, int], normalization: str
    ) -> np.ndarray:
        """One face as upstream feeds it to the model: a ``(1, H, W, 3)`` float32 array."""
        ...

    def represent_entry(
        self,
        embedding: list[float],
        img_obj: dict[str, Any],
        face_input: np.ndarray,
        model_name: str,
        minmax_normalize: bool,
        l2_normalize: bool,
        return_face: bool,
    ) -> dict[str, Any]:
        """Upstream's result dict for one face, its embedding normalised as upstream does."""
        ...


def installed_version() -> str | None:
    """The installed deepface version, read without importing deepface."""
    try:
        return metadata.version("deepface")
    except metadata.PackageNotFoundError:
        return None


def check_version(version: str | None = None) -> str:
    """Return the compat module path for ``version`` or raise with what to do."""
    version = installed_version() if version is None else version
    if version is None:
        raise UnsupportedDeepfaceVersion(
            "deepface is not installed; install a supported version with: "
            f"pip install deepface=={max(SUPPORTED)}"
        )
    if version not in SUPPORTED:
        raise UnsupportedDeepfaceVersion(
            f"deepface {version} is not supported by deepface_batch; supported: "
            f"{', '.join(sorted(SUPPORTED))}. Install one with: "
            f"pip install deepface=={max(SUPPORTED)}"
        )
    return SUPPORTED[version]


def get() -> CompatLayer:
    """The compat module for the installed deepface (imported once)."""
    global _cached
    if _cached is None:
        _cached = importlib.import_module(check_version())
    return cast("CompatLayer", _cached)
