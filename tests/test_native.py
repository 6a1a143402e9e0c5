"""Native plugins on real weights: raw network outputs, batched against single, and the
reason upstream rebuilds CenterFace's network on every call."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from conftest import real_weight
from deepface_batch import compat, registry, samples


def _bordered(images):
    return [compat.get().add_border(img, True)[0] for img in images]


@pytest.fixture(scope="module")
def frames():
    return _bordered(samples.video_frames())


@pytest.mark.skipif(not real_weight("res10_300x300_ssd_iter_140000.caffemodel"), reason="no SSD weights")
def test_ssd_batched_forward_equals_single_forwards(frames):
    plugin = registry.get_detector("ssd")
    mixed = _bordered(samples.mixed_images())
    for images in (frames, mixed):
        rows = plugin.forward(images)[0, 0]
        rows = rows[rows[:, 1] == 1]  # detections; the output is padded with zero rows
        for i, image in enumerate(images):
            single = plugin.forward([image])[0, 0]
            assert np.array_equal(rows[rows[:, 0] == i][:, 1:], single[single[:, 1] == 1][:, 1:])


@pytest.mark.skipif(not real_weight("centerface.onnx"), reason="no CenterFace weights")
def test_centerface_opencv_net_breaks_after_a_shape_change(weights_dir):
    """Why upstream builds a new net per call: cv2.dnn keeps the first input's shapes."""
    path = str(weights_dir / "centerface.onnx")
    first, second = samples.mixed_images()[:2]

    def outputs(net, img):
        h, w = (int(np.ceil(s / 32) * 32) for s in img.shape[:2])
        net.setInput(cv2.dnn.blobFromImage(img, 1.0, (w, h), (0, 0, 0), swapRB=True, crop=False))
        return net.forward(["537", "538", "539", "540"])

    reused = cv2.dnn.readNetFromONNX(path)
    outputs(reused, first)
    stale = outputs(reused, second)
    fresh = outputs(cv2.dnn.readNetFromONNX(path), second)
    assert max(float(np.abs(a - b).max()) for a, b in zip(stale, fresh)) > 1.0


@pytest.mark.skipif(not real_weight("centerface.onnx"), reason="no CenterFace weights")
def test_centerface_session_serves_every_shape_and_batch(weights_dir, frames):
    """One onnxruntime session, shapes changing call to call, agrees with fresh cv2 nets."""
    plugin = registry.get_detector("centerface")
    path = str(weights_dir / "centerface.onnx")
    images = [*samples.mixed_images(), *frames[:2]]
    for img in images + images[::-1]:
        h, w = (int(np.ceil(s / 32) * 32) for s in img.shape[:2])
        blob = cv2.dnn.blobFromImage(img, 1.0, (w, h), (0, 0, 0), swapRB=True, crop=False)
        net = cv2.dnn.readNetFromONNX(path)
        net.setInput(blob)
        want = net.forward(["537", "538", "539", "540"])
        got = plugin.forward(blob)
        assert max(float(np.abs(a - b).max()) for a, b in zip(got, want)) < 1e-3
    batch = cv2.dnn.blobFromImages(frames, 1.0, (1280, 960), (0, 0, 0), swapRB=True, crop=False)
    together = plugin.forward(batch)
    for i in range(len(frames)):
        alone = plugin.forward(batch[i : i + 1])
        assert max(float(np.abs(a[i : i + 1] - b).max()) for a, b in zip(together, alone)) < 1e-4


@pytest.fixture(scope="module")
def planted_yolo(engine):
    pytest.importorskip("ultralytics", reason="YOLO needs ultralytics: pip install 'deepface-batch[yolo]'")
    import os

    import planting
    from conftest import WEIGHTS_DIR

    if not real_weight("yolov8n-face.pt"):
        planting.plant_yolo("yolov8n", WEIGHTS_DIR, [samples.astronaut(), *samples.video_frames()[:3]])
    saved = os.environ.get("YOLO_MIN_DETECTION_CONFIDENCE")
    os.environ["YOLO_MIN_DETECTION_CONFIDENCE"] = "0.03"
    yield registry.get_detector("yolov8n")
    if saved is None:
        os.environ.pop("YOLO_MIN_DETECTION_CONFIDENCE")
    else:
        os.environ["YOLO_MIN_DETECTION_CONFIDENCE"] = saved


def test_yolo_single_image_keeps_every_face(planted_yolo):
    """PR #1435's bug: a one-image batch unwrapped to its first face. Every face stays,
    in batches of one and of many, and matches upstream's own single-image call."""
    import deepface_batch

    image = samples.video_frames()[2]
    bordered = compat.get().add_border(image, True)[0]
    upstream_regions = planted_yolo.detect_one(bordered)
    assert len(upstream_regions) > 1, "the planted model should find several faces here"
    alone = planted_yolo.detect_batch([bordered])[0]
    among = planted_yolo.detect_batch([bordered, bordered.copy(), bordered.copy()])
    for regions in (alone, *among):
        assert len(regions) == len(upstream_regions)
    single = deepface_batch.extract_faces(image, detector_backend="yolov8n")
    batch = deepface_batch.extract_faces([image, image], detector_backend="yolov8n", batch_size=1)
    want = compat.get().reference_extract_faces(image, detector_backend="yolov8n")
    assert len(single) == len(want) == len(batch[0]) == len(batch[1]) > 1


def test_yolo_keeps_the_process_thread_settings(planted_yolo):
    import os

    import torch

    torch.set_num_threads(2)
    omp = os.environ.get("OMP_NUM_THREADS")
    planted_yolo.detector.model.predictor = None  # a new predictor: ultralytics' set-up again
    planted_yolo.detect_batch([samples.video_frames()[0]])
    assert torch.get_num_threads() == 2
    assert os.environ.get("OMP_NUM_THREADS") == omp
