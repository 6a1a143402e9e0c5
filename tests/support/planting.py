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
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from tests.support.paths import shared_weights_dir

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
            torch.from_numpy(np.ascontiguousarray(cv2.resize(s, (640, 640))[:, :, ::-1])).permute(2, 0, 1).float() / 255
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
    bordered = cv2.copyMakeBorder(sample, h // 2, h // 2, w // 2, w // 2, cv2.BORDER_CONSTANT, value=[0, 0, 0])
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
    import tensorflow as tf
    from retinaface import RetinaFace as _  # noqa: F401
    from retinaface.model import retinaface_model

    tf.keras.utils.set_random_seed(SEED)
    original = retinaface_model.load_weights
    retinaface_model.load_weights = lambda model: model  # build the graph, load nothing
    try:
        model = retinaface_model.build_model()
    finally:
        retinaface_model.load_weights = original
    norms = [n for n in model.layers if isinstance(n, tf.keras.layers.BatchNormalization)]
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
        weight_suffixes = {".onnx", ".prototxt", ".caffemodel", ".dat", ".xml", ".pt", ".pth", ".h5"}
        if entry.is_file() and entry.suffix in weight_suffixes:
            link = weights_dir / entry.name
            if not link.exists():
                os.symlink(entry.resolve(), link)
            linked.append(entry.name)
    return linked


# -- recognition models -------------------------------------------------------------------
#: how each recognition model deepface offers gets its weights here (the list of models
#: itself is deepface's: ``deepface_batch.compat.get().RECOGNITION_MODELS``; a test checks
#: that this table covers it): "built" (upstream's own network, seeded, saved under
#: deepface's file name), "alternate" (SFace: opencv_zoo's int8 graph of the real network,
#: from ../shared/weights/alternates), "real" (Dlib: real weights only), "none" (Buffalo_L)
RECOGNITION_PLANTING: dict[str, str] = {
    "VGG-Face": "built",
    "Facenet": "built",
    "Facenet512": "built",
    "OpenFace": "built",
    "DeepFace": "built",
    "DeepID": "built",
    "ArcFace": "built",
    "Dlib": "real",
    "SFace": "alternate",
    "GhostFaceNet": "built",
    "Buffalo_L": "none",
}

#: the alternate SFace graph in ../shared/weights/alternates: opencv_zoo's SFace with
#: block-quantised int8 weights, the real architecture under another file name
SFACE_ALTERNATE = "face_recognition_sface_2021dec_int8bq.onnx"
SFACE_FILE = "face_recognition_sface_2021dec.onnx"


def _recognition_class(model_name: str, engine: str, task: str = "facial_recognition") -> type:
    import importlib

    from deepface.modules import modeling

    sources = modeling.AVAILABLE_MODELS[task][model_name]
    if isinstance(sources, type):  # deepface 0.0.100: the registry holds the classes
        return sources
    path = sources.get(engine) or sources[modeling.ANY]
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


class _Capture:
    """Patch deepface's weight loading so that building a client saves what it built.

    ``download_weights_if_necessary`` answers with the path in ``weights_dir`` instead of
    downloading, and the loader that would read the file writes the freshly built, seeded
    network there instead. Everything else (the architecture, the layer names, the file
    name) is upstream's own code.
    """

    def __init__(self, weights_dir: Path, modules: Sequence[object]) -> None:
        self.weights_dir = weights_dir
        self.modules = modules
        self.saved: list[Path] = []
        self._undo: list[tuple[object, str, object]] = []

    def _set(self, owner: object, name: str, value: object) -> None:
        self._undo.append((owner, name, getattr(owner, name)))
        setattr(owner, name, value)

    def __enter__(self) -> _Capture:
        from deepface.commons import weight_utils

        def download(file_name, source_url, compress_type=None):
            return str(self.weights_dir / file_name)

        self._set(weight_utils, "download_weights_if_necessary", download)
        return self

    def saver(self, name: str, save: Callable[[object, str], None]) -> None:
        """Replace ``name`` (a weight loader) in every module with one that saves."""

        def load(model, weight_file):
            if not os.path.exists(weight_file):
                save(model, weight_file)
                self.saved.append(Path(weight_file))
            return model

        for module in self.modules:
            if hasattr(module, name):
                self._set(module, name, load)

    def __exit__(self, *exc) -> None:
        for owner, name, value in reversed(self._undo):
            setattr(owner, name, value)


# -- facial attribute classifiers: a head that tells faces apart --------------------------
#: classes per facial attribute model (its last layer's outputs)
ATTRIBUTE_CLASSES = {"Emotion": 7, "Age": 101, "Gender": 2, "Race": 6}
#: the spread of the calibrated logits across the calibration faces
HEAD_SPREAD = 2.0


def _attribute_calibration(model_name: str, channels_first: bool) -> np.ndarray:
    """Face inputs as the attribute models take them: the sample photo's face, flipped,
    dimmed, shifted and scaled; BGR in [0, 1], 224 x 224 (Emotion: gray, 48 x 48)."""
    import cv2

    from deepface_batch import samples

    face = samples.astronaut()[30:330, 90:350]
    variants = [face, face[:, ::-1], (face * 0.6).astype(np.uint8), np.roll(face, 40, axis=1), face[40:, 20:]]
    variants += [cv2.GaussianBlur(face, (9, 9), 3), 255 - face, face[:200, :200]]
    out = []
    for image in variants:
        image = cv2.resize(np.ascontiguousarray(image), (224, 224)).astype(np.float32) / 255
        if model_name == "Emotion":
            image = cv2.resize(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), (48, 48))[:, :, None]
        out.append(image)
    batch = np.stack(out)
    return np.ascontiguousarray(batch.transpose(0, 3, 1, 2)) if channels_first else batch


