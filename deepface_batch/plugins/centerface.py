"""The centerface detector backend, native, on onnxruntime with dynamic input dimensions.

Upstream rebuilds its OpenCV network on every call ("model must be flushed for each
call"). The cause: OpenCV's dnn fixes the shapes inside this ONNX graph (its input is
declared [10, 3, 32, 32]) at the first forward pass, so a net that has seen one input
shape gives wrong detections for any other shape (height, width or batch size), for good.

Here the graph's input and output dimensions are made symbolic and the model runs on
onnxruntime, built once: any shape, any batch, no rebuild, and onnxruntime's kernels run
this graph much faster than OpenCV's dnn on a CPU (the gain is the engine, not the batch;
benchmarks/results/2026-11-24-cpu-detectors.md). Same-shape images go through together,
up to a pixel budget per pass (a batch of large frames is memory-bound and slower per
image than one frame), and each image's output goes through upstream's own
``CenterFace.postprocess`` (decode, NMS, rescaling). The blob is built as deepface
0.0.103's ``CenterFace.forward`` builds it and ``regions_of`` restates
``CenterFaceClient.detect_faces`` (deepface/models/face_detection/CenterFace.py).
onnxruntime's kernels round differently from OpenCV's, which the declared tolerance
covers.

One exception: an image whose height or width is at most 32 pixels (after upstream's
alignment border: 16 pixels or less with ``align=True``) becomes a blob with a side of
32, so the network's stride-32 feature maps are one cell wide there. On such maps OpenCV's
dnn (4.14) computes the 3 x 3 depthwise convolutions wrongly (padding is mishandled:
layer ``486``'s output differs from the convolution done by hand by up to 0.38, where
onnxruntime's equals it exactly), and upstream's detections on these images are whatever
that gives, faces on a blank 16 x 16 thumbnail included. Upstream's result is what this
plugin promises, so those shapes go through OpenCV like upstream's, one image per pass,
on a net kept per blob shape (which is safe: a net goes wrong only when the shape changes).

The weight file is checked when it loads (:mod:`deepface_batch.weights`): its sha256,
then that it is an ONNX graph with CenterFace's outputs, run once on a blank blob, so a
damaged or wrong file is one :class:`~deepface_batch.errors.WeightFileError` at
``prepare()`` that names it, instead of an error for every image.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from deepface.models.Detector import FacialAreaRegion

from deepface_batch import weights
from deepface_batch.errors import WeightFileError
from deepface_batch.plugin import (
    BatchMode,
    BorderAgreement,
    Requirement,
    Tolerance,
    UpstreamDetectorPlugin,
    run_grouped,
)

__all__ = [
    "FILE_NAME",
    "OPENCV_NETS",
    "OPENCV_SIDE",
    "OUTPUTS",
    "PIXELS_PER_PASS",
    "PROBE_SHAPES",
    "CenterFacePlugin",
    "check_session",
    "dynamic_session",
    "regions_of",
]

OUTPUTS = ["537", "538", "539", "540"]  # heatmap, scale, offset, landmarks
#: pixels per forward pass: one 640 x 480 frame with upstream's alignment border. Larger
#: passes are memory-bound here (8 such frames: 0.34 s per frame, against 0.12 s alone).
PIXELS_PER_PASS = 1280 * 960
FILE_NAME = "centerface.onnx"
#: a blob side at which upstream's OpenCV net gives other outputs than the graph's (see the
#: module docstring): groups of that height or width go through OpenCV, as upstream's do
OPENCV_SIDE = 32
#: OpenCV nets kept for those shapes, one per blob shape (each holds the 7.5 MB of weights)
OPENCV_NETS = 4
#: the outputs' shapes for a blank 1 x 3 x 32 x 32 blob: heatmap, scale, offset, landmarks
PROBE_SHAPES = [(1, 1, 8, 8), (1, 2, 8, 8), (1, 2, 8, 8), (1, 10, 8, 8)]


def dynamic_session(path: str) -> Any:
    """An onnxruntime session of the CenterFace graph with symbolic input dimensions."""
    import onnx
    import onnxruntime as ort

    model = onnx.load(path)
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
    return ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])


def check_session(session: Any, path: str) -> None:
    """Check that a session runs CenterFace's graph: one image input, the four outputs
    upstream reads, and their shapes on a blank 32 x 32 blob (a few milliseconds, once).

    Raises:
        WeightFileError: naming the file, what it has instead, and what to do.
    """
    inputs = [i.name for i in session.get_inputs()]
    outputs = [o.name for o in session.get_outputs()]
    what_to_do = "Delete it so deepface downloads it again, or put CenterFace's centerface.onnx there"
    if len(inputs) != 1 or not set(OUTPUTS) <= set(outputs):
        raise WeightFileError(
            f"detector backend 'centerface': {weights.describe_files([path])} is not CenterFace's "
            f"graph: it has inputs {', '.join(inputs)} and outputs {', '.join(outputs)}, "
            f"where CenterFace has one image input and outputs {', '.join(OUTPUTS)}. " + what_to_do,
            path=path,
        )
    blank = {session.get_inputs()[0].name: np.zeros((1, 3, 32, 32), dtype=np.float32)}
    try:
        shapes = [tuple(out.shape) for out in session.run(OUTPUTS, blank)]
    except Exception as err:
        raise WeightFileError(
            f"detector backend 'centerface': {weights.describe_files([path])} failed on a blank "
            f"1x3x32x32 blob: {type(err).__name__}: {err}. " + what_to_do,
            path=path,
        ) from err
    if shapes != PROBE_SHAPES:
        raise WeightFileError(
            f"detector backend 'centerface': {weights.describe_files([path])} gives outputs of "
            f"shapes {shapes} for a 1x3x32x32 blob, where CenterFace's are {PROBE_SHAPES}. " + what_to_do,
            path=path,
        )


class CenterFacePlugin(UpstreamDetectorPlugin):
    """centerface on onnxruntime: one session for every shape, same shapes batched."""

    name = "centerface"
    batch_mode = BatchMode.NATIVE
    requires = (Requirement("onnx", "onnx"), Requirement("onnxruntime", "onnxruntime"))
    # Measured against upstream on the benchmark sets (benchmarks/results): boxes and eyes
    # move by at most a pixel where a coordinate sits on a rounding boundary.
    tolerance = Tolerance(box_px=1, landmark_px=1, confidence=0.01)
    # detect_without_border=True against upstream's default, the worst of deepface's test
    # photos, small-face frames and the samples: recall 1.00, precision 0.95, boxes within 40
    # px, 31 % (a face 11 px wide) (benchmarks/results/2026-11-25-cpu-border-agreement.md);
    # declared with a little margin
    border_agreement = BorderAgreement(recall=0.95, precision=0.9, box_px=44, box_fraction=0.35)

    def __init__(self) -> None:
        super().__init__()
        self._session: Any = None
        self._weights_path: str | None = None
        self._opencv_nets: OrderedDict[tuple[int, int], Any] = OrderedDict()

    def prepare(self) -> None:
        super().prepare()
        self._load_session()

    def _probe(self, detector: Any, files: Sequence[Path]) -> None:
        # upstream's client loads nothing until it detects (it builds a net per call); the
        # file is loaded and checked here, in the session this plugin runs
        self._load_session()

    def _load_session(self) -> None:
        """Load ``centerface.onnx`` into the session, once, and check it is CenterFace.

        Raises:
            WeightFileError: the file is not a loadable ONNX graph, or not CenterFace's.
        """
        if self._session is not None:
            return
        from deepface.commons import weight_utils
        from deepface.models.face_detection import CenterFace

        path = weight_utils.download_weights_if_necessary(file_name=FILE_NAME, source_url=CenterFace.WEIGHTS_URL)
        weights.check_file(path)  # downloaded just now, or already checked (cached)
        try:
            session = dynamic_session(path)
        except Exception as err:
            raise WeightFileError(
                f"detector backend 'centerface' could not load {weights.describe_files([path])} "
                f"as an ONNX graph: {type(err).__name__}: {err}. Delete it so deepface "
                "downloads it again, or put CenterFace's centerface.onnx there",
                path=path,
            ) from err
        check_session(session, path)
        self._session, self._weights_path = session, path

    def forward(self, blob: np.ndarray) -> list[np.ndarray]:
        """The raw outputs (heatmap, scale, offset, landmarks) for an NCHW blob."""
        if self._session is None:
            self.prepare()
        return self._session.run(OUTPUTS, {self._session.get_inputs()[0].name: blob})

    def _opencv_net(self, blob_shape: tuple[int, int]) -> Any:
        """An OpenCV net of the weight file for one blob shape (kept: it stays right for
        the shape it first ran on)."""
        net = self._opencv_nets.pop(blob_shape, None)
        if net is None:
            if self._weights_path is None:
                self.prepare()
            net = cv2.dnn.readNetFromONNX(str(self._weights_path))
            while len(self._opencv_nets) >= OPENCV_NETS:
                self._opencv_nets.popitem(last=False)
        self._opencv_nets[blob_shape] = net  # most recently used last
        return net

    def _detect_opencv(self, image: np.ndarray, threshold: float) -> list[FacialAreaRegion]:
        """Upstream's ``CenterFaceClient.detect_faces``, on a kept net for the shape."""
        from deepface.models.face_detection.CenterFace import CenterFace

        height, width = image.shape[:2]
        model = CenterFace.__new__(CenterFace)  # upstream's forward, without reading the file
        model.net = self._opencv_net(model.transform(height, width)[:2])
        detections, landmarks = _or_none_found(model.forward, image, height, width, threshold)
        return regions_of(detections, landmarks)

    def _detect_group(self, images: list[np.ndarray]) -> list[list[FacialAreaRegion]]:
        from deepface.models.face_detection.CenterFace import CenterFace

        height, width = images[0].shape[:2]
        threshold = float(os.getenv("CENTERFACE_THRESHOLD", "0.35"))
        helper = CenterFace.__new__(CenterFace)  # upstream's post-processing, no net
        helper.img_h_new, helper.img_w_new, helper.scale_h, helper.scale_w = helper.transform(height, width)
        if OPENCV_SIDE in (helper.img_h_new, helper.img_w_new):
            # OpenCV's outputs, not the graph's, are upstream's here (module docstring)
            return [self._detect_opencv(image, threshold) for image in images]
        blob = cv2.dnn.blobFromImages(
            images,
            scalefactor=1.0,
            size=(helper.img_w_new, helper.img_h_new),
            mean=(0, 0, 0),
            swapRB=True,
            crop=False,
        )
        heatmap, scale, offset, lms = self.forward(blob)
        results = []
        for i in range(len(images)):
            one = slice(i, i + 1)
            detections, landmarks = _or_none_found(
                helper.postprocess, heatmap[one], lms[one], offset[one], scale[one], threshold
            )
            results.append(regions_of(detections, landmarks))
        return results

    def detect_batch(self, images: Sequence[np.ndarray]) -> list[list[FacialAreaRegion]]:
        return run_grouped(images, self._detect_group, max_pixels=PIXELS_PER_PASS)


def _or_none_found(
    postprocess: Callable[..., tuple[np.ndarray, np.ndarray]], *args: Any
) -> tuple[np.ndarray, np.ndarray]:
    """Upstream's post-processing, or no detections where it fails for want of any.

    deepface 0.0.100 and 0.0.101's ``CenterFace.postprocess`` leaves ``boxes_np`` unbound
    on an image without a detection, so their own ``extract_faces`` raises
    ``UnboundLocalError`` there; 0.0.102 returns these empty arrays instead. A batch must
    not fail for a frame without a face, so the plugin answers as 0.0.102 does.
    """
    try:
        return postprocess(*args)
    except UnboundLocalError:
        return np.empty((0, 5), dtype=np.float32), np.empty((0, 10), dtype=np.float32)


def regions_of(detections: np.ndarray, landmarks: np.ndarray) -> list[FacialAreaRegion]:
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
