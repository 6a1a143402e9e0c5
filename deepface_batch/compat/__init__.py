"""One module per deepface layout deepface_batch supports: 0.0.100 to 0.0.103.

Each module offers the same functions, built on that deepface version's own helpers, so
that the engine never reaches into deepface directly. The functions and constants every
such module must provide are declared by :class:`CompatLayer` (tests/test_compat.py holds
each module in :data:`SUPPORTED` that imports beside the installed deepface, and every
``compat.get().NAME`` the package uses, to it). ``get()`` returns the module for the installed deepface, or raises
:class:`UnsupportedDeepfaceVersion` naming what to do.

Releases and layouts
--------------------

* 0.0.100 (:mod:`~deepface_batch.compat.v0_0_100`): TensorFlow only; ``modeling``'s
  registry holds client classes; no ``commons/backend_utils``.
* 0.0.101 (:mod:`~deepface_batch.compat.v0_0_101`): a registry of dotted paths per engine,
  PyTorch beside TensorFlow; ``represent`` takes ``cryptosystem``.
* 0.0.102 and 0.0.103 (:mod:`~deepface_batch.compat.v0_0_103`): onnxruntime added (the
  default engine), each engine's clients in their own package, ``cryptosystem`` gone.

The glue the releases share is :mod:`~deepface_batch.compat._shared` (restated from
0.0.103); each release's module docstring lists what it reads differently and why.
``pyproject.toml`` depends on the same range (``deepface>=0.0.100,<0.0.104``), so that
installing deepface-batch never moves the deepface a project has; outside it, ``patch()``
and the import hook leave deepface alone with one warning (:func:`refuse`) and the
package's own API raises :class:`UnsupportedDeepfaceVersion` with the same message.

Adding a release: diff its ``modules/detection.py``, ``representation.py``,
``preprocessing.py``, ``modeling.py`` and ``models/`` against the nearest supported one,
write ``vX_Y_Z.py`` from the nearest module (the :class:`CompatLayer` list is what it must
provide), add it to :data:`SUPPORTED` and widen the range in ``pyproject.toml``.

Mirrored third-party internals: the upgrade checklist
-----------------------------------------------------

Every place deepface_batch restates a third party's code step for step (rather than
calling it), with the upstream file and version it mirrors. On an upgrade of deepface,
mtcnn, retina-face or facenet-pytorch, diff each upstream file below between the old and
the new version and carry the changes over; the contract and native tests compare against
upstream's own single-image calls and catch a result that drifted.

deepface 0.0.103 (``deepface/`` below is the installed package):

* ``compat/_shared.py``, all of it: the glue of ``deepface/modules/detection.py``
  (``extract_faces``: the argument defaults, the black border, the tail from
  ``FaceNotDetected`` to the result dicts and ``ImgNotFound``; ``detect_faces``: the
  negative ``expand_percentage`` warning, ``max_faces`` by area, the ``skip`` region),
  of ``deepface/modules/representation.py`` (``represent``: the argument defaults, the
  ``skip`` face dict, ``max_faces`` and the spoof check, resize and normalisation of a
  face, the embedding normalisations and the result dict) and of
  ``deepface/modules/modeling.py`` (``AVAILABLE_MODELS`` keys, ``build_model`` tasks);
  ``compat/v0_0_100.py`` ``finish`` (0.0.100's face scaling) and each module's
  ``RECOGNITION_MODULES`` (where the release keeps the clients ``embedding.py`` reads).
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
  ``_PER_FACE_METHODS`` records methods read and found per-face (``onnx/OnnxFacialRecognition.py``,
  ``onnx/VGGFace.py``, ``pytorch/TorchFacialRecognition.py``, ``pytorch/VGGFace.py``),
  to be read again; ``make_embedder`` knows SFace's fixed batch of one and Buffalo_L's
  loop.
* ``inputs.py`` ``check_image``: the input rule of ``detection.extract_faces``
  (``height, width, _ = img.shape``).
* Data, not code, tied to the same release: ``weights.py`` ``KNOWN`` (file names and
  sha256 of the weights deepface 0.0.103 downloads), ``registry.py`` ``YOLO_BACKENDS``
  (deepface's YOLO backend names, ``modeling.py``) and ``patching.py``'s patched functions
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
import re
import threading
import warnings
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, Protocol, cast

from deepface_batch.errors import UnsupportedDeepfaceVersion

__all__ = [
    "REQUIREMENT",
    "SUPPORTED",
    "CompatLayer",
    "UnsupportedDeepfaceWarning",
    "check_version",
    "get",
    "installed_version",
    "refuse",
    "release_of",
    "unsupported_message",
]

if TYPE_CHECKING:
    import numpy as np
    from deepface.models.Detector import DetectedFace
    from deepface.models.Detector import FacialAreaRegion as Region

# deepface release -> compat module. 0.0.103 is the newest release on the registry.
SUPPORTED: dict[str, str] = {
    "0.0.100": "deepface_batch.compat.v0_0_100",
    "0.0.101": "deepface_batch.compat.v0_0_101",
    "0.0.102": "deepface_batch.compat.v0_0_103",
    "0.0.103": "deepface_batch.compat.v0_0_103",
}
#: the same range as pyproject.toml's dependency (tests/test_compat.py holds the two equal)
REQUIREMENT = "deepface>=0.0.100,<0.0.104"

_cached: ModuleType | None = None
_refused = threading.Lock()  # held for good once the warning is out


class UnsupportedDeepfaceWarning(UserWarning):
    """The installed deepface is outside the supported range: deepface is left unpatched."""


class CompatLayer(Protocol):
    """What a compat module provides: the steps of upstream's single-image
    ``extract_faces`` and ``represent`` around the detector and model calls.

    A module satisfies it with module-level constants and functions of these names and
    signatures (``self`` aside). The engine, the patch, the testing kit and the tests reach
    deepface only through these names.
    """

    # -- the release ----------------------------------------------------------------------
    VERSION: str
    """The installed deepface release, one of ``RELEASES``, e.g. ``"0.0.103"``."""

    RELEASES: tuple[str, ...]
    """The deepface releases the module serves (releases of one layout share a module)."""

    def backend_engine(self) -> str:
        """The engine deepface runs on: ``tensorflow``, ``pytorch`` or ``onnx``."""
        ...

    # -- extract_faces --------------------------------------------------------------------

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

    FacialAreaRegion: type[Any]
    """Upstream's region class, what a detector plugin returns for each face."""

    def weights_folder(self) -> Path:
        """deepface's weights folder (``$DEEPFACE_HOME/.deepface/weights``), read now."""
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
        regions: list[Region],
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

    def shift_regions(self, regions: list[Region], dx: int, dy: int) -> list[Region]:
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

    REPRESENT_UPSTREAM_ONLY: dict[str, Any]
    """``represent`` arguments of this release left to upstream's own code, with their
    defaults: a patched call that sets one otherwise runs upstream's ``represent``."""

    RECOGNITION_MODULES: dict[str, str]
    """Where this release keeps the recognition modules ``embedding.py`` has read: a
    layout-free name (``"tf.VGGFace"``, ``"pytorch.TorchFacialRecognition"``, ...) to the
    dotted module path; a module the release lacks is absent."""

    FacialRecognition: type[Any]
    """The base class of upstream's recognition clients (its ``forward`` is the one
    ``embedding.py`` restates for Keras models)."""

    def l2_normalize_rows(self, rows: list[list[float]]) -> list[list[float]]:
        """Each row L2-normalised as upstream's VGG-Face client normalises its output."""
        ...

    def check_spoof(self, img_objs: list[dict[str, Any]], anti_spoofing: bool) -> None:
        """Upstream's spoof check of ``represent`` and ``analyze`` (``SpoofDetected``)."""
        ...

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

    def represent_input(self, img_obj: dict[str, Any], target_size: tuple[int, int], normalization: str) -> np.ndarray:
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

    # -- analyze --------------------------------------------------------------------------
    ANALYZE_ACTIONS: tuple[str, ...]
    """Upstream's ``analyze`` actions, in its order."""

    ATTRIBUTE_MODELS: dict[str, str]
    """Each action's facial attribute model (``"emotion"`` -> ``"Emotion"``, ...)."""

    ATTRIBUTE_LABELS: dict[str, list[str]]
    """The labels of each action's scores, in upstream's order (``age`` has none)."""

    ANALYZE_DEFAULTS: dict[str, Any]
    """Upstream ``analyze``'s keyword arguments besides ``img_path``, with defaults."""

    def reference_analyze(self, img: Any, **kwargs: Any) -> list[dict[str, Any]]:
        """Upstream's own single-image ``analyze``, unpatched."""
        ...

    def check_actions(self, actions: Any) -> list[str]:
        """``actions`` as upstream's ``analyze`` reads them, or upstream's error."""
        ...

    def build_attribute_model(self, model_name: str) -> Any:
        """Upstream's cached facial attribute client for ``model_name``."""
        ...

    def analyze_input(self, img_obj: dict[str, Any]) -> np.ndarray | None:
        """One face as ``analyze`` feeds the attribute models (``None``: an empty face)."""
        ...

    def analyze_entry(self, actions: list[str], predictions: dict[str, Any], img_obj: dict[str, Any]) -> dict[str, Any]:
        """Upstream's result dict for one face from each action's prediction for it."""
        ...

    # -- verify ---------------------------------------------------------------------------
    VERIFY_DEFAULTS: dict[str, Any]
    """Upstream ``verify``'s keyword arguments besides the two images, with defaults."""

    def reference_verify(self, img1: Any, img2: Any, **kwargs: Any) -> dict[str, Any]:
        """Upstream's own ``verify`` of one pair, unpatched."""
        ...

    def embedding_distance(self, a: Any, b: Any, distance_metric: Any) -> float:
        """Upstream's distance between two embeddings, as ``verify`` takes it."""
        ...

    def check_verify_embedding(self, value: list[Any], index: int, model_name: str, dims: int, silent: bool) -> None:
        """Upstream ``verify``'s checks of a pre-calculated embedding (``img{index}_path``)."""
        ...

    # -- find's representations datastore -------------------------------------------------
    FIND_BUILD: bool
    """Whether ``find``'s datastore build goes through the engine on this release."""

    def datastore_store(self, args: dict[str, Any]) -> tuple[Any, str, str]:
        """The store, datastore path and format of upstream's datastore load or save call."""
        ...

    def read_datastore(self, store: Any, datastore_path: str, datastore_format: str) -> list[dict[str, Any]]:
        """The rows of ``find``'s datastore file, read by upstream's own reader."""
        ...

    def serialize_datastore(self, representations: list[dict[str, Any]], datastore_format: str) -> bytes:
        """``find``'s datastore file's bytes, by upstream's own writer."""
        ...

    def is_local_store(self, store: Any) -> bool:
        """Whether ``store`` is upstream's store for a local folder."""
        ...

    def log_error(self, message: str) -> None:
        """An error line in deepface's own log."""
        ...

    # -- register's database backends -----------------------------------------------------
    ABSENT_TARGETS: frozenset[str]
    """The ``patching.TARGETS`` attributes (``"module:attribute"``) this release lacks."""

    def stores_attributes(self, database_type: str) -> bool:
        """Whether ``register`` stores analyze's attributes with each face there."""
        ...

    def connect_database(self, database_type: str, connection_details: Any) -> Any:
        """Upstream's client for a database of ``database_type``."""
        ...

    def is_no_face(self, error: BaseException) -> bool:
        """Whether ``error`` is upstream's "no face was detected"."""
        ...


