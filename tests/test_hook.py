"""The .pth post-import hook, in fresh interpreters: batched without an import of ours."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

HOOK_PTH = Path(sysconfig.get_paths()["purelib"]) / "deepface_batch.pth"

pytestmark = pytest.mark.skipif(
    not HOOK_PTH.exists(), reason=f"the package is not pip-installed here ({HOOK_PTH} missing)"
)


def run(code: str, **env: str) -> dict:
    environment = {k: v for k, v in os.environ.items() if k != "DEEPFACE_BATCH_DISABLE"}
    environment.update(env)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=environment, timeout=300)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_interpreter_start_imports_neither_deepface_nor_numpy():
    state = run(
        "import sys, json; print(json.dumps({m: m in sys.modules for m in "
        "('deepface', 'deepface_batch', 'numpy', 'deepface_batch_hook')}))"
    )
    assert state == {"deepface": False, "deepface_batch": False, "numpy": False, "deepface_batch_hook": True}


def test_deepface_extract_faces_batches_without_importing_us():
    code = """
import json, sys
import numpy as np
from deepface import DeepFace
from deepface.modules import detection
from skimage import data
face = np.ascontiguousarray(data.astronaut()[:, :, ::-1])
frames = np.stack([face, face[:, ::-1]])
from_list = DeepFace.extract_faces([face, face[:, ::-1].copy()])
from_array = DeepFace.extract_faces(frames)
print(json.dumps({
    "wrapped": bool(getattr(detection.extract_faces, "__deepface_batch_wrapper__", False)),
    "list": [len(x) for x in from_list],
    "array": [len(x) for x in from_array],
}))
"""
    state = run(code)
    assert state == {"wrapped": True, "list": [1, 1], "array": [1, 1]}


def test_disable_environment_variable_opts_out():
    state = run(
        "import json; from deepface.modules import detection; "
        "print(json.dumps(bool(getattr(detection.extract_faces, '__deepface_batch_wrapper__', False))))",
        DEEPFACE_BATCH_DISABLE="1",
    )
    assert state is False


def test_importing_detection_module_directly_is_patched_too():
    state = run(
        "import json; import deepface.modules.detection as d; "
        "print(json.dumps(bool(getattr(d.extract_faces, '__deepface_batch_wrapper__', False))))"
    )
    assert state is True
