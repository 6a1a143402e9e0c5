"""The test environment: real weights where they exist, planted ones where not, no network.

A pytest plugin, loaded by ``-p tests.support.environment`` in pyproject.toml's addopts,
before any conftest and any test module (and so before deepface is imported), for every
test pytest runs: ``tests`` and ``examples/plugin-example/tests`` alike. Test modules
import its helpers: ``from tests.support.environment import WEIGHTS_DIR, require, ...``.

``DEEPFACE_HOME`` points at a fresh folder for the session whose ``.deepface/weights``
links the real files of ``../shared/weights`` (or ``$DEEPFACE_BATCH_WEIGHTS``; see
``paths.shared_weights_dir``). RetinaFace and YOLO weights are planted there on demand
(see planting.py). Any attempt to reach the network fails the test that made it: a test
must never download anything.
"""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import tempfile
from pathlib import Path

import pytest

from tests.support import planting
from tests.support.paths import shared_weights_dir

# -- environment, set before deepface is imported anywhere --------------------------------
_HOME = Path(tempfile.mkdtemp(prefix="deepface-batch-home-"))
# planted weights take gigabytes per session (VGG-Face alone 0.5 GB): remove the folder when
# the session ends (links are removed, never what they point at), unless asked to keep it
if not os.environ.get("DEEPFACE_BATCH_KEEP_HOME"):
    atexit.register(shutil.rmtree, _HOME, ignore_errors=True)
WEIGHTS_DIR = _HOME / ".deepface" / "weights"
WEIGHTS_DIR.mkdir(parents=True)
_USER_HOME = os.environ.get("DEEPFACE_HOME")
os.environ["DEEPFACE_HOME"] = str(_HOME)
os.environ.setdefault("YOLO_OFFLINE", "true")  # ultralytics: no online checks
# retina-face needs tf.keras to be tf-keras (Keras 2) and sets this when it is imported;
# a test that loads TensorFlow first (mtcnn's) would otherwise leave it Keras 3
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("YOLO_CONFIG_DIR", str(_HOME / "ultralytics"))

SHARED_WEIGHTS = shared_weights_dir()

LINKED: list[str] = []
if SHARED_WEIGHTS.is_dir():
    LINKED += planting.link_shared_weights(SHARED_WEIGHTS, WEIGHTS_DIR)
if _USER_HOME and (Path(_USER_HOME) / ".deepface" / "weights").is_dir():
    # real weights a developer has (RetinaFace, YOLO, ...) take the place of planted ones
    LINKED += planting.link_shared_weights(Path(_USER_HOME) / ".deepface" / "weights", WEIGHTS_DIR)

#: backends that must run where the tests run (CI sets it): a skip of one is a failure
REQUIRED = {n for n in os.environ.get("DEEPFACE_BATCH_REQUIRE", "").split(",") if n}


# -- the network guard --------------------------------------------------------------------
NETWORK_ATTEMPTS: list[str] = []
_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _is_local(address) -> bool:
    if isinstance(address, (str, bytes)):  # unix socket
        return True
    host = str(address[0])
    return host in {"localhost", "::1"} or host.startswith("127.")


def _guarded(real):
    def connect(self, address):
        if not _is_local(address):
            NETWORK_ATTEMPTS.append(repr(address))
            raise OSError(f"deepface-batch tests: network access to {address!r} is blocked")
        return real(self, address)

    return connect


_real_getaddrinfo = socket.getaddrinfo


def _getaddrinfo(host, *args, **kwargs):
    if host is not None and not _is_local((host if isinstance(host, str) else host.decode(), 0)):
        NETWORK_ATTEMPTS.append(f"lookup of {host!r}")
        raise socket.gaierror(f"deepface-batch tests: network lookup of {host!r} is blocked")
    return _real_getaddrinfo(host, *args, **kwargs)


