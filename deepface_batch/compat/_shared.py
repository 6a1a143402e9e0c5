"""The single-image path, split at the detector call: the glue every supported deepface
release shares (0.0.100 to 0.0.103; the per-release modules import it and add or replace
what differs).

Upstream's ``detection.extract_faces`` loads an image, adds a black border (``align``),
calls the detector, crops and aligns every face with ``detection.extract_face``, then
turns each face into the result dict. deepface_batch runs the detector on many images at
once, so it needs the steps before and after that call as separate functions. They call
upstream's own helpers (``load_image``, ``extract_face``, ``is_valid_landmark``, the
anti-spoofing model); only the glue between them, which upstream keeps inline in
``extract_faces`` and ``detect_faces``, is restated here, line for line, from deepface
0.0.103's deepface/modules/detection.py, representation.py and modeling.py. The test suite
proves the result bit-identical to upstream's for every backend, on each release CI runs.

The checklist of everything restated from upstream, and how the releases differ, is in
:mod:`deepface_batch.compat`'s docstring.
"""

from __future__ import annotations

import dataclasses
import os
from heapq import nlargest
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from deepface.commons import folder_utils, image_utils
from deepface.commons.logger import Logger
from deepface.models.Detector import DetectedFace, FacialAreaRegion
from deepface.models.FacialRecognition import FacialRecognition
from deepface.modules import demography, detection, modeling, preprocessing, representation, verification
from deepface.modules.exceptions import (
    DataTypeError,
    DimensionMismatchError,
    FaceNotDetected,
    ImgNotFound,
    SpoofDetected,
    UnimplementedError,
)
from deepface.modules.normalization import normalize_embedding_l2, normalize_embedding_minmax

logger = Logger()

#: what every release's module takes from here (``from ._shared import *``), replacing
#: what its release does differently
__all__ = [
    "ANALYZE_ACTIONS",
    "ANALYZE_DEFAULTS",
    "ATTRIBUTE_LABELS",
    "ABSENT_TARGETS",
    "ATTRIBUTE_MODELS",
    "DETECTORS",
    "EXTRACT_FACES_DEFAULTS",
    "FIND_BUILD",
    "FacialAreaRegion",
    "FacialRecognition",
    "RECOGNITION_MODELS",
    "REPRESENT_DEFAULTS",
    "VERIFY_DEFAULTS",
    "add_border",
    "analyze_entry",
    "analyze_input",
    "build_attribute_model",
    "check_actions",
    "check_spoof",
    "check_verify_embedding",
    "datastore_store",
    "embedding_distance",
    "is_local_store",
    "connect_database",
    "is_no_face",
    "log_error",
    "read_datastore",
    "serialize_datastore",
    "stores_attributes",
    "reference_analyze",
    "reference_verify",
    "build_detector",
    "build_recognition_model",
    "clamp_expand_percentage",
    "faces_from_regions",
    "finish",
    "l2_normalize_rows",
    "load_image",
    "reference_extract_faces",
    "reference_represent",
    "represent_entry",
    "represent_input",
    "represent_select",
    "represent_skip_faces",
    "shift_regions",
    "skip_faces",
    "weights_folder",
]

#: Every detector_backend string upstream accepts, in upstream's order.
DETECTORS: tuple[str, ...] = tuple(modeling.AVAILABLE_MODELS["face_detector"]) + ("skip",)

#: Keyword arguments of upstream's ``detection.extract_faces`` besides ``img_path``.
EXTRACT_FACES_DEFAULTS: dict[str, Any] = {
    "detector_backend": "opencv",
    "enforce_detection": True,
    "align": True,
    "expand_percentage": 0,
    "grayscale": False,
    "color_face": "rgb",
    "normalize_face": True,
    "anti_spoofing": False,
    "max_faces": None,
}


def weights_folder() -> Path:
    """deepface's weights folder, read from ``DEEPFACE_HOME`` now (it may change)."""
    return Path(folder_utils.get_deepface_home()) / ".deepface" / "weights"


def reference_extract_faces(img: Any, **kwargs: Any) -> list[dict[str, Any]]:
    """Upstream's own single-image ``extract_faces``, unpatched."""
    original = getattr(detection.extract_faces, "__wrapped__", detection.extract_faces)
    return original(img, **kwargs)


