"""The centerface detector backend, native, on onnxruntime with dynamic input dimensions.

Upstream rebuilds its OpenCV network on every call ("model must be flushed for each
call"). The cause: OpenCV's dnn fixes the shapes inside this ONNX graph (its input is
declared [10, 3, 32, 32]) at the first forward pass, so a net that has seen one input
shape gives wrong detections for any other shape (height, width or batch size), for good.

Here the graph's input and output dimensions are made symbolic and the model runs on
onnxruntime, built once: any shape, any batch, no rebuild, and about 4 times faster than
OpenCV's dnn on this CPU. Same-shape images go through together, up to a pixel budget per
pass (a batch of large frames is memory-bound and slower per image than one frame), and
each image's output goes through upstream's own ``CenterFace.postprocess`` (decode, NMS,
rescaling). onnxruntime's kernels round differently from OpenCV's, which the declared
tolerance covers.
"""

from __future__ import annotations

import os
from typing import Any, Sequence

import cv2
import numpy as np
from deepface.models.Detector import FacialAreaRegion

from deepface_batch.pipeline import run_grouped
from deepface_batch.plugin import BatchMode, Requirement, Tolerance, UpstreamPseudoPlugin

OUTPUTS = ["537", "538", "539", "540"]  # heatmap, scale, offset, landmarks
#: pixels per forward pass: one 640 x 480 frame with upstream's alignment border. Larger
#: passes are memory-bound here (8 such frames: 0.34 s per frame, against 0.12 s alone).
PIXELS_PER_PASS = 1280 * 960


def dynamic_session(weights: str) -> Any:
    """An onnxruntime session of the CenterFace graph with symbolic input dimensions."""
    import onnx
    import onnxruntime as ort

    model = onnx.load(weights)
    initializers = {init.name for init in model.graph.initializer}
    # the exported graph lists its weights as inputs too; only the image is an input
    inputs = [i for i in model.graph.input if i.name not in initializers]
    del model.graph.input[:]
    model.graph.input.extend(inputs)
    for value in [*model.graph.input, *model.graph.output]:
        for axis, dim in enumerate(value.type.tensor_type.shape.dim):
            dim.ClearField("dim_value")
            dim.dim_param = f"{value.name}_{axis}"
    options = ort.SessionOptions()
    options.log_severity_level = 3
    return ort.InferenceSession(
        model.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )


class CenterFacePlugin(UpstreamPseudoPlugin):
    """centerface on onnxruntime: one session for every shape, same shapes batched."""

    name = "centerface"
    batch_mode = BatchMode.NATIVE
    requires = (Requirement("onnx", "onnx"), Requirement("onnxruntime", "onnxruntime"))
    # Measured against upstream on the benchmark sets (benchmarks/results): boxes and eyes
    # move by at most a pixel where a coordinate sits on a rounding boundary.
    tolerance = Tolerance(box_px=1, landmark_px=1, confidence=0.01)

    def __init__(self) -> None:
        super().__init__()
        self._session: Any = None

    def prepare(self) -> None:
        super().prepare()
        if self._session is None:
            from deepface.commons import weight_utils
            from deepface.models.face_detection import CenterFace

            weights = weight_utils.download_weights_if_necessary(
                file_name="centerface.onnx", source_url=CenterFace.WEIGHTS_URL
            )
            self._session = dynamic_session(weights)

    def forward(self, blob: np.ndarray) -> list[np.ndarray]:
        """The raw outputs (heatmap, scale, offset, landmarks) for an NCHW blob."""
        self.prepare()
        return self._session.run(OUTPUTS, {self._session.get_inputs()[0].name: blob})

    def _detect_group(self, images: list[np.ndarray]) -> list[list[FacialAreaRegion]]:
        from deepface.models.face_detection.CenterFace import CenterFace

        height, width = images[0].shape[:2]
        helper = CenterFace.__new__(CenterFace)  # upstream's post-processing, no net
        helper.img_h_new, helper.img_w_new, helper.scale_h, helper.scale_w = helper.transform(
            height, width
        )
        blob = cv2.dnn.blobFromImages(
            images,
            scalefactor=1.0,
            size=(helper.img_w_new, helper.img_h_new),
            mean=(0, 0, 0),
            swapRB=True,
            crop=False,
        )
        heatmap, scale, offset, lms = self.forward(blob)
        threshold = float(os.getenv("CENTERFACE_THRESHOLD", "0.35"))
        results = []
        for i in range(len(images)):
            one = slice(i, i + 1)
            detections, landmarks = helper.postprocess(
                heatmap[one], lms[one], offset[one], scale[one], threshold
            )
            results.append(_regions(detections, landmarks))
        return results

    def detect_batch(self, images: Sequence[np.ndarray]) -> list[list[FacialAreaRegion]]:
        return run_grouped(images, self._detect_group, max_pixels=PIXELS_PER_PASS)


def _regions(detections: np.ndarray, landmarks: np.ndarray) -> list[FacialAreaRegion]:
    """Upstream's ``CenterFaceClient.detect_faces`` conversion, step for step."""
    regions = []
    for i, detection in enumerate(detections):
        boxes, confidence = detection[:4], detection[4]
        x, y = boxes[0], boxes[1]
        w, h = boxes[2] - x, boxes[3] - y
        landmark = landmarks[i]
        right_eye = (int(landmark[0]), int(landmark[1]))
        left_eye = (int(landmark[2]), int(landmark[3]))
        regions.append(
            FacialAreaRegion(
                x=int(x),
                y=int(y),
                w=int(w),
                h=int(h),
                left_eye=left_eye,
                right_eye=right_eye,
                confidence=min(max(0, float(confidence)), 1.0),
            )
        )
    return regions
