"""The README's plugin template and its contract test, run as written.

The two code blocks of the README's "Writing a plugin" section are written to files
verbatim (``my_detector.py`` and ``test_my_detector.py``); ``my_package``, the one thing
the template leaves to its author, is filled in with a real detector: OpenCV's ResNet-10
SSD (deepface's ``ssd`` weights, real ones here) run on a whole batch in one forward pass.
Then the whole shipped contract suite runs on it in a fresh interpreter, so the README and
the suite cannot drift apart (the template loads its network in ``prepare()``, which the
suite must call first, as the engine does).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from deepface_batch.testing import DetectorContract
from tests.support.environment import WEIGHTS_DIR, real_weight, require

ROOT = Path(__file__).resolve().parents[1]

MY_PACKAGE = '''
"""A real detector behind the README's template: OpenCV's SSD, one forward pass per batch."""

import cv2
import numpy as np

from deepface_batch import compat

SIZE, THRESHOLD = 300, 0.9


class Network:
    def __init__(self):
        folder = compat.get().weights_folder()
        self.net = cv2.dnn.readNetFromCaffe(
            str(folder / "deploy.prototxt"), str(folder / "res10_300x300_ssd_iter_140000.caffemodel")
        )

    def detect(self, images):
        resized = [cv2.resize(img.astype(np.uint8, copy=False), (SIZE, SIZE)) for img in images]
        self.net.setInput(cv2.dnn.blobFromImages(resized))
        detections = self.net.forward()[0, 0]  # column 0: the image's index in the batch
        rows = [[] for _ in images]
        for row in detections[(detections[:, 1] == 1) & (detections[:, 2] >= THRESHOLD)]:
            index = int(row[0])
            height, width = images[index].shape[:2]
            left, top, right, bottom = (np.int32(row[3:7] * SIZE)).tolist()
            x, y = int(left * width / SIZE), int(top * height / SIZE)
            w, h = int(right * width / SIZE) - x, int(bottom * height / SIZE) - y
            rows[index].append((x, y, w, h, float(row[2])))
        return rows


def load_network():
    return Network()
'''


def readme_blocks() -> tuple[str, str]:
    """The template and its test, the python blocks of "Writing a plugin"."""
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Writing a plugin") :]
    section = section[: section.index("\n## ", 1)]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    template = next(b for b in blocks if "class MyDetector(DetectorPlugin)" in b)
    test = next(b for b in blocks if "class TestMyDetector(DetectorContract)" in b)
    return template, test


def test_the_readmes_plugin_passes_the_whole_contract_suite(tmp_path):
    if not (real_weight("res10_300x300_ssd_iter_140000.caffemodel") and real_weight("deploy.prototxt")):
        require("ssd", "the README's plugin is filled in with OpenCV's SSD, whose real weights are absent")
    template, test = readme_blocks()
    (tmp_path / "my_detector.py").write_text(template)
    (tmp_path / "test_my_detector.py").write_text(test)
    (tmp_path / "my_package").mkdir()
    (tmp_path / "my_package" / "__init__.py").write_text(MY_PACKAGE)
    environment = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)]),
        "DEEPFACE_HOME": str(WEIGHTS_DIR.parent.parent),
    }
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rA", "test_my_detector.py"],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-3000:]
    passed = re.findall(r"^PASSED test_my_detector.py::TestMyDetector::(\w+)", run.stdout, flags=re.M)
    # every test of the suite ran and passed (the border check skips: nothing declared)
    suite = sorted(name for name in dir(DetectorContract) if name.startswith("test_"))
    assert sorted(passed + ["test_without_border_agrees_as_declared"]) == suite, run.stdout[-3000:]


def test_the_suite_refuses_a_subclass_that_overrides_its_own_fixtures():
    with pytest.raises(TypeError, match="overrides the contract suite's 'backend' fixture"):

        class Overriding(DetectorContract):
            @pytest.fixture(scope="class")
            @classmethod
            def backend(cls, plugin):
                return plugin.name
