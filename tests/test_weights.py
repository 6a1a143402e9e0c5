"""Weight files: known sha256s checked once, a damaged or wrong file as one error that
names it, and centerface's tiny images (where OpenCV's net is upstream's result).

A test that needs a damaged file points ``DEEPFACE_HOME`` at a temporary folder holding a
damaged COPY (``../shared/weights`` is never written), empties upstream's model cache and
uses new plugin instances; the ``home`` fixture restores all of it afterwards.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

import deepface_batch
from deepface_batch import comparison, compat, registry, samples, testing
from deepface_batch.errors import DetectorUnavailableError
from tests.support.environment import SHARED_WEIGHTS, WEIGHTS_DIR, real_weight

CENTERFACE = "centerface.onnx"
YUNET = "face_detection_yunet_2023mar.onnx"
PROTOTXT = "deploy.prototxt"
CAFFEMODEL = "res10_300x300_ssd_iter_140000.caffemodel"
SHAPE_PREDICTOR = "shape_predictor_5_face_landmarks.dat"
DLIB_RESNET = "dlib_face_recognition_resnet_model_v1.dat"
CASCADES = ("haarcascade_frontalface_default.xml", "haarcascade_eye.xml")

#: backend -> every file it loads, the one a test damages first
FILES = {
    "centerface": (CENTERFACE,),
    "ssd": (CAFFEMODEL, PROTOTXT),
    "yunet": (YUNET,),
    "dlib": (SHAPE_PREDICTOR,),
}


def _need(*names: str) -> None:
    missing = [name for name in names if not real_weight(name)]
    if missing:
        pytest.skip(f"no real {', '.join(missing)} in {SHARED_WEIGHTS}")


def _new_plugin(backend: str):
    """A new instance of the built-in plugin, not the registry's (which may be prepared)."""
    return registry._import_builtin(registry.BUILTINS[backend])()


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """A fresh DEEPFACE_HOME's weights folder, upstream's model cache empty; both restored."""
    from deepface.modules import modeling

    folder = tmp_path / ".deepface" / "weights"
    folder.mkdir(parents=True)
    monkeypatch.setenv("DEEPFACE_HOME", str(tmp_path))
    # upstream keeps built detectors for the process; a cached one would skip the files
    fresh = {task: {} for task in modeling.AVAILABLE_MODELS}
    monkeypatch.setattr(modeling, "cached_models", fresh, raising=False)
    return folder


@pytest.fixture
def unchecked(monkeypatch) -> None:
    """The sha256 check turned off: what a file the table does not know goes through."""
    monkeypatch.setenv("DEEPFACE_BATCH_VERIFY_WEIGHTS", "0")


def _copy(name: str, folder: Path, as_name: str | None = None) -> Path:
    target = folder / (as_name or name)
    shutil.copyfile(SHARED_WEIGHTS / name, target)  # a copy: the source stays untouched
    return target


