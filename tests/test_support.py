"""The test support agrees with the package: one list of recognition models (deepface's,
through ``compat``) that the planting table and scripts/test cover, and one place that
finds the real weights."""

from __future__ import annotations

import re
from pathlib import Path

from deepface_batch import compat
from tests.support import planting
from tests.support.paths import REPO_ROOT, WEIGHTS_ENV, shared_weights_dir

SCRIPT = REPO_ROOT / "scripts" / "test"
#: compat's models that scripts/test's ``models`` leaves out, as its comment says why
NOT_IN_SCRIPT_MODELS = {
    "DeepFace": "upstream refuses it on TensorFlow 2.13+: required on onnx and pytorch only",
    "Buffalo_L": "needs insightface, which is not installed",
}
#: what scripts/test's ``models`` names beyond recognition models: analyze's four
SCRIPT_EXTRAS = set(compat.get().ATTRIBUTE_MODELS.values())


def _script_text() -> str:
    return SCRIPT.read_text()


def test_planting_covers_every_recognition_model():
    assert set(planting.RECOGNITION_PLANTING) == set(compat.get().RECOGNITION_MODELS)


def test_scripts_test_requires_every_recognition_model():
    match = re.search(r"^models=(\S+)$", _script_text(), re.MULTILINE)
    assert match, "scripts/test has no models=... line"
    models = set(match.group(1).split(","))
    assert models - SCRIPT_EXTRAS == set(compat.get().RECOGNITION_MODELS) - set(NOT_IN_SCRIPT_MODELS)


def test_scripts_test_requires_deepface_where_upstream_builds_it():
    for engine in ("onnx", "pytorch"):
        line = re.search(rf"^\s*\[{engine}\]=(\S+)$", _script_text(), re.MULTILINE)
        assert line and "DeepFace" in line.group(1).split(","), engine


def test_shared_weights_dir_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv(WEIGHTS_ENV, str(tmp_path))
    assert shared_weights_dir() == tmp_path
    monkeypatch.delenv(WEIGHTS_ENV)
    assert shared_weights_dir() == REPO_ROOT.parent / "shared" / "weights"
    assert Path(__file__).resolve().parents[1] == REPO_ROOT