def load_image(item: Any) -> tuple[np.ndarray, str]:
    """Load a path, base64 string, URL, file object or array as upstream does, and a file
    whose name is not ASCII too.

    Upstream's loader refuses any path with a character outside ASCII ("Input image must
    not have non-english characters"): OpenCV on Windows cannot open such a name. Photo
    folders are named in every language, so here such a file is read as upstream reads
    any other (``cv2.imread``, the same decoder and flags), and through its bytes
    (``cv2.imdecode``) where ``imread`` cannot open the name. Every other input is
    upstream's loader's, unchanged.
    """
    path = _non_ascii_file(item)
    if path is not None:
        img = cv2.imread(path)
        if img is None:
            img = cv2.imdecode(np.fromfile(path, dtype=np.uint8), cv2.IMREAD_COLOR)
        if img is None:
            raise ValueError(f"Exception while loading {path}")
        return img, path
    img, img_name = image_utils.load_image(item)
    if img is None:
        raise ValueError(f"Exception while loading {img_name}")
    return img, img_name


def _non_ascii_file(item: Any) -> str | None:
    """``item`` as a path, when it names an existing file whose name upstream refuses."""
    if not isinstance(item, (str, os.PathLike)):
        return None
    path = os.fspath(item)
    if not isinstance(path, str) or path.isascii() or path.startswith("data:image/"):
        return None
    if path.lower().startswith(("http://", "https://")) or not os.path.isfile(path):
        return None  # a URL, or a missing file: upstream's loader says what it says
    return path


def build_detector(name: str) -> Any:
    """Upstream's cached detector instance for ``name``."""
    return modeling.build_model(task="face_detector", model_name=name)


def add_border(img: np.ndarray, align: bool) -> tuple[np.ndarray, int, int]:
    """The black border upstream adds before detection when aligning.

    Returns:
        The image to detect on, and the width and height of the border.
    """
    height, width = img.shape[:2]
    height_border = int(0.5 * height)
    width_border = int(0.5 * width)
    if align is True:
        img = cv2.copyMakeBorder(
            img,
            height_border,
            height_border,
            width_border,
            width_border,
            cv2.BORDER_CONSTANT,
            value=[0, 0, 0],
        )
    return img, width_border, height_border


def clamp_expand_percentage(expand_percentage: int) -> int:
    """Upstream's handling of a negative ``expand_percentage``."""
    if expand_percentage < 0:
        logger.warn(f"Expand percentage cannot be negative but you set it to {expand_percentage}.Overwritten it to 0.")
        return 0
    return expand_percentage


def faces_from_regions(
    detector_backend: str,
    bordered: np.ndarray,
    regions: list[FacialAreaRegion],
    align: bool,
    expand_percentage: int,
    max_faces: int | None,
    width_border: int,
    height_border: int,
) -> list[DetectedFace]:
    """What upstream's ``detect_faces`` does with the detector's regions."""
    if max_faces is not None and max_faces < len(regions):
        regions = nlargest(max_faces, regions, key=lambda region: region.w * region.h)
    return [
        detection.extract_face(
            facial_area=region,
            img=bordered,
            align=align,
            expand_percentage=expand_percentage,
            width_border=width_border,
            height_border=height_border,
            detector_backend=detector_backend,
        )
        for region in regions
    ]


def shift_regions(regions: list[FacialAreaRegion], dx: int, dy: int) -> list[FacialAreaRegion]:
    """Regions moved by ``(dx, dy)``, every point with them (``FacialAreaRegion`` of 0.0.103)."""

    def moved(point: Any) -> Any:
        return None if point is None else (point[0] + dx, point[1] + dy)

    return [
        dataclasses.replace(
            region,
            x=region.x + dx,
            y=region.y + dy,
            left_eye=moved(region.left_eye),
            right_eye=moved(region.right_eye),
            nose=moved(region.nose),
            mouth_left=moved(region.mouth_left),
            mouth_right=moved(region.mouth_right),
        )
        for region in regions
    ]


def skip_faces(img: np.ndarray) -> list[DetectedFace]:
    """The whole image as one face, as upstream's ``skip`` backend gives it."""
    height, width = img.shape[:2]
    base_region = FacialAreaRegion(x=0, y=0, w=width, h=height, confidence=0)
    return [DetectedFace(img=img, facial_area=base_region, confidence=0)]