def _head(features: np.ndarray, classes: int) -> tuple[np.ndarray, np.ndarray]:
    """A seeded last layer (``(features, classes)`` weights and a bias) whose logits spread
    by :data:`HEAD_SPREAD` across the calibration faces, centred on them.

    A deep random network's last-layer inputs differ little from face to face next to
    their mean, so its softmax gives every face about the same scores (a planted Gender
    scored every face 50.1237 %): the batched and single paths would agree even if one
    gave a face another face's result. Centring and scaling the head keeps the network
    real and makes its answers differ by face.
    """
    rng = np.random.default_rng(SEED)
    flat = features.reshape(features.shape[0], -1).astype(np.float64)
    mean = flat.mean(axis=0)
    projection = rng.standard_normal((flat.shape[1], classes))
    logits = (flat - mean) @ projection
    scale = HEAD_SPREAD / max(float(logits.std()), 1e-12)
    weights = projection * scale
    return weights.astype(np.float32), (-(mean @ weights)).astype(np.float32)


def _calibrate_keras_head(model_name: str, model) -> None:
    import tensorflow as tf

    classes = ATTRIBUTE_CLASSES[model_name]
    last = [layer for layer in model.layers if layer.get_weights()][-1]
    kernel, _ = last.get_weights()
    assert kernel.shape[-1] == classes, (model_name, last.name, kernel.shape)
    inputs = _attribute_calibration(model_name, channels_first=False)
    features = tf.keras.Model(model.inputs, last.input)(inputs, training=False).numpy()
    weights, bias = _head(features, classes)
    last.set_weights([weights.reshape(kernel.shape), bias])


def _keep_the_signal(model) -> None:
    """He-initialised weights and zero biases for every convolution and linear layer.

    PyTorch's default initialisation shrinks a ReLU network's signal by about a third per
    layer: after VGG's sixteen layers every face gives the same features, to the last
    float bits, and a head that tells them apart only amplifies rounding. He's
    initialisation (for ReLU, by fan-in) keeps the signal's scale through the layers.
    """
    import torch

    for module in model.modules():
        if isinstance(module, (torch.nn.Conv2d, torch.nn.Linear)):
            torch.nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
            if module.bias is not None:
                torch.nn.init.zeros_(module.bias)


