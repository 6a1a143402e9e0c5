"""The deepface releases deepface_batch serves: the dependency range, the refusal outside
it, and each release's own arguments (run on every release CI installs: 0.0.103 on all
engines, 0.0.100 on TensorFlow)."""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
import tomllib
from packaging.requirements import Requirement

import deepface_batch
from deepface_batch import compat, samples
from tests.support.environment import CENTERFACE_UNBOUND
from tests.support.helpers import assert_identical

ROOT = Path(__file__).resolve().parents[1]


def _requirement() -> Requirement:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    (deepface,) = [Requirement(d) for d in project["dependencies"] if Requirement(d).name == "deepface"]
    return deepface


def test_the_dependency_is_the_supported_range():
    """pip keeps a project's deepface when it is in the range, and the range is exactly the
    releases with a compat module: nothing is downgraded or upgraded at install."""
    requirement = _requirement()
    assert requirement == Requirement(compat.REQUIREMENT)
    assert all(requirement.specifier.contains(version) for version in compat.SUPPORTED)
    for outside in ("0.0.99", "0.0.104", "0.1.0"):
        assert not requirement.specifier.contains(outside)
        assert compat.release_of(outside) not in compat.SUPPORTED
    for inside in ("0.0.103.post1", "0.0.100+local"):
        assert requirement.specifier.contains(inside)
        assert compat.release_of(inside) in compat.SUPPORTED


def test_the_release_the_environment_pinned_is_installed():
    """scripts/setup installs deepface 0.0.100 before the package; the package's install
    must have left it there (DEEPFACE_BATCH_EXPECT_DEEPFACE says what the leg pinned)."""
    expected = os.environ.get("DEEPFACE_BATCH_EXPECT_DEEPFACE") or None
    if expected is None:
        pytest.skip("this environment pins no deepface release (DEEPFACE_BATCH_EXPECT_DEEPFACE)")
    assert compat.installed_version() == expected
    assert compat.get().VERSION == expected
    assert expected in compat.get().RELEASES


def test_each_module_serves_the_releases_mapped_to_it():
    served: dict[str, set[str]] = {}
    for version, path in compat.SUPPORTED.items():
        served.setdefault(path, set()).add(version)
    layer = compat.get()
    assert set(layer.RELEASES) == served[compat.SUPPORTED[compat.installed_version()]]


def _defaults(function) -> dict:
    original = getattr(function, "__wrapped__", function)
    return {name: param.default for name, param in inspect.signature(original).parameters.items() if name != "img_path"}


def test_defaults_are_the_installed_releases_own():
    """Each release's arguments and defaults, read from its own functions (0.0.100 and
    0.0.101's represent takes ``cryptosystem``)."""
    from deepface.modules import detection, representation

    layer = compat.get()
    assert _defaults(detection.extract_faces) == layer.EXTRACT_FACES_DEFAULTS
    assert _defaults(representation.represent) == layer.REPRESENT_DEFAULTS
    assert set(layer.REPRESENT_UPSTREAM_ONLY) <= set(layer.REPRESENT_DEFAULTS)


def test_recognition_modules_exist_in_the_installed_release():
    import importlib

    for name, module in compat.get().RECOGNITION_MODULES.items():
        assert importlib.util.find_spec(module) is not None, f"{name}: {module}"


@pytest.mark.skipif(
    "cryptosystem" not in compat.get().REPRESENT_UPSTREAM_ONLY, reason="this release's represent has no cryptosystem"
)
def test_cryptosystem_runs_upstreams_own_represent():
    """0.0.100 and 0.0.101 encrypt embeddings when given a LightPHE system: the patched
    function leaves such a call to upstream, so its result is upstream's. Dlib has real
    weights here; LightPHE encrypts only an L2-normalised embedding without a negative
    value (min-max, then L2 normalisation)."""
    pytest.importorskip("dlib")
    from deepface import DeepFace
    from lightphe import LightPHE

    cryptosystem = LightPHE(algorithm_name="Paillier", precision=19)
    image = samples.astronaut()
    plain_kwargs = {"model_name": "Dlib", "detector_backend": "opencv", "minmax_normalize": True, "l2_normalize": True}
    kwargs = {**plain_kwargs, "cryptosystem": cryptosystem}
    with deepface_batch.unpatched():
        want = DeepFace.represent([image, image], **kwargs)
    with deepface_batch.patched():
        got = DeepFace.represent([image, image], **kwargs)
        plain = DeepFace.represent([image, image], **plain_kwargs)
    assert [len(entry) for entry in got] == [len(entry) for entry in want]
    for mine, theirs in zip(got, want):
        for a, b in zip(mine, theirs):
            assert a["embedding"] == b["embedding"]
            assert "encrypted_embedding" in a and "encrypted_embedding" in b
    # and without one, the patched call batches and gives the same embeddings
    assert [[f["embedding"] for f in entry] for entry in plain] == [[f["embedding"] for f in e] for e in want]


HOOK_PTH = Path(sysconfig.get_paths()["purelib"]) / "deepface_batch.pth"