def finish(
    img: np.ndarray,
    img_name: str | None,
    face_objs: list[DetectedFace],
    enforce_detection: bool = True,
    grayscale: bool = False,
    color_face: str = "rgb",
    normalize_face: bool = True,
    anti_spoofing: bool = False,
) -> list[dict[str, Any]]:
    """Turn detected faces into upstream's result dicts (the tail of ``extract_faces``)."""

    height, width = img.shape[:2]
    base_region = FacialAreaRegion(x=0, y=0, w=width, h=height, confidence=0)

    if len(face_objs) == 0 and enforce_detection is True:
        if img_name is not None:
            raise FaceNotDetected(
                f"Face could not be detected in {img_name}."
                "Please confirm that the picture is a face photo "
                "or consider to set enforce_detection param to False."
            )
        raise FaceNotDetected(
            "Face could not be detected. Please confirm that the picture is a face photo "
            "or consider to set enforce_detection param to False."
        )
    if len(face_objs) == 0 and enforce_detection is False:
        face_objs = [DetectedFace(img=img, facial_area=base_region, confidence=0)]

    resp_objs: list[dict[str, Any]] = []
    for face_obj in face_objs:
        current_img = face_obj.img
        current_region = face_obj.facial_area

        if current_img.shape[0] == 0 or current_img.shape[1] == 0:
            continue

        if grayscale is True:
            logger.warn("Parameter grayscale is deprecated. Use color_face instead.")
            current_img = cv2.cvtColor(current_img, cv2.COLOR_BGR2GRAY)
        elif color_face == "rgb":
            current_img = current_img[:, :, ::-1]
        elif color_face == "bgr":
            pass
        elif color_face == "gray":
            current_img = cv2.cvtColor(current_img, cv2.COLOR_BGR2GRAY)
        else:
            raise UnimplementedError(f"The color_face can be rgb, bgr or gray, but it is {color_face}.")

        if normalize_face and current_img.max() > 1:
            current_img = current_img / 255

        x = max(0, int(current_region.x))
        y = max(0, int(current_region.y))
        w = min(width - x - 1, int(current_region.w))
        h = min(height - y - 1, int(current_region.h))

        landmarks = {
            "left_eye": current_region.left_eye,
            "right_eye": current_region.right_eye,
            "nose": current_region.nose,
            "mouth_left": current_region.mouth_left,
            "mouth_right": current_region.mouth_right,
        }
        for key, value in landmarks.items():
            if value is not None:
                landmarks[key] = (int(value[0]), int(value[1]))
        for key, value in landmarks.items():
            if not detection.is_valid_landmark(value, width, height):
                landmarks[key] = None

        facial_area: dict[str, Any] = {
            "x": x,
            "y": y,
            "w": w,
            "h": h,
            "left_eye": landmarks["left_eye"],
            "right_eye": landmarks["right_eye"],
        }
        # nose and mouth come from retinaface only; upstream adds them only when present
        for key in ("nose", "mouth_left", "mouth_right"):
            if getattr(current_region, key) is not None:
                facial_area[key] = landmarks[key]

        resp_obj: dict[str, Any] = {
            "face": current_img,
            "facial_area": facial_area,
            "confidence": round(float(current_region.confidence or 0), 2),
        }
        if anti_spoofing is True:
            antispoof_model = modeling.build_model(task="spoofing", model_name="Fasnet")
            is_real, antispoof_score = antispoof_model.analyze(img=img, facial_area=(x, y, w, h))
            resp_obj["is_real"] = is_real
            resp_obj["antispoof_score"] = antispoof_score
        resp_objs.append(resp_obj)

    if len(resp_objs) == 0 and enforce_detection is True:
        raise ImgNotFound(
            f"Exception while extracting faces from {img_name}.Consider to set enforce_detection arg to False."
        )
    return resp_objs


# -- represent ------------------------------------------------------------------------------
#: Every model_name upstream's ``represent`` accepts, in upstream's order.
RECOGNITION_MODELS: tuple[str, ...] = tuple(modeling.AVAILABLE_MODELS["facial_recognition"])

#: Keyword arguments of upstream's ``representation.represent`` besides ``img_path``.
REPRESENT_DEFAULTS: dict[str, Any] = {
    "model_name": "VGG-Face",
    "enforce_detection": True,
    "detector_backend": "opencv",
    "align": True,
    "expand_percentage": 0,
    "normalization": "base",
    "anti_spoofing": False,
    "max_faces": None,
    "l2_normalize": False,
    "minmax_normalize": False,
    "return_face": False,
}