def _calibrate_torch_head(model_name: str, model) -> None:
    import torch

    _keep_the_signal(model)

    classes = ATTRIBUTE_CLASSES[model_name]
    last = [m for m in model.modules() if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d))][-1]
    assert last.weight.shape[0] == classes, (model_name, last, tuple(last.weight.shape))
    captured: list[np.ndarray] = []
    hook = last.register_forward_pre_hook(lambda module, args: captured.append(args[0].detach().numpy()))
    model.eval()
    with torch.no_grad():
        model(torch.from_numpy(_attribute_calibration(model_name, channels_first=True)))
    hook.remove()
    weights, bias = _head(captured[0], classes)
    with torch.no_grad():
        last.weight.copy_(torch.from_numpy(weights.T.reshape(last.weight.shape)))
        last.bias.copy_(torch.from_numpy(bias))


def _plant_keras(model_name: str, weights_dir: Path, task: str) -> list[Path]:
    import sys

    import tensorflow as tf
    from deepface.commons import weight_utils

    cls = _recognition_class(model_name, "tensorflow", task)
    tf.keras.utils.set_random_seed(SEED)

    def save(model, path):
        if task == "facial_attribute":
            _calibrate_keras_head(model_name, model)
        model.save_weights(path)

    with _Capture(weights_dir, [weight_utils, sys.modules[cls.__module__]]) as capture:
        capture.saver("load_model_weights", save)
        cls()
    return capture.saved


def _plant_torch(model_name: str, weights_dir: Path, task: str) -> tuple[object, list[Path]]:
    import importlib
    import sys

    import torch

    cls = _recognition_class(model_name, "pytorch", task)
    base = importlib.import_module(
        "deepface.models.facial_recognition.pytorch.TorchFacialRecognition"
        if task == "facial_recognition"
        else "deepface.models.demography.pytorch.TorchDemography"
    )
    torch.manual_seed(SEED)

    def save(model, path):
        model.eval()
        if task == "facial_attribute":
            _calibrate_torch_head(model_name, model)
        torch.save(model.state_dict(), path)

    modules = [base, sys.modules[cls.__module__]]
    with _Capture(weights_dir, modules) as capture:
        capture.saver("load_model_weights", save)
        client = cls()
    return client, capture.saved


class _ChannelsLast:
    """The pytorch network fed channels-last input, as deepface's onnx graphs are."""

    def __new__(cls, model):
        import torch

        class Wrapper(torch.nn.Module):
            def __init__(self, inner):
                super().__init__()
                self.inner = inner

            def forward(self, x):
                return self.inner(x.permute(0, 3, 1, 2))

        return Wrapper(model).eval()


#: the channels-last input of an onnx graph, where it is not the client's input_shape
_ONNX_INPUT = {"Emotion": (48, 48, 1), "Age": (224, 224, 3), "Gender": (224, 224, 3), "Race": (224, 224, 3)}


def _plant_onnx(model_name: str, weights_dir: Path, task: str) -> list[Path]:
    """The pytorch network (planted, seeded) exported as deepface's onnx graph.

    deepface's onnx graphs are exported from its pytorch models and take channels-last
    input; the export keeps the batch dimension dynamic, as a batched graph needs. The
    file name is the one the onnx client asks ``build_session`` for.
    """
    import sys

    import torch

    cls = _recognition_class(model_name, "onnx", task)
    module = sys.modules[cls.__module__]
    asked: list[str] = []

    class _Asked(Exception):
        pass

    def build_session(file_name, source_url):
        asked.append(file_name)
        raise _Asked

    original = module.build_session
    module.build_session = build_session
    try:
        cls()
    except _Asked:
        pass
    finally:
        module.build_session = original
    target = weights_dir / asked[0]
    if target.exists():  # real weights, or planted before
        return []
    client, saved = _plant_torch(model_name, weights_dir, task)
    shape = _ONNX_INPUT.get(model_name) or (client.input_shape[1], client.input_shape[0], 3)
    torch.onnx.export(
        _ChannelsLast(client.model),
        (torch.zeros(1, *shape),),
        str(target),
        input_names=["input"],
        output_names=["output"],
        dynamic_axes={"input": {0: "n"}, "output": {0: "n"}},
        opset_version=17,
        dynamo=False,
    )
    return saved + [target]