def _truncated(name: str, folder: Path) -> Path:
    data = (SHARED_WEIGHTS / name).read_bytes()
    target = folder / name
    target.write_bytes(data[: len(data) // 2])
    return target


def _raises_once_for_the_run(backend: str, plugin) -> DetectorUnavailableError:
    """extract_faces with errors="return" on three images raises the plugin's error once
    (it is not any image's), with ``plugin`` standing in for the registry's."""
    images = [samples.astronaut(), *samples.video_frames()[:2]]
    registry.register_detector(plugin, clobber=True)
    try:
        with pytest.raises(DetectorUnavailableError) as err:
            result = deepface_batch.extract_faces(
                images, detector_backend=backend, errors="return", enforce_detection=False
            )
            pytest.fail(f"no error for the run; per image: {result!r:.600}")
    finally:
        registry.unregister_detector(backend)  # the built-in comes back on next use
    return err.value


# -- the table ----------------------------------------------------------------------------
def test_table_is_the_manifest():
    """Every known hash is MANIFEST.tsv's, and every top-level manifest file is known but
    the haar cascades (the wheel's copies, not tied to the files deepface downloads)."""
    from deepface_batch import weights

    manifest = SHARED_WEIGHTS / "MANIFEST.tsv"
    if not manifest.is_file():
        pytest.skip(f"no {manifest}")
    rows = [line.split("\t") for line in manifest.read_text().splitlines()[1:] if line]
    top = {row[0]: (row[2], int(row[1])) for row in rows if "/" not in row[0]}
    for name, known in weights.KNOWN.items():
        assert top[name] == (known.sha256, known.size), name
    assert set(top) - set(weights.KNOWN) == set(CASCADES)


def test_real_files_pass_verification_once(monkeypatch):
    from deepface_batch import weights

    names = [name for name in weights.KNOWN if real_weight(name)]
    if not names:
        pytest.skip(f"no real weight files in {SHARED_WEIGHTS}")
    monkeypatch.setattr(weights, "_verified", set())
    hashed: list[str] = []
    real_sha = weights.sha256_of
    monkeypatch.setattr(weights, "sha256_of", lambda p: hashed.append(Path(p).name) or real_sha(p))
    for name in names:
        assert weights.check_file(WEIGHTS_DIR / name) is True
    assert sorted(hashed) == sorted(names)
    for name in names:  # a second check costs a stat, not a hash
        assert weights.check_file(WEIGHTS_DIR / name) is True
    assert len(hashed) == len(names)


def test_plugins_check_at_load_not_per_call(monkeypatch):
    """Two new centerface plugins and five batches: centerface.onnx is hashed once, and
    detection calls never reach the check."""
    _need(CENTERFACE)
    from deepface_batch import weights

    monkeypatch.setattr(weights, "_verified", set())
    calls: list[str] = []
    hashed: list[str] = []
    real_verify, real_sha = weights.check_file, weights.sha256_of
    monkeypatch.setattr(weights, "check_file", lambda p: calls.append(str(p)) or real_verify(p))
    monkeypatch.setattr(weights, "sha256_of", lambda p: hashed.append(str(p)) or real_sha(p))
    first, second = _new_plugin("centerface"), _new_plugin("centerface")
    first.prepare()
    second.prepare()
    assert [Path(p).name for p in hashed] == [CENTERFACE]
    before = len(calls)
    frames = samples.video_frames()[:2]
    for _ in range(5):
        second.detect_batch(frames)
    assert len(calls) == before


def test_only_known_files_are_checked(home):
    """A file the table does not know (a planted one) passes untouched, as does a known
    one with the check turned off."""
    from deepface_batch import weights

    planted = home / "yolov8n-face.pt"
    planted.write_bytes(b"planted, not deepface's")
    assert weights.check_file(planted) is False
    assert weights.check_file(home / CENTERFACE) is False  # missing: deepface downloads it
    wrong = home / CENTERFACE
    wrong.write_bytes(b"not centerface")
    with pytest.raises(DetectorUnavailableError):
        weights.check_file(wrong)


def test_unknown_files_are_not_checked_when_turned_off(home, unchecked):
    from deepface_batch import weights

    wrong = home / CENTERFACE
    wrong.write_bytes(b"not centerface")
    assert weights.check_file(wrong) is False


# -- a sha256 mismatch --------------------------------------------------------------------
def test_sha_mismatch_names_path_both_hashes_and_sizes(home):
    """One byte changed in deploy.prototxt: the error has the path, the sha256 found and
    the one expected, both sizes, and what to do; the ssd plugin raises it at prepare."""
    _need(PROTOTXT, CAFFEMODEL)
    from deepface_batch import weights
    from deepface_batch.errors import WeightFileError

    data = bytearray((SHARED_WEIGHTS / PROTOTXT).read_bytes())
    data[100] ^= 0x01
    target = home / PROTOTXT
    target.write_bytes(bytes(data))
    _copy(CAFFEMODEL, home)
    found = hashlib.sha256(bytes(data)).hexdigest()
    expected = weights.KNOWN[PROTOTXT].sha256
    with pytest.raises(WeightFileError) as err:
        _new_plugin("ssd").prepare()
    message = str(err.value)
    assert err.value.path == str(target)
    for part in (
        str(target),
        f"sha256 {found} (28092 bytes)",
        f"expected {expected} (28092 bytes)",
        "same size, other bytes",
        "Delete it so deepface downloads it again",
    ):
        assert part in message, f"{part!r} not in: {message}"


def test_wrong_graph_under_centerface_name_is_a_sha_mismatch(home):
    """yunet's graph copied as centerface.onnx: the check says which file it really is."""
    _need(YUNET)
    from deepface_batch.errors import WeightFileError

    target = _copy(YUNET, home, as_name=CENTERFACE)
    with pytest.raises(WeightFileError) as err:
        _new_plugin("centerface").prepare()
    message = str(err.value)
    yunet_sha = "8f2383e4dd3cfbb4553ea8718107fc0423210dc964f9f4280604804ed2552fa4"
    centerface_sha = "77e394b51108381b4c4f7b4baf1c64ca9f4aba73e5e803b2636419578913b5fe"
    for part in (
        str(target),
        f"sha256 {yunet_sha} (232589 bytes)",
        f"expected {centerface_sha} (7532772 bytes)",
        f"it is deepface's {YUNET}",
    ):
        assert part in message, f"{part!r} not in: {message}"


# -- damaged files: one error naming the file ---------------------------------------------
@pytest.mark.parametrize("check", ["sha256", "unchecked"])
@pytest.mark.parametrize("backend", list(FILES))
def test_truncated_file_is_one_error_naming_it(backend, check, home, monkeypatch):
    """The first half of the file, as an interrupted download leaves it: prepare raises a
    DetectorUnavailableError naming the file, and a run with errors="return" raises it
    once. With the check on it is the sha256 mismatch; off, the load failure."""
    _need(*FILES[backend])
    if backend == "dlib":
        pytest.importorskip("dlib", reason="dlib needs: pip install dlib-bin")
    if check == "unchecked":
        monkeypatch.setenv("DEEPFACE_BATCH_VERIFY_WEIGHTS", "0")
    damaged, *others = FILES[backend]
    target = _truncated(damaged, home)
    for name in others:
        _copy(name, home)
    with pytest.raises(DetectorUnavailableError) as err:
        _new_plugin(backend).prepare()
    message = str(err.value)
    assert str(target) in message and f"({target.stat().st_size} bytes)" in message, message
    assert "delete it so deepface downloads it again" in message.lower(), message
    assert type(err.value).__name__ == "WeightFileError"
    if check == "sha256":
        assert "is not the file deepface downloads" in message and "shorter" in message
    run_error = _raises_once_for_the_run(backend, _new_plugin(backend))
    assert str(target) in str(run_error)


def test_damaged_dlib_recognition_weights_are_named_when_the_model_loads(home):
    """The Dlib recognition weights were listed but never checked: a cut-off file reached
    dlib's parser, whose error names no file. Now the model's load verifies them."""
    _need(DLIB_RESNET)
    pytest.importorskip("dlib", reason="dlib needs: pip install dlib-bin")
    from deepface_batch import embedding
    from deepface_batch.errors import WeightFileError

    target = _truncated(DLIB_RESNET, home)
    with pytest.raises(WeightFileError) as err:
        embedding.get_embedder("Dlib")
    message = str(err.value)
    assert str(target) in message and "is not the file deepface downloads" in message, message
    with pytest.raises(WeightFileError):  # and through represent, once for the call
        deepface_batch.represent([samples.astronaut()] * 2, model_name="Dlib", errors="return")
    _copy(DLIB_RESNET, home, as_name=DLIB_RESNET)  # the right file: it loads
    assert embedding.get_embedder("Dlib").size == 128


@pytest.mark.parametrize(
    "backend, source, name",
    [
        ("centerface", YUNET, CENTERFACE),  # loads as ONNX, has none of CenterFace's outputs
        ("yunet", CENTERFACE, YUNET),  # OpenCV builds it, then fails on the first image
        ("dlib", DLIB_RESNET, SHAPE_PREDICTOR),  # dlib's other model: refuses to load it
    ],
)
def test_wrong_graph_is_one_error_not_one_per_image(backend, source, name, home, unchecked):
    """Another model under the file's name, the sha256 check off (as for a file the table
    does not know): the plugin raises once at prepare, naming the file, instead of every
    image of the run failing one by one."""
    _need(source)
    if backend == "dlib":
        pytest.importorskip("dlib", reason="dlib needs: pip install dlib-bin")
    target = _copy(source, home, as_name=name)
    with pytest.raises(DetectorUnavailableError) as err:
        _new_plugin(backend).prepare()
    assert str(target) in str(err.value), str(err.value)
    assert "put the right file there" in str(err.value) or "centerface.onnx there" in str(err.value)
    run_error = _raises_once_for_the_run(backend, _new_plugin(backend))
    assert str(target) in str(run_error)


def test_centerface_wrong_graph_message(home, unchecked):
    _need(YUNET)
    from deepface_batch.errors import WeightFileError

    target = _copy(YUNET, home, as_name=CENTERFACE)
    with pytest.raises(WeightFileError) as err:
        _new_plugin("centerface").prepare()
    assert str(err.value).startswith(
        f"detector backend 'centerface': {target} (232589 bytes) is not CenterFace's graph: "
        "it has inputs input and outputs cls_8, "
    ), str(err.value)
    assert "where CenterFace has one image input and outputs 537, 538, 539, 540" in str(err.value)


def test_opencv_cascade_from_the_weights_folder(home, monkeypatch):
    """Where cv2/data lacks the cascades, deepface loads them from the weights folder: a
    damaged one is one error naming it; intact copies work (and are not hash-checked)."""
    _need(*CASCADES)
    fake_cv2 = home.parent.parent / "cv2"  # a cv2 package folder without data/
    fake_cv2.mkdir()
    monkeypatch.setattr(cv2, "__file__", str(fake_cv2 / "__init__.py"))
    target = _truncated(CASCADES[0], home)
    _copy(CASCADES[1], home)
    with pytest.raises(DetectorUnavailableError) as err:
        _new_plugin("opencv").prepare()
    assert str(target) in str(err.value), str(err.value)
    _copy(CASCADES[0], home)
    from deepface.modules import modeling

    monkeypatch.setattr(modeling, "cached_models", {t: {} for t in modeling.AVAILABLE_MODELS})
    plugin = _new_plugin("opencv")
    plugin.prepare()
    image = compat.get().add_border(samples.astronaut(), True)[0]
    assert len(plugin.detect_batch([image])[0]) == len(plugin.detect_one(image)) > 0


# -- centerface on tiny images ------------------------------------------------------------
#: shapes whose blob (each side rounded up to a multiple of 32) has a side of 32: without
#: align, any side of at most 32 px; with align's border (half the side each way), 16 px
TINY = [(8, 8), (12, 12), (16, 16), (24, 24), (32, 32), (16, 40), (300, 20), (20, 300), (32, 100)]
TINY_ALIGNED = [(8, 8), (12, 12), (16, 16), (16, 40), (300, 16), (12, 200)]
#: a low threshold lets the heatmap's differences show on every shape: at upstream's 0.35
#: several of these images have no face on either side, so a comparison proves nothing
LOW_THRESHOLD = "0.05"


def _tiny(height: int, width: int, source: int) -> np.ndarray:
    """A sample image scaled down to a square of the shorter side, tiled to height x width."""
    image = [samples.astronaut(), *samples.video_frames()[:3]][source]
    side = min(height, width)
    tile = cv2.resize(image, (side, side), interpolation=cv2.INTER_AREA)
    return np.tile(tile, (-(-height // side), -(-width // side), 1))[:height, :width]


@pytest.fixture(scope="module")
def centerface_plugin():
    _need(CENTERFACE)
    plugin = _new_plugin("centerface")
    plugin.prepare()
    return plugin


@pytest.mark.parametrize(
    "height, width, align",
    [(*shape, False) for shape in TINY] + [(*shape, True) for shape in TINY_ALIGNED],
)
def test_centerface_tiny_images_match_upstream(centerface_plugin, height, width, align, monkeypatch):
    """An image at most 32 px high or wide (16 px with align's border) gives upstream's
    faces, batched. Upstream's OpenCV net computes other outputs there than the graph's
    (onnxruntime's), so those shapes go through OpenCV like upstream's."""
    from deepface.models.face_detection.CenterFace import CenterFaceClient

    monkeypatch.setenv("CENTERFACE_THRESHOLD", LOW_THRESHOLD)
    upstream = CenterFaceClient()
    images = [compat.get().add_border(_tiny(height, width, k), align)[0] for k in range(4)]
    got = centerface_plugin.detect_batch(images + images[:1])
    found = 0
    for n, image in enumerate(images):
        want = upstream.detect_faces(image)
        found += len(want)
        problems = comparison.regions_close(got[n], want, centerface_plugin.tolerance)
        assert not problems, f"image {n} ({image.shape[:2]}): {problems}"
    assert [vars(r) for r in got[-1]] == [vars(r) for r in got[0]]
    assert found > 0, "upstream finds no face on these images: the comparison proves nothing"


@pytest.mark.parametrize("align", [False, True])
def test_centerface_tiny_images_extract_faces(centerface_plugin, align):
    """End to end, at upstream's threshold: extract_faces on a batch of tiny images and
    one normal image, against upstream's own single-image extract_faces."""
    shapes = TINY_ALIGNED if align else TINY
    images = [_tiny(h, w, k % 4) for k, (h, w) in enumerate(shapes)] + [samples.astronaut()]
    registry.register_detector(centerface_plugin, clobber=True)
    try:
        got = deepface_batch.extract_faces(images, detector_backend="centerface", align=align, enforce_detection=False)
    finally:
        registry.unregister_detector("centerface")
    want = [
        compat.get().reference_extract_faces(image, detector_backend="centerface", align=align, enforce_detection=False)
        for image in images
    ]
    testing.assert_results_close(got, want, centerface_plugin.tolerance)