def reference_represent(img: Any, **kwargs: Any) -> list[dict[str, Any]]:
    """Upstream's own ``represent``, unpatched."""
    original = getattr(representation.represent, "__wrapped__", representation.represent)
    return original(img, **kwargs)


def build_recognition_model(model_name: str) -> Any:
    """Upstream's cached recognition client for ``model_name``."""
    return modeling.build_model(task="facial_recognition", model_name=model_name)


def represent_skip_faces(img: np.ndarray) -> list[dict[str, Any]]:
    """The face dict upstream's ``represent`` makes itself for ``detector_backend='skip'``.

    It differs from ``extract_faces``' skip: the face is RGB but not scaled to [0, 1], the
    confidence is 0, and ``w``/``h`` are the image's height and width (upstream's quirk,
    kept).
    """
    if len(img.shape) != 3:
        raise ValueError(f"Input img must be 3 dimensional but it is {img.shape}")
    img = img[:, :, ::-1]
    return [
        {
            "face": img,
            "facial_area": {"x": 0, "y": 0, "w": img.shape[0], "h": img.shape[1]},
            "confidence": 0,
        }
    ]


def represent_select(
    img_objs: list[dict[str, Any]], max_faces: int | None, anti_spoofing: bool
) -> list[dict[str, Any]]:
    """``max_faces`` (largest areas first) and the spoof check of upstream's ``represent``."""
    if max_faces is not None and max_faces < len(img_objs):
        img_objs = sorted(
            img_objs,
            key=lambda img_obj: img_obj["facial_area"]["w"] * img_obj["facial_area"]["h"],
            reverse=True,
        )[0:max_faces]
    check_spoof(img_objs, anti_spoofing)
    return img_objs


def check_spoof(img_objs: list[dict[str, Any]], anti_spoofing: bool) -> None:
    """Upstream's spoof check of ``represent`` and ``analyze``: ``SpoofDetected`` when
    ``anti_spoofing`` is on and a face is not real."""
    for img_obj in img_objs:
        if anti_spoofing is True and img_obj.get("is_real", True) is False:
            raise SpoofDetected("Spoof detected in the given image.")


def represent_input(img_obj: dict[str, Any], target_size: tuple[int, int], normalization: str) -> np.ndarray:
    """One face as upstream feeds it to the model: BGR, resized and padded, normalised.

    Returns:
        A ``(1, H, W, 3)`` float32 array.
    """
    img = img_obj["face"][:, :, ::-1]
    img = preprocessing.resize_image(img=img, target_size=(target_size[1], target_size[0]))
    return preprocessing.normalize_input(img=img, normalization=normalization)


def l2_normalize_rows(rows: list[list[float]]) -> list[list[float]]:
    """Each row L2-normalised as upstream's VGG-Face client normalises its output."""
    return verification.l2_normalize(rows, axis=1).tolist()


def represent_entry(
    embedding: list[float],
    img_obj: dict[str, Any],
    face_input: np.ndarray,
    model_name: str,
    minmax_normalize: bool,
    l2_normalize: bool,
    return_face: bool,
) -> dict[str, Any]:
    """Upstream's result dict for one face, its embedding normalised as upstream does."""
    if minmax_normalize:
        embedding = normalize_embedding_minmax(model_name, embedding)
    if l2_normalize:
        embedding = normalize_embedding_l2(embedding)
    resp_obj: dict[str, Any] = {
        "embedding": embedding,
        "facial_area": img_obj["facial_area"],
        "face_confidence": img_obj["confidence"],
    }
    if return_face:
        resp_obj["face"] = face_input[0]
    return resp_obj


# -- analyze --------------------------------------------------------------------------------
#: upstream's actions, in its order, and the facial attribute model each one runs
ANALYZE_ACTIONS: tuple[str, ...] = ("emotion", "age", "gender", "race")
ATTRIBUTE_MODELS: dict[str, str] = {"emotion": "Emotion", "age": "Age", "gender": "Gender", "race": "Race"}