def installed_version() -> str | None:
    """The installed deepface version, read without importing deepface."""
    try:
        return metadata.version("deepface")
    except metadata.PackageNotFoundError:
        return None


def unsupported_message(version: str | None) -> str:
    """What to tell a user whose deepface (``None``: none installed) is not supported."""
    supported = ", ".join(SUPPORTED)
    if version is None:
        return (
            f"deepface is not installed; deepface_batch supports deepface {supported}. "
            f"Install one with: pip install '{REQUIREMENT}'"
        )
    return (
        f"deepface {version} is installed, and deepface_batch supports deepface {supported} "
        f"({REQUIREMENT}); deepface is left unpatched and runs as upstream wrote it. Install "
        f"a supported release (pip install '{REQUIREMENT}') or a deepface-batch release "
        f"that supports deepface {version}."
    )


def check_version(version: str | None = None) -> str:
    """Return the compat module path for ``version`` or raise with what to do."""
    version = installed_version() if version is None else version
    release = None if version is None else release_of(version)
    if release not in SUPPORTED:
        raise UnsupportedDeepfaceVersion(unsupported_message(version))
    return SUPPORTED[release]


def release_of(version: str) -> str:
    """The release a version string is a build of: a post-release (``0.0.103.post1``) or a
    local build (``0.0.103+local``) is its release's code, as pip's range admits it."""
    return re.sub(r"(\.post\d+)?(\+.*)?$", "", version)


def refuse(err: UnsupportedDeepfaceVersion) -> None:
    """Warn once per process, for ``patch()`` and the import hook alike, that deepface is
    left unpatched (the library API raises ``err`` instead)."""
    if _refused.acquire(blocking=False):  # one thread wins, once per process
        warnings.warn(str(err), UnsupportedDeepfaceWarning, stacklevel=3)


def get() -> CompatLayer:
    """The compat module for the installed deepface (imported once)."""
    global _cached
    if _cached is None:
        _cached = importlib.import_module(check_version())
    return cast("CompatLayer", _cached)
