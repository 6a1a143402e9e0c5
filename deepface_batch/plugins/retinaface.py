"""The retinaface detector backend (the ``retina-face`` package), batched natively.

retina-face builds one network for whichever engine deepface runs on (a ``tf.function``
for TensorFlow, a torch module, an onnxruntime session whose graph has a dynamic batch
dimension), and all three take an (N, H, W, 3) stack. The plugin preprocesses each image
of a same-shape group as retina-face does (the same resize, so the same tensor shape),
runs the stack in one forward pass, and hands each image's slice of the outputs to
retina-face's own ``detect_faces`` in place of its network, so anchor decoding, the
threshold, NMS and the mapping to facial areas are retina-face's and deepface's own code.
The stand-in (``_Outputs``) relies on retina-face 0.0.19's ``detect_faces`` preprocessing
once and calling ``_predict`` once on that tensor (retinaface/RetinaFace.py), and
``regions_of`` restates deepface 0.0.103's ``RetinaFaceClient.detect_faces``
(deepface/models/face_detection/RetinaFace.py).

On a CPU a stack saves nothing: retina-face scales every image to about 1024 pixels on
its short side, and a ResNet-50 at that size is arithmetic-bound, so a stack costs what
its images cost alone, and measured slightly slower end to end. So on a CPU each image
goes alone through upstream's own call; stacks are for GPUs, where one pass keeps the
device busy. Measurements: benchmarks/results/2026-11-24-cpu-yolo-mtcnn-retinaface.md.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from deepface.models.Detector import FacialAreaRegion

from deepface_batch.plugin import GroupedPlugin, Requirement, Tolerance

__all__ = ["THRESHOLD", "RetinaFacePlugin", "regions_of"]

#: deepface's threshold for retinaface (``RetinaFaceClient.detect_faces``)
THRESHOLD = 0.9


class _Array(np.ndarray):
    """An output array that also answers ``.numpy()``, as TensorFlow and torch outputs do."""

    def numpy(self) -> np.ndarray:
        return self.view(np.ndarray)


class _Outputs:
    """Stands in for retina-face's network for one image: returns the outputs already
    computed for it in a batch, after checking that it is asked about the same tensor."""

    def __init__(self, tensor: np.ndarray, outputs: list[np.ndarray], wrap: bool):
        self.tensor = tensor
        self.outputs = outputs
        self.wrap = wrap

    def __call__(self, tensor: Any) -> list[Any]:
        asked = tensor.numpy() if hasattr(tensor, "numpy") else np.asarray(tensor)
        if asked.shape != self.tensor.shape or not np.array_equal(asked, self.tensor):
            raise RuntimeError("retina-face asked about another input than the one batched")
        if self.wrap:
            return [output.view(_Array) for output in self.outputs]
        return list(self.outputs)


class RetinaFacePlugin(GroupedPlugin):
    """RetinaFace, one forward pass per same-shape group, retina-face's post-processing."""

    name = "retinaface"
    requires = (Requirement("retinaface", "retina-face"),)
    tolerance = Tolerance(box_px=1, landmark_px=1, confidence=1e-4)

    # 4 on a GPU, 1 on a CPU, where a stack measured 5% slower. retina-face scales every
    # image to about 1024 pixels on its short side, so a pass costs the same memory whatever
    # the input size: a ResNet-50 over four such images.
    gpu_images_per_pass = 4

    def on_gpu(self) -> bool:
        """Whether retina-face's network runs on a GPU, on the engine deepface runs."""
        from retinaface.commons import backend_utils

        model = self.detector.model
        if backend_utils.is_onnx():
            return "CUDAExecutionProvider" in model.session.get_providers()
        if backend_utils.is_pytorch():
            return any(p.is_cuda for p in model.parameters())
        import tensorflow as tf

        return bool(tf.config.list_physical_devices("GPU"))

    def forward(self, tensors: np.ndarray) -> list[np.ndarray]:
        """The network's nine outputs for an (N, H, W, 3) stack of preprocessed images."""
        from retinaface import RetinaFace as rf

        return [np.asarray(output) for output in rf._predict(self.detector.model, tensors)]

    def _detect_group(self, images: list[np.ndarray]) -> list[list[FacialAreaRegion]]:
        if len(images) == 1:  # nothing to stack: upstream's own call
            return [self.detect_one(images[0])]
        from retinaface import RetinaFace as rf
        from retinaface.commons import backend_utils, preprocess

        tensors = [preprocess.preprocess_image(image, True)[0] for image in images]
        outputs = self.forward(np.concatenate(tensors))
        wrap = not backend_utils.is_onnx()  # onnx outputs are used as they come
        results = []
        for index, (image, tensor) in enumerate(zip(images, tensors)):
            mine = [np.array(output[index : index + 1]) for output in outputs]
            found = rf.detect_faces(image, threshold=THRESHOLD, model=_Outputs(tensor, mine, wrap))
            results.append(regions_of(found))
        return results


def regions_of(found: Any) -> list[FacialAreaRegion]:
    """deepface's mapping of retina-face's result for one image, step for step."""
    if not isinstance(found, dict):
        return []
    regions = []
    for identity in found.values():
        x1, y1, x2, y2 = identity["facial_area"]
        landmarks = identity["landmarks"]
        points = {
            key: (tuple(int(i) for i in landmarks[key]) if landmarks.get(key) is not None else None)
            for key in ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")
        }
        regions.append(
            FacialAreaRegion(
                x=x1,
                y=y1,
                w=x2 - x1,
                h=y2 - y1,
                confidence=identity["score"],
                **points,
            )
        )
    return regions
