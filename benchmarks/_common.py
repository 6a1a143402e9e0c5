"""What the benchmarks share: the weights they run on, planting, and the machine line.

Each benchmark runs as a script (``python benchmarks/bench_x.py``), so this folder is on
``sys.path`` and ``import _common`` finds this module. It is the one place that puts the
repository root on ``sys.path``, for ``tests.support``: the benchmarks find and plant
weights with the test suite's own code (``tests/support/paths.py``, ``planting.py``).
"""

from __future__ import annotations

import atexit
import os
import platform
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.support import planting  # noqa: E402
from tests.support.paths import shared_weights_dir  # noqa: E402


def _fresh_home(prefix: str) -> Path:
    """A new DEEPFACE_HOME, removed at exit; returns its weights folder."""
    home = Path(tempfile.mkdtemp(prefix=prefix))
    atexit.register(shutil.rmtree, home, ignore_errors=True)
    weights = home / ".deepface" / "weights"
    weights.mkdir(parents=True)
    os.environ["DEEPFACE_HOME"] = str(home)
    return weights


def weights_home() -> None:
    """Point DEEPFACE_HOME at the real weights (``paths.shared_weights_dir``), if none is set."""
    shared = shared_weights_dir()
    if os.environ.get("DEEPFACE_HOME") or not shared.is_dir():
        return
    planting.link_shared_weights(shared, _fresh_home("deepface-batch-bench-"))


def planting_home() -> Path:
    """A fresh DEEPFACE_HOME that links the weights of the current one, to plant into (never
    into the user's own); returns its weights folder."""
    current = os.environ.get("DEEPFACE_HOME")
    source = Path(current) / ".deepface" / "weights" if current else None
    weights = _fresh_home("deepface-batch-bench-planted-")
    if source is not None and source.is_dir():
        planting.link_shared_weights(source, weights)
    return weights


def plant_detectors(backends: list[str]) -> set[str]:
    """Seeded YOLO and RetinaFace models of the real architectures, where their weights are
    absent, in a fresh home that links the current one's (never the user's own): speed does
    not depend on the weights. Returns the backends planted."""
    os.environ.setdefault("YOLO_OFFLINE", "true")  # ultralytics: no online checks
    from deepface_batch import compat, samples

    weights = planting_home()
    engine = compat.get().backend_engine()
    calibration = [samples.astronaut(), *samples.video_frames()[:3]]

    def unavailable(name: str, reason: str) -> None:
        raise SystemExit(f"cannot plant weights for {name}: {reason}")

    planted = set()
    for backend in backends:
        if backend == "retinaface":
            file_name = planting.RETINAFACE_FILES[engine]
        elif backend in planting.YOLO_FILES:
            file_name = planting.YOLO_FILES[backend]
        else:
            continue
        if not (weights / file_name).exists():
            planting.ensure_weights(backend, engine, weights, calibration, unavailable)
            planted.add(backend)
    return planted


def plant_recognition(models: list[str]) -> None:
    """Plant the recognition models without real weights into a home that links the real ones."""
    from deepface_batch import compat

    weights = planting_home()
    engine = compat.get().backend_engine()
    for model in models:
        try:
            planting.plant_recognition(model, engine, weights)
        except LookupError:
            pass  # real weights (Dlib) or none to be had


def machine() -> str:
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f", {kb / 2**20:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    from importlib import metadata

    import cv2

    return (
        f"{cpu}, {os.cpu_count()} cores{mem}; Python {platform.python_version()}, "
        f"deepface {metadata.version('deepface')}, OpenCV {cv2.__version__}, "
        f"engine {os.environ.get('DEEPFACE_BACKEND_ENGINE', 'default')}"
    )


#: faces per image a planted (random-weight) YOLO model is tuned to find
PLANTED_FACES_PER_IMAGE = 2


def planted_threshold(plugin, images) -> float:
    """A confidence threshold under which a planted (random) YOLO model finds about
    PLANTED_FACES_PER_IMAGE faces per image of ``images``: at upstream's 0.25 it finds
    none, and at a fixed low one some models find dozens, each cropped and kept. The
    scores come back from the GPU first where the model runs there."""
    import numpy as np

    results = plugin.detector.model.predict(images, verbose=False, conf=0.001)
    scores = np.sort(np.concatenate([r.boxes.conf.cpu().numpy() for r in results]))[::-1]
    wanted = min(len(scores), PLANTED_FACES_PER_IMAGE * len(images))
    if not wanted:
        return 0.25
    # midway to the next score: a threshold equal to a score would let float noise decide
    below = scores[wanted] if wanted < len(scores) else 0.0
    return float((scores[wanted - 1] + below) / 2)


def write_result(out: Path, header: str, text: str) -> None:
    """Write a results file (``header`` first), or append ``text`` to an existing one."""
    if not out.exists():
        out.write_text(header + text + "\n")
    else:
        with out.open("a", encoding="utf-8") as handle:
            handle.write("\n" + text + "\n")