def _labels() -> dict[str, list[str]]:
    """The labels as each release's ``analyze`` reads them: 0.0.101 and later from
    ``DemographyUtils``, 0.0.100 from each model's module (the same lists)."""
    try:
        from deepface.models.demography.DemographyUtils import EMOTION_LABELS, GENDER_LABELS, RACE_LABELS
    except ImportError:  # 0.0.100
        from deepface.models.demography import Emotion, Gender, Race

        EMOTION_LABELS, GENDER_LABELS, RACE_LABELS = Emotion.labels, Gender.labels, Race.labels
    return {"emotion": list(EMOTION_LABELS), "gender": list(GENDER_LABELS), "race": list(RACE_LABELS)}


#: the labels of each action's scores, in upstream's order (``age`` has none: one number)
ATTRIBUTE_LABELS: dict[str, list[str]] = _labels()

#: Keyword arguments of upstream's ``demography.analyze`` besides ``img_path``.
ANALYZE_DEFAULTS: dict[str, Any] = {
    "actions": ("emotion", "age", "gender", "race"),
    "enforce_detection": True,
    "detector_backend": "opencv",
    "align": True,
    "expand_percentage": 0,
    "silent": False,
    "anti_spoofing": False,
}


def reference_analyze(img: Any, **kwargs: Any) -> list[dict[str, Any]]:
    """Upstream's own ``analyze``, unpatched."""
    original = getattr(demography.analyze, "__wrapped__", demography.analyze)
    return original(img, **kwargs)


def check_actions(actions: Any) -> list[str]:
    """``actions`` as upstream's ``analyze`` reads them, or upstream's error."""
    if isinstance(actions, str):
        actions = (actions,)
    if not hasattr(actions, "__getitem__") or not actions:
        raise ValueError("`actions` must be a list of strings.")
    actions = list(actions)
    for action in actions:
        if action not in ANALYZE_ACTIONS:
            raise UnimplementedError(
                f"Invalid action passed ({repr(action)})). Valid actions are `emotion`, `age`, `gender`, `race`."
            )
    return actions


def build_attribute_model(model_name: str) -> Any:
    """Upstream's cached facial attribute client (``Emotion``, ``Age``, ``Gender``, ``Race``)."""
    return modeling.build_model(task="facial_attribute", model_name=model_name)


def analyze_input(img_obj: dict[str, Any]) -> np.ndarray | None:
    """One face as upstream's ``analyze`` feeds every attribute model: BGR, letterboxed to
    224 x 224, in [0, 1], ``(1, 224, 224, 3)``; ``None`` for an empty face, which upstream
    leaves out of its result."""
    img_content = img_obj["face"]
    if img_content.shape[0] == 0 or img_content.shape[1] == 0:
        return None
    img_content = img_content[:, :, ::-1]
    return preprocessing.resize_image(img=img_content, target_size=(224, 224))


def analyze_entry(actions: list[str], predictions: dict[str, Any], img_obj: dict[str, Any]) -> dict[str, Any]:
    """Upstream's result dict for one face from each action's prediction for it (a row of
    scores, or Age's apparent age): its keys in upstream's order (``region`` and
    ``face_confidence`` after the first action's), its arithmetic (no rounding)."""
    obj: dict[str, Any] = {}
    for action in actions:
        prediction = predictions[action]
        if action == "age":
            obj["age"] = int(prediction)
        else:
            labels = ATTRIBUTE_LABELS[action]
            # emotion and race are normalised by their sum, gender is not (upstream's own)
            total = prediction.sum() if action != "gender" else None
            obj[action] = {
                label: 100 * prediction[i] / total if total is not None else 100 * prediction[i]
                for i, label in enumerate(labels)
            }
            obj[f"dominant_{action}"] = labels[np.argmax(prediction)]
        obj["region"] = img_obj["facial_area"]
        obj["face_confidence"] = img_obj["confidence"]
    return obj


# -- verify ---------------------------------------------------------------------------------

#: Keyword arguments of upstream's ``verification.verify`` besides the two images.
VERIFY_DEFAULTS: dict[str, Any] = {
    "model_name": "VGG-Face",
    "detector_backend": "opencv",
    "distance_metric": "cosine",
    "enforce_detection": True,
    "align": True,
    "expand_percentage": 0,
    "normalization": "base",
    "silent": False,
    "threshold": None,
    "anti_spoofing": False,
}


