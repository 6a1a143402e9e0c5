"""Seeded random weights for detectors whose real weights cannot be had offline.

RetinaFace and the YOLO face models have no weights here. Each function below builds the
real architecture (retina-face's own network, ultralytics' own model definitions), gives it
seeded random weights and saves it under the file name deepface loads, so upstream's code
path runs unchanged. Batched-versus-single equivalence does not depend on what the weights
are, only that the same weights serve both paths.

Random weights need two adjustments to produce detections at all, and both keep the
network real: BatchNorm running statistics are calibrated on sample images (a deep random
network's activations otherwise vanish, and every score is the same constant), and the
final face-score bias is shifted so that only a few anchors clear upstream's fixed threshold.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

SEED = 0

#: backend -> (file name deepface loads, builder)
YOLO_FILES = {
    "yolov8n": "yolov8n-face.pt",
    "yolov11n": "yolov11n-face.pt",
    "yolov12n": "yolov12n-face.pt",
}
#: the ultralytics definition each planted detection model is built from
_YOLO_DETECT_YAML = {"yolov11n": "yolo11n.yaml", "yolov12n": "yolo12n.yaml"}


def _calibrate_torch_bn(model, run: Callable[[], None]) -> None:
    """Set every BatchNorm's running statistics to those of the calibration batch."""
    import torch

    for module in model.modules():
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            module.reset_running_stats()
            module.momentum = None  # a cumulative average: one batch gives its statistics
    model.train()
    with torch.no_grad():
        run()
    model.eval()


def plant_yolo(backend: str, weights_dir: Path, samples: Sequence[np.ndarray]) -> Path:
    """A YOLO face model from ultralytics' definitions, saved as deepface's file.

    yolov8n-face is a pose model with one class and five keypoints (the eyes first), as
    the file deepface downloads is; yolov11n-face and yolov12n-face are one-class detection
    models.
    """
    import cv2
    import torch
    from ultralytics.nn.tasks import DetectionModel, PoseModel

    target = weights_dir / YOLO_FILES[backend]
    torch.manual_seed(SEED)
    if backend.startswith("yolov8"):
        model = PoseModel("yolov8n-pose.yaml", nc=1, data_kpt_shape=(5, 3), verbose=False)
        task = "pose"
    else:
        model = DetectionModel(_YOLO_DETECT_YAML[backend], nc=1, verbose=False)
        task = "detect"
    model.names = {0: "face"}
    model.args = {"task": task}
    batch = torch.stack(
        [
            torch.from_numpy(np.ascontiguousarray(cv2.resize(s, (640, 640))[:, :, ::-1]))
            .permute(2, 0, 1)
            .float()
            / 255
            for s in samples
        ]
    )
    _calibrate_torch_bn(model, lambda: model(batch))
    torch.save({"model": model, "train_args": {"task": task}, "date": "planted"}, target)
    return target


#: RetinaFace's weight file per deepface engine
RETINAFACE_FILES = {"onnx": "retinaface.onnx", "pytorch": "retinaface.pth", "tensorflow": "retinaface.h5"}


def ensure_weights(
    name: str,
    engine: str,
    weights_dir: Path,
    samples: Sequence[np.ndarray],
    unavailable: Callable[[str, str], None],
) -> None:
    """Plant the weights backend ``name`` needs on ``engine`` unless a file is present.

    The YOLO models planted are those of YOLO_FILES; the other YOLO backends share their
    code path and are left to their real weights, to keep CI inside its time. Where a
    backend cannot be planted, ``unavailable(name, reason)`` is called (it skips or fails).
    """
    if name == "retinaface":
        if (weights_dir / RETINAFACE_FILES[engine]).exists():
            return
        needs = "tensorflow" if engine == "tensorflow" else "torch"
        if importlib.util.find_spec(needs) is None:  # found, not imported: see the Keras note
            unavailable(name, f"planting RetinaFace weights for the {engine} engine needs {needs}")
            return
        plant_retinaface(weights_dir, engine, samples)
    elif name.startswith("yolo"):
        file_name = YOLO_FILES.get(name) or f"{name}-face.pt"
        if (weights_dir / file_name).exists():
            return
        if name not in YOLO_FILES:
            unavailable(name, f"no {file_name} here; planted YOLO weights cover {sorted(YOLO_FILES)}")
            return
        plant_yolo(name, weights_dir, samples)


#: how many anchors of the calibration image clear upstream's fixed 0.9 threshold
RETINAFACE_ANCHORS_OVER_THRESHOLD = 5


def _face_bias_shift(face_probs: np.ndarray) -> float:
    """The shift of the face logit after which only the strongest few anchors pass 0.9."""
    probs = np.clip(np.sort(face_probs.ravel()), 1e-7, 1 - 1e-7)
    logits = np.log(probs / (1 - probs))
    wanted = np.log(0.9 / 0.1) + 0.01
    return float(wanted - logits[-RETINAFACE_ANCHORS_OVER_THRESHOLD])


