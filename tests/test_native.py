"""Native plugins on real weights: raw network outputs, batched against single, and the
reason upstream rebuilds CenterFace's network on every call."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from deepface_batch import compat, registry, samples
from deepface_batch.comparison import regions_close
from tests.support import planting
from tests.support.environment import WEIGHTS_DIR, real_weight, require


def _planting_samples():
    """The images planted weights are calibrated on."""
    return [samples.astronaut(), *samples.video_frames()[:3]]


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
    planting.ensure_weights("yolov8n", engine, WEIGHTS_DIR, _planting_samples(), require)
    with pytest.MonkeyPatch.context() as patch:
        if not real_weight("yolov8n-face.pt"):
            patch.setenv("YOLO_MIN_DETECTION_CONFIDENCE", "0.03")
        yield registry.get_detector("yolov8n")


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


def test_yolo_runs_on_its_threads_and_keeps_the_process_settings(planted_yolo):
    """ultralytics leaves torch on cores - 1 threads and OMP_NUM_THREADS=1; the plugin runs
    its passes on the threads it was given and leaves the process as it found it."""
    import os

    import torch

    seen: list[int] = []
    omp = os.environ.get("OMP_NUM_THREADS")
    saved = planted_yolo.threads
    planted_yolo.detect_batch([samples.video_frames()[0]])  # ultralytics' set-up, if still due
    network = planted_yolo.detector.model.predictor.model  # the module predict runs
    handle = network.register_forward_pre_hook(lambda *_: seen.append(torch.get_num_threads()))
    try:
        for before, given in ((1, 2), (2, 1)):
            torch.set_num_threads(before)
            planted_yolo.threads = given
            seen.clear()
            planted_yolo.detect_batch([samples.video_frames()[0]] * 2)
            assert seen and set(seen) == {given}, f"passes ran on {seen} threads, not {given}"
            assert torch.get_num_threads() == before
            assert os.environ.get("OMP_NUM_THREADS") == omp
        # a new predictor repeats ultralytics' set-up, which sets threads itself
        torch.set_num_threads(2)
        planted_yolo.detector.model.predictor = None
        planted_yolo.detect_batch([samples.video_frames()[0]])
        assert torch.get_num_threads() == 2
        assert os.environ.get("OMP_NUM_THREADS") == omp
    finally:
        handle.remove()
        planted_yolo.threads = saved


def test_yolo_splits_groups_into_passes(planted_yolo):
    """On a CPU a same-shape group goes in passes of ``images_per_pass`` images, with the
    same results as one image per pass."""
    frames = [samples.video_frames()[i % 3] for i in range(6)]
    calls: list[int] = []
    original = planted_yolo.predict

    def predict(images):
        calls.append(len(images))
        return original(images)

    saved = planted_yolo._images_per_pass
    planted_yolo.predict = predict
    try:
        planted_yolo._images_per_pass = 4
        in_fours = planted_yolo.detect_batch(frames)
        assert calls == [4, 2]
        calls.clear()
        planted_yolo._images_per_pass = 1
        alone = planted_yolo.detect_batch(frames)
        assert calls == [1] * 6
    finally:
        del planted_yolo.predict
        planted_yolo._images_per_pass = saved
    assert sum(map(len, alone)) > 0, "the planted model should find faces in these frames"
    for got, want in zip(in_fours, alone):
        assert not regions_close(got, want, planted_yolo.tolerance)


def test_yolo_import_leaves_opencv_and_torch_threads(planted_yolo):
    """Importing ultralytics turns OpenCV's threads off and sets OMP_NUM_THREADS=1 for the
    whole process; preparing and running the plugin in a fresh interpreter leaves both,
    and torch's threads, as they were."""
    import json
    import os
    import subprocess
    import sys

    script = (
        "import json, os, cv2, torch\n"
        "before = [cv2.getNumThreads(), torch.get_num_threads(), os.environ.get('OMP_NUM_THREADS')]\n"
        "from deepface_batch import registry, samples\n"
        "plugin = registry.get_detector('yolov8n')\n"
        "plugin.detect_batch([samples.video_frames()[0]] * 2)\n"
        "after = [cv2.getNumThreads(), torch.get_num_threads(), os.environ.get('OMP_NUM_THREADS')]\n"
        "import ultralytics\n"  # already imported: the plugin undid what the import did
        "print(json.dumps([before, after]))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    before, after = json.loads(out.stdout.strip().splitlines()[-1])
    assert before[0] > 1 or os.cpu_count() == 1, "OpenCV should start with several threads"
    assert after == before


def test_fastmtcnn_stacked_group_equals_single_images(frames):
    """The stack CUDA gets (a whole same-shape group per pass) against upstream's
    single-image calls, on facenet-pytorch's real weights, in one process on the CPU."""
    pytest.importorskip("facenet_pytorch", reason="fastmtcnn needs: pip install --no-deps facenet-pytorch")
    plugin = registry.get_detector("fastmtcnn")
    mixed = _bordered(samples.mixed_images())
    images = [*frames, *mixed, *frames[::-1]]
    passes = assert_whole_groups_match_single_images(plugin, images)
    assert max(passes) == 2 * len(frames)


def assert_whole_groups_match_single_images(plugin, images) -> list[int]:
    """Run ``images`` with each same-shape group in one pass and compare every image with
    the plugin's single-image path; return the pass sizes."""
    passes: list[int] = []
    original = plugin._detect_group

    def spy(group):
        passes.append(len(group))
        return original(group)

    plugin._detect_group = spy
    saved = plugin._images_per_pass
    plugin._images_per_pass = len(images)
    try:
        stacked = plugin.detect_batch(images)
    finally:
        plugin._images_per_pass = saved
        del plugin._detect_group
    assert len(passes) == len({image.shape for image in images})
    assert sum(map(len, stacked)) > 0, f"{plugin.name} should find the astronaut's face"
    for index, image in enumerate(images):
        problems = regions_close(stacked[index], plugin.detect_one(image), plugin.tolerance)
        assert not problems, f"image {index}: " + "; ".join(problems)
    return passes


def test_run_grouped_splits_groups_by_image_count():
    from deepface_batch.plugin import run_grouped

    small = [np.full((4, 4, 3), i, np.uint8) for i in range(5)]
    large = [np.full((8, 4, 3), 10 + i, np.uint8) for i in range(2)]
    images = [small[0], large[0], *small[1:], large[1]]
    calls: list[list[int]] = []

    def forward(group):
        calls.append([int(g[0, 0, 0]) for g in group])
        return [int(g[0, 0, 0]) for g in group]

    assert run_grouped(images, forward, max_images=2) == [0, 10, 1, 2, 3, 4, 11]
    assert calls == [[0, 1], [2, 3], [4], [10, 11]]


def test_mtcnn_stacked_group_equals_single_images(frames):
    """A whole same-shape group in one pass (as with a GPU) through the plugin's compiled
    MTCNN, against upstream's eager single-image calls, on mtcnn's real weights."""
    pytest.importorskip("mtcnn", reason="mtcnn needs: pip install 'deepface-batch[tensorflow]'")
    plugin = registry.get_detector("mtcnn")
    passes = assert_whole_groups_match_single_images(
        plugin, [*frames[:2], *_bordered(samples.mixed_images()), frames[2]]
    )
    assert max(passes) == 3


def test_mtcnn_pyramid_pnet_equals_upstream_stage(frames):
    """P-Net over a whole pyramid in one compiled call gives exactly the proposals of
    mtcnn's own StagePNet: same-shape frames, padded mixed-size stacks, an image too small
    for any scale, and P-Net's options."""
    pytest.importorskip("mtcnn", reason="mtcnn needs: pip install 'deepface-batch[tensorflow]'")
    from mtcnn.stages import StagePNet
    from mtcnn.utils.images import standarize_batch

    from deepface_batch.plugins.mtcnn_pnet import PyramidPNet

    plugin = registry.get_detector("mtcnn")
    plugin.prepare()
    # the plugin runs the pyramid stage on the mtcnn it supports
    assert isinstance(plugin._mtcnn.stages[0], PyramidPNet)
    upstream = StagePNet()
    pyramid = PyramidPNet(StagePNet())
    mixed = _bordered(samples.mixed_images())
    stacks = [[f] for f in frames] + [[m] for m in mixed] + [mixed[:3], frames[:2]]
    stacks.append([np.full((16, 16, 3), 90, np.uint8)])
    options = [{}, {"min_face_size": 40, "scale_factor": 0.8, "threshold_pnet": 0.5, "nms_pnet2": 0.6}]

    def outcome(stage, normalized, shapes, kwargs):
        # mtcnn's detect_faces reads InvalidArgumentError (a scale too small for P-Net) as
        # "no faces": the pyramid must raise it where the stage does
        try:
            return stage(images_normalized=normalized, images_oshapes=shapes, **kwargs)
        except tf.errors.InvalidArgumentError as error:
            return type(error)

    tf = pytest.importorskip("tensorflow")
    proposals = raised = 0
    for stack in stacks:
        normalized, shapes, _ = standarize_batch([img[:, :, ::-1] for img in stack], normalize=True)
        for kwargs in options:
            expected = outcome(upstream, normalized, shapes, kwargs)
            got = outcome(pyramid, normalized, shapes, kwargs)
            where = f"{[img.shape for img in stack]} {kwargs}"
            if isinstance(expected, type):
                assert got is expected, where
                raised += 1
                continue
            assert got.shape == expected.shape, where
            assert np.array_equal(got, expected), where
            proposals += len(expected)
    assert proposals > 100 and raised


@pytest.fixture(scope="module")
def retinaface(engine):
    planting.ensure_weights("retinaface", engine, WEIGHTS_DIR, _planting_samples(), require)
    return registry.get_detector("retinaface")


def test_retinaface_batched_forward_equals_single_forwards(retinaface, frames):
    """The raw network outputs of a stack against one image at a time, on the engine
    deepface runs on, with retina-face's own preprocessing."""
    from retinaface.commons import preprocess

    tensors = np.concatenate([preprocess.preprocess_image(f, True)[0] for f in frames[:3]])
    together = retinaface.forward(tensors)
    assert len(together) == 9 and all(len(output) == 3 for output in together)
    for i in range(3):
        alone = retinaface.forward(tensors[i : i + 1])
        for a, b in zip(together, alone):
            assert a[i : i + 1].shape == b.shape
            assert float(np.abs(a[i : i + 1] - b).max()) < 1e-3 * max(1.0, float(np.abs(b).max()))


def test_retinaface_stacked_group_equals_single_images(retinaface, frames):
    passes = assert_whole_groups_match_single_images(
        retinaface, [*frames[:2], *_bordered(samples.mixed_images()[:2]), frames[2]]
    )
    assert max(passes) == 3