def plant_recognition(model_name: str, engine: str, weights_dir: Path, task: str = "facial_recognition") -> list[Path]:
    """Seeded weights for ``model_name`` on ``engine``, saved under deepface's file names.

    ``task`` is deepface's: ``facial_recognition`` (the default) or ``facial_attribute``
    (Emotion, Age, Gender, Race), whose clients load their weights the same way.

    Raises:
        LookupError: for what cannot be planted here (the reason is the message).
    """
    # facial_attribute models (Emotion, Age, ...) are all built; so is a model not in the table
    how = RECOGNITION_PLANTING.get(model_name, "built") if task == "facial_recognition" else "built"
    if how == "real":
        raise LookupError(f"{model_name}'s real weights come from ../shared/weights")
    if how == "none":
        raise LookupError(f"{model_name} runs insightface's webface_r50.onnx; its architecture is not built here")
    if how == "alternate":
        return _plant_sface(weights_dir)
    if engine == "tensorflow":
        return _plant_keras(model_name, weights_dir, task)
    if engine == "pytorch":
        return _plant_torch(model_name, weights_dir, task)[1]
    return _plant_onnx(model_name, weights_dir, task)


def _plant_sface(weights_dir: Path) -> list[Path]:
    """SFace from opencv_zoo's block-quantised graph in ../shared/weights/alternates.

    The graph is the real SFace network with real (int8, dequantised in the graph)
    weights. It also declares one graph input per float weight that no node reads, a
    leftover OpenCV ignores and onnxruntime refuses to run without; dropping those
    declarations is the only change. deepface 0.0.103 feeds the graph as opencv did
    (RGB, 0-255, channels first) and runs it one face at a time.
    """
    import onnx

    target = weights_dir / SFACE_FILE
    if target.exists():
        return []
    source = shared_weights_dir() / "alternates" / SFACE_ALTERNATE
    if not source.exists():
        raise LookupError(f"SFace: no {SFACE_FILE}, and no {source} to build it from")
    model = onnx.load(str(source))
    graph = model.graph
    read = {name for node in graph.node for name in node.input}
    initialised = {init.name for init in graph.initializer}
    unused = [i for i in graph.input if i.name not in read and i.name not in initialised]
    for declared in unused:
        graph.input.remove(declared)
    onnx.save(model, str(target))
    return [target]


# -- the anti-spoofing model ---------------------------------------------------------------
#: deepface's Fasnet files: MiniFASNetV2 (scale 2.7) and MiniFASNetV1SE (scale 4)
FASNET_FILES = ("2.7_80x80_MiniFASNetV2", "4_0_0_80x80_MiniFASNetV1SE")


def plant_fasnet(engine: str, weights_dir: Path) -> list[Path]:
    """deepface's Fasnet (its two MiniFASNet networks, seeded) under its file names, for the
    pytorch and onnx engines, its last layer zeroed: every face then scores the three
    classes alike and upstream's ``argmax`` takes the first, "spoof", so ``anti_spoofing``
    raises upstream's ``SpoofDetected`` for every face, upstream's and ours alike.

    Raises:
        LookupError: on tensorflow (its Keras MiniFASNet is not planted here).
    """
    if engine not in ("pytorch", "onnx"):
        raise LookupError(f"Fasnet is planted for pytorch and onnx, not {engine}")
    import torch
    from deepface.models.spoofing.pytorch import FasNetBackbone

    torch.manual_seed(SEED)
    networks = [
        FasNetBackbone.MiniFASNetV2(conv6_kernel=(5, 5)),
        FasNetBackbone.MiniFASNetV1SE(conv6_kernel=(5, 5)),
    ]
    saved = []
    for name, network in zip(FASNET_FILES, networks):
        with torch.no_grad():
            network.prob.weight.zero_()
        network.eval()
        target = weights_dir / f"{name}.{'pth' if engine == 'pytorch' else 'onnx'}"
        if target.exists():
            continue
        if engine == "pytorch":
            torch.save(network.state_dict(), target)
        else:
            torch.onnx.export(
                _ChannelsLast(network),
                (torch.zeros(1, 80, 80, 3),),
                str(target),
                input_names=["input"],
                output_names=["output"],
                dynamic_axes={"input": {0: "n"}, "output": {0: "n"}},
                opset_version=17,
                dynamo=False,
            )
        saved.append(target)
    return saved