def _retinaface_input(sample: np.ndarray) -> np.ndarray:
    """The tensor retina-face makes of a sample, bordered as deepface borders it."""
    import cv2
    from retinaface.commons import preprocess

    h, w = sample.shape[:2]
    bordered = cv2.copyMakeBorder(
        sample, h // 2, h // 2, w // 2, w // 2, cv2.BORDER_CONSTANT, value=[0, 0, 0]
    )
    return preprocess.preprocess_image(bordered, allow_upscaling=True)[0]


def _retinaface_torch(samples: Sequence[np.ndarray]):
    """retina-face's PyTorch RetinaFace, seeded, calibrated, its face score shifted."""
    import torch
    from retinaface.model import retinaface_pth_model

    torch.manual_seed(SEED)
    model = retinaface_pth_model.RetinaFace()
    tensor = torch.from_numpy(_retinaface_input(samples[0]))
    _calibrate_torch_bn(model, lambda: model(tensor))
    with torch.no_grad():
        outputs = model(tensor)
        # cls outputs are [bg_a1, bg_a2, face_a1, face_a2] per stride
        shift = _face_bias_shift(np.concatenate([o[..., 2:].numpy().ravel() for o in outputs[0::3]]))
        for head in (model.face_rpn_stride32, model.face_rpn_stride16, model.face_rpn_stride8):
            head.cls_score.bias[2:] += shift
    return model


def plant_retinaface(weights_dir: Path, engine: str, samples: Sequence[np.ndarray]) -> Path:
    """RetinaFace for deepface's engine: .onnx (onnx), .pth (pytorch) or .h5 (tensorflow)."""
    if engine == "tensorflow":
        return _plant_retinaface_keras(weights_dir, samples)
    import torch

    model = _retinaface_torch(samples)
    if engine == "pytorch":
        target = weights_dir / "retinaface.pth"
        torch.save(model.state_dict(), target)
        return target
    target = weights_dir / "retinaface.onnx"
    names = [f"out{i}" for i in range(9)]
    torch.onnx.export(
        model,
        (torch.zeros(1, 320, 320, 3),),
        str(target),
        input_names=["data"],
        output_names=names,
        dynamic_axes={"data": {0: "n", 1: "h", 2: "w"}, **{n: {0: "n", 1: "h", 2: "w"} for n in names}},
        opset_version=17,
        dynamo=False,
    )
    return target


def _plant_retinaface_keras(weights_dir: Path, samples: Sequence[np.ndarray]) -> Path:
    """retina-face's Keras RetinaFace, seeded, calibrated, its face score shifted."""
    # retina-face's module sets TF_USE_LEGACY_KERAS=1 on import: it must run before
    # TensorFlow loads, or tf.keras is Keras 3, which cannot build retina-face's network
    from retinaface import RetinaFace as _  # noqa: F401
    import tensorflow as tf
    from retinaface.model import retinaface_model

    tf.keras.utils.set_random_seed(SEED)
    original = retinaface_model.load_weights
    retinaface_model.load_weights = lambda model: model  # build the graph, load nothing
    try:
        model = retinaface_model.build_model()
    finally:
        retinaface_model.load_weights = original
    norms = [l for l in model.layers if isinstance(l, tf.keras.layers.BatchNormalization)]
    for layer in norms:
        layer.trainable = True
        layer.momentum = 0.0  # one training call sets the moving statistics to the batch's
    tensor = _retinaface_input(samples[0])
    model(tensor, training=True)
    for layer in norms:
        layer.trainable = False
    outputs = model(tensor, training=False)
    shift = _face_bias_shift(np.concatenate([o.numpy()[..., 2:].ravel() for o in outputs[0::3]]))
    for layer in model.layers:
        if layer.name.startswith("face_rpn_cls_score_stride"):
            kernel, bias = layer.get_weights()
            bias[2:] += shift
            layer.set_weights([kernel, bias])
    target = weights_dir / "retinaface.h5"
    model.save_weights(str(target))
    return target


def link_shared_weights(source: Path, weights_dir: Path) -> list[str]:
    """Link the real weight files of ``source`` (../shared/weights) into ``weights_dir``."""
    linked = []
    for entry in sorted(source.iterdir()):
        if entry.is_file() and entry.suffix in {".onnx", ".prototxt", ".caffemodel", ".dat", ".xml", ".pt", ".pth", ".h5"}:
            link = weights_dir / entry.name
            if not link.exists():
                os.symlink(entry.resolve(), link)
            linked.append(entry.name)
    return linked