socket.socket.connect = _guarded(_real_connect)
socket.socket.connect_ex = _guarded(_real_connect_ex)
socket.getaddrinfo = _getaddrinfo


@pytest.fixture(autouse=True)
def no_network():
    """Fail, loudly, any test during which something tried to download.

    Here, not in tests/conftest.py: the plugin example's tests need it as well."""
    before = len(NETWORK_ATTEMPTS)
    yield
    attempts = NETWORK_ATTEMPTS[before:]
    assert not attempts, (
        f"the test tried to reach the network ({', '.join(attempts)}): a weight file is "
        "missing from DEEPFACE_HOME, or a library tried to download something"
    )


# -- helpers of the test modules ----------------------------------------------------------
#: deepface releases whose ``CenterFace.postprocess`` leaves ``boxes_np`` unbound where it
#: finds no face: their own ``extract_faces`` raises ``UnboundLocalError`` on a faceless
#: image (0.0.102 returns empty arrays; the plugin answers as 0.0.102 does)
CENTERFACE_UNBOUND = ("0.0.100", "0.0.101")


@pytest.fixture(scope="session", autouse=True)
def centerface_as_in_0_0_102():
    """On :data:`CENTERFACE_UNBOUND` releases, upstream's CenterFace gets 0.0.102's fix for
    the session, so that the tests can compare with upstream on faceless images;
    tests/test_versions.py checks the unfixed upstream and the plugin against it."""
    from importlib.metadata import version

    if version("deepface") not in CENTERFACE_UNBOUND:
        yield
        return
    import numpy as np
    from deepface.models.face_detection.CenterFace import CenterFace

    original = CenterFace.postprocess

    def postprocess(self, *args, **kwargs):
        try:
            return original(self, *args, **kwargs)
        except UnboundLocalError:
            return np.empty((0, 5), dtype=np.float32), np.empty((0, 10), dtype=np.float32)

    postprocess.__wrapped__ = original
    CenterFace.postprocess = postprocess
    yield
    CenterFace.postprocess = original


def require(name: str, reason: str) -> None:
    """Skip with ``reason``, unless the backend is required here, then fail."""
    if name in REQUIRED:
        pytest.fail(f"{name} is required here (DEEPFACE_BATCH_REQUIRE) but: {reason}")
    pytest.skip(reason)


def real_weight(file_name: str) -> bool:
    """Whether ``file_name`` is a real weight file (linked in), not a planted one."""
    return file_name in LINKED


_MODELS_READY: dict[tuple[str, str], str | None] = {}


def recognition_model(model_name: str, task: str = "facial_recognition") -> None:
    """Make ``model_name`` loadable offline on this engine, or skip saying why.

    Real weights linked from ../shared/weights (or the developer's DEEPFACE_HOME) are used
    as they are; what is missing is planted (planting.plant_recognition). A model upstream
    itself refuses on this engine (DeepFace on TensorFlow 2.13+, Buffalo_L without
    insightface) skips with upstream's reason.
    """
    from deepface.modules import modeling

    from deepface_batch import compat

    key = (task, model_name)
    if key not in _MODELS_READY:
        engine = compat.get().backend_engine()
        reason = None
        try:
            planting.plant_recognition(model_name, engine, WEIGHTS_DIR, task)
        except LookupError as err:
            if model_name != "Dlib":
                reason = str(err)
            elif not real_weight("dlib_face_recognition_resnet_model_v1.dat"):
                reason = "no Dlib recognition weights in ../shared/weights"
        except (ImportError, ValueError) as err:  # upstream's client refuses to build
            reason = f"upstream cannot build {model_name} on {engine}: {err}"
        if reason is None:
            try:
                modeling.build_model(task=task, model_name=model_name)
            except (ImportError, ValueError) as err:
                reason = f"upstream cannot build {model_name} on {engine}: {err}"
        _MODELS_READY[key] = reason
    reason = _MODELS_READY[key]
    if reason is not None:
        require(model_name, reason)