def reference_verify(img1: Any, img2: Any, **kwargs: Any) -> dict[str, Any]:
    """Upstream's own ``verify`` of one pair, unpatched."""
    original = getattr(verification.verify, "__wrapped__", verification.verify)
    return original(img1, img2, **kwargs)


def embedding_distance(a: Any, b: Any, distance_metric: Any) -> float:
    """Upstream's distance between two embeddings, as ``verify`` takes it."""
    return float(verification.find_distance(a, b, distance_metric))


def check_verify_embedding(value: list[Any], index: int, model_name: str, dims: int, silent: bool) -> None:
    """Upstream ``verify``'s checks of a pre-calculated embedding given as ``img{index}_path``
    (restated from its ``extract_embeddings_and_facial_areas``): ``DataTypeError`` for an
    item that is not a number, ``DimensionMismatchError`` for the wrong length."""
    if not all(isinstance(dim, (float, int)) for dim in value):
        raise DataTypeError(f"When passing img{index}_path as a list, ensure that all its items are of type float.")
    if silent is False:
        logger.warn(
            f"You passed {index}-th image as pre-calculated embeddings."
            "Please ensure that embeddings have been calculated"
            f" for the {model_name} model."
        )
    if len(value) != dims:
        raise DimensionMismatchError(
            f"embeddings of {model_name} should have {dims} dimensions,"
            f" but {index}-th image has {len(value)} dimensions input"
        )


# -- find's representations datastore -----------------------------------------------------

#: Whether ``find``'s datastore build goes through the engine on this release: its layout
#: (``recognition.__find_bulk_embeddings(store, employees, ...)``, the file store and
#: ``__load_representations`` / ``__save_representations(store, datastore_path,
#: datastore_format, ...)``) is 0.0.103's; older releases keep upstream's own build.
FIND_BUILD = False


def _recognition() -> Any:
    from deepface.modules import recognition

    return recognition


def datastore_store(args: dict[str, Any]) -> tuple[Any, str, str]:
    """The file store, datastore path and format of a call to upstream's
    ``__load_representations`` or ``__save_representations``, by argument name."""
    return args["store"], args["datastore_path"], args["datastore_format"]


def read_datastore(store: Any, datastore_path: str, datastore_format: str) -> list[dict[str, Any]]:
    """The rows of ``find``'s datastore file, read by upstream's own reader."""
    load = getattr(_recognition(), "__load_representations")
    load = getattr(load, "__wrapped__", load)
    return load(store=store, datastore_path=datastore_path, datastore_format=datastore_format)


def serialize_datastore(representations: list[dict[str, Any]], datastore_format: str) -> bytes:
    """``find``'s datastore file's bytes for ``representations``, by upstream's own writer."""
    recognition = _recognition()
    if datastore_format == "npz":
        return getattr(recognition, "__serialize_npz")(representations)
    return getattr(recognition, "__serialize_arrow")(representations, datastore_format)


def is_local_store(store: Any) -> bool:
    """Whether ``store`` is upstream's store for a local folder (not S3, not FTP)."""
    from deepface.modules.filestore import LocalFileStore

    return isinstance(store, LocalFileStore)


def log_error(message: str) -> None:
    """An error line in deepface's own log, as upstream logs one."""
    logger.error(message)


# -- register's database backends ---------------------------------------------------------

#: The attributes ``patching.TARGETS`` names (``"module:attribute"``) that this release
#: does not have, so they are not wrapped: register's ``datastore.__register(db_client,
#: img, img_name, ...)`` is 0.0.102's layout; older releases keep upstream's own register.
ABSENT_TARGETS: frozenset[str] = frozenset({"deepface.modules.datastore:__register"})


def stores_attributes(database_type: str) -> bool:
    """Whether ``register`` stores analyze's attributes with each face in a database of
    ``database_type`` (the graph databases): upstream's own code does it."""
    from deepface.modules.database.inventory import database_inventory

    return bool(database_inventory[database_type]["is_graph_db"] is True)


def connect_database(database_type: str, connection_details: Any) -> Any:
    """Upstream's client for a database (``register``'s and ``search``'s own connect)."""
    from deepface.modules import datastore

    return getattr(datastore, "__connect_database")(database_type=database_type, connection_details=connection_details)


def is_no_face(error: BaseException) -> bool:
    """Whether ``error`` is upstream's "no face was detected" (``enforce_detection``)."""
    return isinstance(error, FaceNotDetected)