_REFUSED_CHILD = """
import json, sys, warnings
warnings.simplefilter("always")
with warnings.catch_warnings(record=True) as caught:
    import deepface_batch
    from deepface_batch import compat
    from deepface.modules import detection, representation  # the import hook runs here
    from deepface_batch.patching import is_wrapper
    hook = any(type(f).__module__ == "deepface_batch_hook" for f in sys.meta_path)
    after_import = len([w for w in caught if w.category is compat.UnsupportedDeepfaceWarning])
    patched = deepface_batch.patch()
    deepface_batch.patch()
import numpy as np
try:
    deepface_batch.extract_faces([np.zeros((64, 64, 3), np.uint8)], detector_backend="opencv")
    raised = None
except deepface_batch.UnsupportedDeepfaceVersion as err:
    raised = str(err)
try:
    deepface_batch.get_detector("opencv")
    lookup = None
except deepface_batch.UnsupportedDeepfaceVersion as err:
    lookup = str(err)
print(json.dumps({
    "hook": hook,
    "after_import": after_import,
    "lookup": lookup,
    "warnings": [str(w.message) for w in caught if w.category is compat.UnsupportedDeepfaceWarning],
    "other": [str(w.message) for w in caught if "deepface_batch" in str(w.message)
              and w.category is not compat.UnsupportedDeepfaceWarning],
    "patched": patched,
    "wrapped": [is_wrapper(detection.extract_faces), is_wrapper(representation.represent)],
    "raised": raised,
}))
"""


@pytest.mark.parametrize("release", ["0.0.99", "0.0.104"])
def test_a_release_outside_the_range_is_refused_with_one_warning(tmp_path, release):
    """A fresh interpreter whose deepface reports another release (its metadata first on
    the path): ``import deepface_batch`` works; the import hook and ``patch()`` leave
    deepface untouched with one warning naming the installed and the supported releases;
    the package's own API raises that message."""
    info = tmp_path / f"deepface-{release}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: deepface\nVersion: {release}\n")
    env = {k: v for k, v in os.environ.items() if k != "DEEPFACE_BATCH_DISABLE"}
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), str(ROOT)])
    out = subprocess.run([sys.executable, "-c", _REFUSED_CHILD], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr
    state = json.loads(out.stdout.strip().splitlines()[-1])
    assert len(state["warnings"]) == 1, state
    (message,) = state["warnings"]
    assert f"deepface {release} is installed" in message
    assert "0.0.100, 0.0.101, 0.0.102, 0.0.103" in message and compat.REQUIREMENT in message
    assert state["other"] == []
    assert state["patched"] is False
    assert state["wrapped"] == [False, False]
    assert state["raised"] == state["lookup"] == message
    if HOOK_PTH.exists():  # the hook ran on deepface's import and warned there, once
        assert state["hook"] is True
        assert state["after_import"] == 1


def test_the_refusal_names_what_to_do():
    message = compat.unsupported_message("0.0.104")
    assert "deepface 0.0.104 is installed" in message
    assert f"pip install '{compat.REQUIREMENT}'" in message
    assert "is not installed" in compat.unsupported_message(None)
    with pytest.raises(deepface_batch.UnsupportedDeepfaceVersion, match="0.0.104 is installed"):
        compat.check_version("0.0.104")
    assert all(compat.check_version(v) == p for v, p in compat.SUPPORTED.items())
    # pip's range admits post-releases and local builds of a release: they are that release
    for build in ("0.0.103.post1", "0.0.103+ubuntu1"):
        assert compat.check_version(build) == compat.SUPPORTED["0.0.103"]
    with pytest.raises(deepface_batch.UnsupportedDeepfaceVersion):
        compat.check_version("0.0.104.post1")


@pytest.mark.skipif(compat.installed_version() not in CENTERFACE_UNBOUND, reason="its CenterFace copes with no face")
def test_centerface_answers_no_face_where_this_releases_upstream_fails(monkeypatch):
    """0.0.100 and 0.0.101's own CenterFace raises on a faceless image (the session gives it
    0.0.102's fix; here it is taken away): a batch with such a frame still gives every
    frame's faces, and the faceless one the whole image, as 0.0.102 does."""
    from deepface.models.face_detection.CenterFace import CenterFace

    monkeypatch.setattr(CenterFace, "postprocess", CenterFace.postprocess.__wrapped__)
    frames = samples.video_frames()  # frame 3 has no face
    kwargs = {"detector_backend": "centerface", "enforce_detection": False}
    with pytest.raises(UnboundLocalError):
        compat.get().reference_extract_faces(frames[3], **kwargs)
    got = deepface_batch.extract_faces(frames, **kwargs)
    assert [len(faces) for faces in got] == [1, 1, 2, 1]
    assert got[3][0]["confidence"] == 0 and got[3][0]["facial_area"]["w"] == frames[3].shape[1] - 1
    for faces, frame in zip(got[:3], frames[:3]):
        assert_identical(faces, compat.get().reference_extract_faces(frame, **kwargs))
