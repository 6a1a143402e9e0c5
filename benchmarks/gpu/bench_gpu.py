"""Upstream's one-image loop against deepface_batch on a GPU, per detector, model and batch size.

    benchmarks/gpu/run             # on a GPU machine: builds .venv-gpu, prints nvidia-smi, runs this
    benchmarks/gpu/rehearse        # that run here, as the GPU machine runs it, on the CPU (--strict)
    benchmarks/gpu/run --cpu       # the dry run, in this checkout's .venv: tiny sizes, on the CPU
    python benchmarks/gpu/bench_gpu.py --out report.md [--n 128] [--batch-sizes 1,8,32,64]
    python benchmarks/gpu/bench_gpu.py --estimate  # how long a run takes, from the rehearsal's costs

In one process, on N same-size 640 x 480 frames (``deepface_batch.samples.video_frames()``
cycled: one face, a flipped face, two faces, none), each backend and model warmed up
before any clock, each time the median of ``--repeats`` runs:

- extract_faces, per detector (yolov8n, retinaface, fastmtcnn, centerface; mtcnn where
  TensorFlow imports): upstream's loop (``reference_extract_faces``, one image per call,
  unpatched) against ``deepface_batch.extract_faces(images, batch_size=B)`` for each B,
  and the largest deviation of ours from upstream's results
  (:func:`deepface_batch.comparison.deviation`) beside the plugin's declared tolerance;
- yolov8n in half precision (``YoloPlugin(half=True)``, registered for the run), its
  deviation measured against upstream's full-precision results;
- represent with Facenet and ArcFace on yolov8n: upstream's loop (``reference_represent``
  per image) against ``deepface_batch.represent(images, batch_size=B)``, the largest
  relative deviation of an embedding beside the engine's tolerance;
- analyze (``--analyze``, default emotion alone, then all four actions) on the same
  detector (``--represent-detector``): upstream's loop (``reference_analyze`` per image,
  silent) against ``deepface_batch.analyze(images, actions=..., batch_size=B)``, the
  largest score deviation (percentage points) beside the engine's declared tolerance
  (``deepface_batch.analysis.ATTRIBUTE_TOLERANCE``);
- the target of issue 16: on a GPU, yolov8n + Facenet represent at batch_size >= 32 at
  least 10x upstream's loop; and of issue 22: on a GPU, yolov8n + analyze (emotion) at
  batch_size >= 32 at least 10x upstream's loop.

Where a model has no real weights in DEEPFACE_HOME (RetinaFace, the YOLO face models, the
recognition models and the attribute models have none offline), the real architecture is
planted with seeded random weights (tests/support/planting.py) and the report says so:
speed does not depend on the weights. The report (Markdown) is rewritten after every
measurement, so a run cut short still leaves what it measured.

A GPU run keeps within ``--budget`` seconds (420 by default, so that the command fits a
device call's 10 minutes): what is left of it is shared evenly by the measurements still
to come, and within one, by its steps (upstream's loop, then each batch size); a step
times fewer than ``--repeats`` runs rather than pass its share (the report lists those),
and a measurement the budget does not reach is reported as not measured. Each
measurement ends as measured, skipped as expected (mtcnn without TensorFlow), not
reached, or failed (a module missing, a crash, no weights): ``--strict`` exits 1 on a
failure. ``--costs FILE`` writes what each cost per image; the rehearsal stages that
file in the wheelhouse, and ``--estimate`` (which benchmarks/gpu/run prints at a GPU
run's start) scales it to a run's sizes.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import json
import math
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

BENCHMARKS = Path(__file__).resolve().parent.parent
if str(BENCHMARKS) not in sys.path:
    sys.path.insert(0, str(BENCHMARKS))

from _common import (  # noqa: E402  (puts the root on sys.path)
    PLANTED_FACES_PER_IMAGE,
    machine,
    planted_threshold,
    planting_home,
    weights_home,
)

from tests.support import planting  # noqa: E402
from tests.support.paths import shared_weights_dir  # noqa: E402

DETECTORS = "yolov8n,retinaface,fastmtcnn,centerface,mtcnn"
MODELS = "Facenet,ArcFace"
#: the target of issue 16: ours at least this many times upstream's loop, on a GPU
TARGET_RATIO = 10.0
TARGET_MODEL, TARGET_DETECTOR, TARGET_MIN_BATCH = "Facenet", "yolov8n", 32
#: analyze's actions in upstream's order (deepface's ``ANALYZE_ACTIONS``, named here so that
#: --estimate runs where deepface is not installed yet)
ACTIONS = ("emotion", "age", "gender", "race")
#: the analyze rows: sets of actions, ";" between sets, "," between actions, "all" the four
ANALYZE = "emotion;all"
#: the target of issue 22: analyze with these actions at the batch sizes and ratio above
TARGET_ACTIONS = ("emotion",)
#: faces per image a planted YOLO model's threshold is set to give, as in bench_detectors
#: detectors measured on real weights only, and the file each needs in DEEPFACE_HOME
REAL_ONLY = {"centerface": "centerface.onnx"}


# -- the environment, before deepface is imported ---------------------------------------


def choose_engine(asked: str) -> tuple[str, str]:
    """deepface's engine for this run, and why: the one asked for (or in
    DEEPFACE_BACKEND_ENGINE); else onnx where onnxruntime offers CUDA, pytorch where only
    torch sees a GPU, onnx otherwise (the dry run's .venv is built for onnx)."""
    if asked != "auto":
        return asked, "--engine"
    if os.environ.get("DEEPFACE_BACKEND_ENGINE"):
        return os.environ["DEEPFACE_BACKEND_ENGINE"], "DEEPFACE_BACKEND_ENGINE"
    if "CUDAExecutionProvider" in onnxruntime_providers():
        return "onnx", "onnxruntime offers CUDA"
    if torch_cuda():
        return "pytorch", "torch sees a GPU, onnxruntime offers no CUDA provider"
    return "onnx", "no GPU: the engine of scripts/setup onnx"


def onnxruntime_providers() -> list[str]:
    try:
        import onnxruntime

        return list(onnxruntime.get_available_providers())
    except Exception:
        return []


def torch_cuda() -> bool:
    try:
        import torch

        return bool(torch.cuda.is_available())
    except Exception:
        return False


def preload_cuda_for_onnxruntime(notes: list[str]) -> None:
    """onnxruntime-gpu finds the CUDA and cuDNN libraries of the nvidia-* wheels only when
    asked to (``preload_dlls``, onnxruntime 1.21+); without them its CUDA provider falls back
    to the CPU, which the device columns would show."""
    try:
        import onnxruntime

        if "CUDAExecutionProvider" in onnxruntime.get_available_providers() and hasattr(onnxruntime, "preload_dlls"):
            onnxruntime.preload_dlls()
    except Exception as err:  # the report's device columns say where graphs ran
        notes.append(f"onnxruntime.preload_dlls() failed: {type(err).__name__}: {err}")


def ensure_home() -> str:
    """DEEPFACE_HOME: the one set, else one linking the real weights
    (``_common.weights_home``), else a fresh empty one. Returns where the real weights
    come from, for the report."""
    given = os.environ.get("DEEPFACE_HOME")
    weights_home()
    if given:
        return f"$DEEPFACE_HOME ({given})"
    if os.environ.get("DEEPFACE_HOME"):
        return str(shared_weights_dir())
    home = Path(tempfile.mkdtemp(prefix="deepface-batch-gpu-"))
    (home / ".deepface" / "weights").mkdir(parents=True)
    os.environ["DEEPFACE_HOME"] = str(home)
    return "nowhere (no ../shared/weights, $DEEPFACE_BATCH_WEIGHTS or $DEEPFACE_HOME)"


# -- weights ----------------------------------------------------------------------------


def plant(detectors: list[str], models: list[str], engine: str, state: dict, attributes: Sequence[str] = ()) -> None:
    """Seeded weights for what has no real ones, in a fresh home linking the real ones:
    the detectors, the recognition ``models`` and the ``attributes`` models (Emotion, Age,
    Gender, Race)."""
    from deepface_batch import samples

    weights = planting_home()
    calibration = [samples.astronaut(), *samples.video_frames()[:3]]
    cannot: dict[str, str] = state["cannot_plant"]

    for name in detectors:
        if name == "retinaface" or name in planting.YOLO_FILES:
            file_name = planting.RETINAFACE_FILES[engine] if name == "retinaface" else planting.YOLO_FILES[name]
            if (weights / file_name).exists():
                state["real"].add(name)
                continue
            try:
                planting.ensure_weights(name, engine, weights, calibration, lambda n, why: cannot.__setitem__(n, why))
            except Exception as err:  # the row says the rest: the detector cannot load
                cannot[name] = f"{type(err).__name__}: {err}"
            if (weights / file_name).exists():
                state["planted"].add(name)
    for model in models:
        try:
            saved = planting.plant_recognition(model, engine, weights)
        except Exception as err:  # LookupError: nothing to plant; anything else: it failed
            cannot[model] = f"{type(err).__name__}: {err}"
            continue
        (state["planted"] if saved else state["real"]).add(model)
    for model in attributes:
        try:
            saved = planting.plant_recognition(model, engine, weights, task="facial_attribute")
        except Exception as err:  # the analyze rows that need it fail with this reason
            cannot[model] = f"{type(err).__name__}: {err}"
            continue
        (state["planted"] if saved else state["real"]).add(model)


def attribute_models(analyses: Sequence[tuple[str, ...]]) -> list[str]:
    """The attribute models ``analyses`` run, in upstream's action order."""
    from deepface_batch import compat

    layer = compat.get()
    wanted = {action for actions in analyses for action in actions}
    return [layer.ATTRIBUTE_MODELS[a] for a in layer.ANALYZE_ACTIONS if a in wanted]


def _providers(session: Any) -> str:
    names = [p.replace("ExecutionProvider", "") for p in session.get_providers()]
    return "onnxruntime " + "+".join(names)


def _tf_device() -> str:
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    return f"tensorflow GPU x{len(gpus)}" if gpus else "tensorflow CPU"


def detector_device(backend: str, plugin: Any) -> str:
    """Where the plugin's network ran, read off the objects themselves."""
    try:
        if backend.startswith("yolo"):
            predictor = plugin.detector.model.predictor
            fp16 = bool(getattr(predictor.model, "fp16", False))
            return f"torch {predictor.device}" + (" fp16" if fp16 else "")
        if backend == "centerface":
            session = getattr(plugin, "_session", None)
            return _providers(session) if session is not None else "unknown"
        if backend == "fastmtcnn":
            return f"torch {plugin.detector.model.device}"
        if backend == "retinaface":
            from retinaface.commons import backend_utils

            model = plugin.detector.model
            if backend_utils.is_onnx():
                return _providers(model.session)
            if backend_utils.is_pytorch():
                return f"torch {next(model.parameters()).device}"
            return _tf_device()
        if backend == "mtcnn":
            return _tf_device()
        if hasattr(plugin, "on_gpu"):
            return "GPU" if plugin.on_gpu() else "CPU"
    except Exception as err:
        return f"unknown ({type(err).__name__})"
    return "CPU"


def model_device(model_name: str) -> str:
    from deepface_batch import compat

    return client_device(lambda: compat.get().build_recognition_model(model_name))


def attribute_device(actions: Sequence[str]) -> str:
    """Where the attribute models of ``actions`` ran (one entry where they all ran alike)."""
    from deepface_batch import compat

    layer = compat.get()
    devices = [client_device(lambda a=a: layer.build_attribute_model(layer.ATTRIBUTE_MODELS[a])) for a in actions]
    return devices[0] if len(set(devices)) == 1 else ", ".join(f"{a} {d}" for a, d in zip(actions, devices))


def client_device(build: Callable[[], Any]) -> str:
    """Where a deepface model client (built, or taken from its cache, by ``build``) runs."""
    try:
        client = build()
        if hasattr(client, "device"):
            return f"torch {client.device}"
        if hasattr(getattr(client, "model", None), "get_providers"):
            return _providers(client.model)
        if ".tf." in type(client).__module__:
            return _tf_device()
    except Exception as err:
        return f"unknown ({type(err).__name__})"
    return "CPU"


def device_summary() -> list[str]:
    """One line per engine: torch, onnxruntime, tensorflow, and nvidia-smi's GPU."""
    lines = []
    try:
        import torch

        if torch.cuda.is_available():
            gpu = f"{torch.cuda.get_device_name(0)}, {torch.cuda.device_count()} visible"
        else:
            gpu = "no GPU visible"
        lines.append(f"torch {torch.__version__} (CUDA {torch.version.cuda}): {gpu}")
    except Exception as err:
        lines.append(f"torch: not importable ({type(err).__name__}: {err})")
    try:
        import onnxruntime

        lines.append(
            f"onnxruntime {onnxruntime.__version__} ({onnxruntime.get_device()}): providers "
            + ", ".join(onnxruntime.get_available_providers())
        )
    except Exception as err:
        lines.append(f"onnxruntime: not importable ({type(err).__name__}: {err})")
    lines.append(tensorflow_line())
    smi = shutil.which("nvidia-smi")
    if smi:
        out = subprocess.run(
            [smi, "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            check=False,
        )
        lines.append(f"nvidia-smi: {out.stdout.strip() or out.stderr.strip()}")
    else:
        lines.append("nvidia-smi: not found")
    return lines


def tensorflow_line() -> str:
    if importlib.util.find_spec("tensorflow") is None:
        return "tensorflow: not installed"
    if "tensorflow" not in sys.modules:
        return "tensorflow: installed, not imported (mtcnn not measured)"
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    return f"tensorflow {tf.__version__}: " + (f"{len(gpus)} GPU(s)" if gpus else "no GPU")


def tensorflow_missing() -> str | None:
    """Why mtcnn cannot run here (TensorFlow or mtcnn does not import), or None."""
    for module in ("tensorflow", "mtcnn"):
        try:
            __import__(module)
        except Exception as err:
            return f"{module} not importable ({type(err).__name__}: {err})"
    return None


# -- measuring --------------------------------------------------------------------------


def share(until: float, steps: int) -> float:
    """The end of the next of ``steps`` steps that share what is left before ``until``."""
    now = time.perf_counter()
    return now + (until - now) / max(steps, 1)


def median_time(fn: Callable[[], Any], repeats: int, until: float = math.inf) -> tuple[Any, float, int]:
    """The last result, the median wall time of the calls and how many ran: ``repeats``,
    or fewer where another call, as long as the last, would end after ``until`` (at least one)."""
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
        if time.perf_counter() + times[-1] > until:
            break
    return result, statistics.median(times), len(times)


def frames(n: int) -> list:
    from deepface_batch import samples

    base = samples.video_frames()
    return [base[i % len(base)].copy() for i in range(n)]


def within(dev: dict[str, float], tolerance: Any) -> bool:
    return (
        dev["count_differs"] == 0
        and dev["box_px"] <= tolerance.box_px
        and dev["landmark_px"] <= tolerance.landmark_px
        and dev["confidence"] <= tolerance.confidence
    )


def upstream_loop(backend: str, images: list, repeats: int, state: dict, until: float = math.inf) -> dict:
    """Upstream's loop over ``images`` for ``backend``, warmed, timed (cached per backend)."""
    from deepface_batch import compat

    layer = compat.get()
    kwargs = {"detector_backend": backend, "enforce_detection": False}
    clock = time.perf_counter()
    layer.reference_extract_faces(images[0], **kwargs)  # builds and warms upstream's detector
    load = time.perf_counter() - clock
    results, seconds, runs = median_time(
        lambda: [layer.reference_extract_faces(i, **kwargs) for i in images], repeats, until
    )
    state["upstream"][backend] = {"results": results, "seconds": seconds, "runs": runs, "load": load}
    return state["upstream"][backend]


def bench_detector(
    backend: str,
    images: list,
    batch_sizes: list[int],
    repeats: int,
    state: dict,
    label: str | None = None,
    until: float = math.inf,
) -> list[dict]:
    """Rows of one detector: ours at each batch size against upstream's loop, the steps
    (upstream's loop, then each batch size) sharing the time left before ``until``."""
    import deepface_batch
    from deepface_batch import comparison

    kwargs = {"detector_backend": backend, "enforce_detection": False}
    label = label or backend
    clock = time.perf_counter()
    plugin = deepface_batch.get_detector(backend)
    plugin.prepare()
    cost: dict[str, Any] = {"load_s": time.perf_counter() - clock, "ours_s": {}}
    state["costs"][label] = cost
    steps = len(batch_sizes) + 1
    reference = state["upstream"].get(backend)
    if reference is None:
        reference = upstream_loop(backend, images, repeats, state, share(until, steps))
        cost["load_s"] += reference["load"]
        cost["upstream_s"] = reference["seconds"] / len(images)
    steps -= 1
    rows = []
    for batch_size in batch_sizes:
        end = share(until, steps)
        steps -= 1
        # one batch of this size first: a new input shape may build or tune kernels
        deepface_batch.extract_faces(images[:batch_size], batch_size=batch_size, **kwargs)
        ours, seconds, runs = median_time(
            lambda b=batch_size: deepface_batch.extract_faces(images, batch_size=b, **kwargs), repeats, end
        )
        cost["ours_s"][str(batch_size)] = seconds / len(images)
        dev = comparison.deviation(ours, reference["results"])
        rows.append(
            {
                "backend": label,
                "mode": plugin.batch_mode.value,
                "device": detector_device(backend, plugin),
                "batch_size": batch_size,
                "runs": runs,
                "upstream_runs": reference["runs"],
                "upstream_ips": len(images) / reference["seconds"],
                "ours_ips": len(images) / seconds,
                "ratio": reference["seconds"] / seconds,
                "faces": sum(len([f for f in r if f["confidence"] > 0]) for r in ours),
                "deviation": dev,
                "tolerance": plugin.tolerance,
                "within": within(dev, plugin.tolerance),
            }
        )
        print(f"  {label} batch {batch_size}: {rows[-1]['ratio']:.2f}x", file=sys.stderr)
    return rows


def bench_yolo_half(
    backend: str, images: list, batch_sizes: list[int], repeats: int, state: dict, until: float = math.inf
) -> list[dict]:
    """yolov8n with ``YoloPlugin(half=True)`` registered for the block, against upstream's
    full-precision results."""
    from deepface_batch import registry
    from deepface_batch.plugins.yolo import PLUGINS

    with registry.registered(PLUGINS[backend](half=True)):
        return bench_detector(backend, images, batch_sizes, repeats, state, label=f"{backend} half=True", until=until)


def bench_represent(
    model: str,
    detector: str,
    images: list,
    batch_sizes: list[int],
    repeats: int,
    state: dict,
    until: float = math.inf,
) -> list[dict]:
    import deepface_batch
    from deepface_batch import compat, embedding

    layer = compat.get()
    options = {"model_name": model, "detector_backend": detector, "enforce_detection": False}
    steps = len(batch_sizes) + 1
    clock = time.perf_counter()
    layer.reference_represent(images[0], **options)  # builds the model and detector, warms upstream
    cost: dict[str, Any] = {"load_s": time.perf_counter() - clock, "ours_s": {}}
    state["costs"][f"represent {model}"] = cost
    loop, loop_s, loop_runs = median_time(
        lambda: [layer.reference_represent(i, **options) for i in images], repeats, share(until, steps)
    )
    steps -= 1
    cost["upstream_s"] = loop_s / len(images)
    tolerance = embedding.get_embedder(model).tolerance
    rows = []
    for batch_size in batch_sizes:
        end = share(until, steps)
        steps -= 1
        deepface_batch.represent(images[:batch_size], batch_size=batch_size, **options)
        ours, seconds, runs = median_time(
            lambda b=batch_size: deepface_batch.represent(images, batch_size=b, **options), repeats, end
        )
        cost["ours_s"][str(batch_size)] = seconds / len(images)
        worst, areas_differ = 0.0, 0
        for got, want in zip(ours, loop):
            if [f["facial_area"] for f in got] != [f["facial_area"] for f in want]:
                areas_differ += 1
                continue
            for a, b in zip(got, want):
                worst = max(worst, tolerance.deviation(a["embedding"], b["embedding"]))
        rows.append(
            {
                "model": model,
                "detector": detector,
                "device": model_device(model),
                "batch_size": batch_size,
                "runs": runs,
                "upstream_runs": loop_runs,
                "faces": sum(len(r) for r in loop),
                "upstream_ips": len(images) / loop_s,
                "ours_ips": len(images) / seconds,
                "ratio": loop_s / seconds,
                "deviation": worst,
                "tolerance": tolerance.relative,
                "areas_differ": areas_differ,
            }
        )
        print(f"  represent {model} batch {batch_size}: {rows[-1]['ratio']:.2f}x", file=sys.stderr)
    return rows


def compare_analyses(ours: list, upstream: list, tolerance: Any) -> dict[str, Any]:
    """How far ours (per input, its analyze dicts) is from upstream's loop: the largest
    score difference in percentage points (``score``), the inputs whose faces have other
    regions (their faces are not compared: a detector's matter), and the faces that
    ``tolerance.problems`` finds outside the declared tolerance (scores, age, labels)."""
    worst, regions_differ, outside = 0.0, 0, 0
    for got, want in zip(ours, upstream):
        if [f["region"] for f in got] != [f["region"] for f in want]:
            regions_differ += 1
            continue
        for a, b in zip(got, want):
            outside += bool(tolerance.problems(a, b))
            for key, scores in b.items():
                if key == "region" or not isinstance(scores, dict) or list(a.get(key, ())) != list(scores):
                    continue  # not scores, or other labels: problems() counts those
                worst = max(worst, max((abs(float(a[key][k]) - float(v)) for k, v in scores.items()), default=0.0))
    return {"score": worst, "regions_differ": regions_differ, "outside": outside}


def bench_analyze(
    actions: tuple[str, ...],
    detector: str,
    images: list,
    batch_sizes: list[int],
    repeats: int,
    state: dict,
    until: float = math.inf,
) -> list[dict]:
    """Rows of analyze with ``actions``: upstream's loop (``reference_analyze`` per image,
    silent) against ``deepface_batch.analyze`` at each batch size, the steps sharing the
    time left before ``until``."""
    import deepface_batch
    from deepface_batch import analysis, compat

    layer = compat.get()
    options = {"actions": actions, "detector_backend": detector, "enforce_detection": False}
    steps = len(batch_sizes) + 1
    clock = time.perf_counter()
    layer.reference_analyze(images[0], silent=True, **options)  # builds the models and detector, warms upstream
    cost: dict[str, Any] = {"load_s": time.perf_counter() - clock, "ours_s": {}}
    state["costs"][analyze_group(actions)] = cost
    loop, loop_s, loop_runs = median_time(
        lambda: [layer.reference_analyze(i, silent=True, **options) for i in images], repeats, share(until, steps)
    )
    steps -= 1
    cost["upstream_s"] = loop_s / len(images)
    tolerance = analysis.ATTRIBUTE_TOLERANCE[state["engine"]]
    device = attribute_device(actions)
    rows = []
    for batch_size in batch_sizes:
        end = share(until, steps)
        steps -= 1
        deepface_batch.analyze(images[:batch_size], batch_size=batch_size, **options)
        ours, seconds, runs = median_time(
            lambda b=batch_size: deepface_batch.analyze(images, batch_size=b, **options), repeats, end
        )
        cost["ours_s"][str(batch_size)] = seconds / len(images)
        compared = compare_analyses(ours, loop, tolerance)
        rows.append(
            {
                "actions": ",".join(actions),
                "detector": detector,
                "device": device,
                "batch_size": batch_size,
                "runs": runs,
                "upstream_runs": loop_runs,
                "faces": sum(len(r) for r in loop),
                "upstream_ips": len(images) / loop_s,
                "ours_ips": len(images) / seconds,
                "ratio": loop_s / seconds,
                "deviation": compared["score"],
                "tolerance": tolerance.score,
                "regions_differ": compared["regions_differ"],
                "outside": compared["outside"],
            }
        )
        print(f"  {analyze_group(actions)} batch {batch_size}: {rows[-1]['ratio']:.2f}x", file=sys.stderr)
    return rows


# -- the report -------------------------------------------------------------------------


def _dev_cell(dev: dict[str, float]) -> str:
    return f"{dev['box_px']:g}, {dev['landmark_px']:g}, {dev['confidence']:.2g}; {dev['count_differs']:g}"


def _skip_cell(row: dict) -> str:
    if row.get("outcome") == "failed":
        return f"**failed**: {row['skipped']}"
    if row.get("outcome") == "expected":
        return f"not measured (expected): {row['skipped']}"
    return f"not measured: {row['skipped']}"


def _tol_cell(tol: Any) -> str:
    return "exact" if tol.exact else f"{tol.box_px:g}, {tol.landmark_px:g}, {tol.confidence:g}"


def target_line(rows: list[dict], on_gpu: bool) -> str:
    """Issue 16's target, judged on the represent rows."""
    what = (
        f"{TARGET_DETECTOR} + {TARGET_MODEL} represent at batch_size >= {TARGET_MIN_BATCH}, "
        f"at least {TARGET_RATIO:g}x upstream's loop on a GPU"
    )
    return judged(what, [r for r in rows if r["model"] == TARGET_MODEL and r["detector"] == TARGET_DETECTOR], on_gpu)


def analyze_target_line(rows: list[dict], on_gpu: bool) -> str:
    """Issue 22's target, judged on the analyze rows."""
    actions = ",".join(TARGET_ACTIONS)
    what = (
        f"{TARGET_DETECTOR} + analyze ({', '.join(TARGET_ACTIONS)}) at batch_size >= {TARGET_MIN_BATCH}, "
        f"at least {TARGET_RATIO:g}x upstream's loop on a GPU (issue 22)"
    )
    return judged(what, [r for r in rows if r["actions"] == actions and r["detector"] == TARGET_DETECTOR], on_gpu)


def judged(what: str, measured: list[dict], on_gpu: bool) -> str:
    """The line of a target: ``measured`` holds the rows of what it names at every batch
    size; the best ratio at batch_size >= TARGET_MIN_BATCH judges it, on a GPU only."""
    candidates = [r for r in measured if r["batch_size"] >= TARGET_MIN_BATCH]
    if not candidates:
        best = max(measured, key=lambda r: r["ratio"], default=None)
        seen = f" (best measured: {best['ratio']:.2f}x at batch_size {best['batch_size']})" if best else ""
        return f"- {what}: not judged, no batch_size >= {TARGET_MIN_BATCH} measured{seen}."
    best = max(candidates, key=lambda r: r["ratio"])
    measured = f"{best['ratio']:.2f}x at batch_size {best['batch_size']} ({best['device']})"
    if not on_gpu:
        return f"- {what}: not judged on the CPU; {measured}."
    verdict = "**holds**" if best["ratio"] >= TARGET_RATIO else "**does not hold**"
    return f"- {what}: {verdict}, {measured}."


def render(state: dict) -> str:
    args, images = state["args"], state["n"]
    on_gpu = state["on_gpu"]
    kind = "CPU dry run" if args.cpu else ("GPU run" if on_gpu else "run with no GPU visible to torch")
    lines = []
    if not state["existing"]:
        lines += [
            "# GPU benchmark: batched extract_faces, represent and analyze against upstream's loop"
            + ("" if not args.cpu else " (dry run on the CPU)"),
            "",
            "Issue 16 item 5. `benchmarks/gpu/run` builds `.venv-gpu` (the package with its CUDA "
            "builds), prints `nvidia-smi` and runs `benchmarks/gpu/bench_gpu.py`: per detector, "
            "upstream's loop (`reference_extract_faces`, one image per call) against "
            "`deepface_batch.extract_faces` at each batch size, yolov8n in half precision, and "
            "`represent` with Facenet and ArcFace on yolov8n against upstream's loop of "
            "`DeepFace.represent`, and `analyze` (emotion, and all four actions) on the same detector "
            "against upstream's loop of `DeepFace.analyze` (issue 22); every backend and model warmed up "
            "before any clock, each time "
            "the median of the runs. `benchmarks/gpu/run --cpu` is the dry run, on the CPU with "
            "tiny sizes. Reproduce:",
            "",
            "    benchmarks/gpu/run" + (" --cpu" if args.cpu else ""),
            "",
        ]
    weights_note = []
    if state["planted"]:
        weights_note.append(
            "planted seeded random weights (tests/support/planting.py: the real architecture, "
            f"no real weights offline) for {', '.join(sorted(state['planted']))}: speeds hold, "
            "but faces found are not faces (see the notes)"
        )
    if state["real"]:
        weights_note.append(f"real weights in DEEPFACE_HOME for {', '.join(sorted(state['real']))}")
    weights_note.append(
        f"real weights from {state['weights_source']} for the rest (centerface has no others); "
        "fastmtcnn and mtcnn bring theirs in their packages"
    )
    lines += [
        f"## {state['started']:%Y-%m-%d %H:%M} UTC, {kind}, {state['engine']} engine",
        "",
        f"Machine: {state['machine']}.",
        "",
        "Device: " + "; ".join(state["devices"]) + ".",
        "",
        f"Command: `{state['command']}` (`{state['python_command']}`); deepface engine "
        f"{state['engine']} ({state['engine_why']}); align=True, enforce_detection=False; "
        f"median of {args.repeats} run{'s' if args.repeats != 1 else ''} after a warm-up"
        + (f", within a budget of {args.budget:g} s" if args.budget else "")
        + (f"; installed in {args.installed_in:.0f} s" if args.installed_in is not None else "")
        + ".",
        "",
        "Weights: " + "; ".join(weights_note) + ".",
        "",
        f"### extract_faces: {images} same-size 640 x 480 frames",
        "",
        "| backend | batching | device | batch_size | upstream img/s | ours img/s | ratio | faces | "
        "max deviation from upstream's loop (box px, landmark px, confidence; inputs with another face count) | "
        "declared tolerance (box px, landmark px, confidence) | within |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | --- | --- | --- |",
    ]
    for r in state["detector_rows"]:
        if "skipped" in r:
            lines.append(f"| {r['backend']} | | | | | | | | {_skip_cell(r)} | | |")
            continue
        lines.append(
            f"| {r['backend']} | {r['mode']} | {r['device']} | {r['batch_size']} | {r['upstream_ips']:.1f} | "
            f"{r['ours_ips']:.1f} | **{r['ratio']:.2f}x** | {r['faces']} | {_dev_cell(r['deviation'])} | "
            f"{_tol_cell(r['tolerance'])} | {'yes' if r['within'] else '**no**'} |"
        )
    lines += [
        "",
        f"### represent: {images} same-size 640 x 480 frames",
        "",
        "| model | detector | device (model) | batch_size | faces | upstream loop img/s | ours img/s | ratio | "
        "max deviation (relative) | tolerance | inputs with other facial areas |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in state["represent_rows"]:
        if "skipped" in r:
            lines.append(f"| {r['model']} | {r['detector']} | | | | | | | {_skip_cell(r)} | | |")
            continue
        lines.append(
            f"| {r['model']} | {r['detector']} | {r['device']} | {r['batch_size']} | {r['faces']} | "
            f"{r['upstream_ips']:.1f} | {r['ours_ips']:.1f} | **{r['ratio']:.2f}x** | {r['deviation']:.1e} | "
            f"{r['tolerance']:.0e} | {r['areas_differ']} |"
        )
    lines += [
        "",
        f"### analyze: {images} same-size 640 x 480 frames",
        "",
        "| actions | detector | device (models) | batch_size | faces | upstream loop img/s | ours img/s | ratio | "
        "max score deviation (points) | tolerance (points) | inputs with other regions | faces outside the tolerance |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in state["analyze_rows"]:
        if "skipped" in r:
            lines.append(f"| {r['actions']} | {r['detector']} | | | | | | | {_skip_cell(r)} | | | |")
            continue
        lines.append(
            f"| {r['actions']} | {r['detector']} | {r['device']} | {r['batch_size']} | {r['faces']} | "
            f"{r['upstream_ips']:.1f} | {r['ours_ips']:.1f} | **{r['ratio']:.2f}x** | {r['deviation']:.1e} | "
            f"{r['tolerance']:g} | {r['regions_differ']} | {r['outside']} |"
        )
    rows = [r for r in state["represent_rows"] if "skipped" not in r]
    analyzed = [r for r in state["analyze_rows"] if "skipped" not in r]
    lines += ["", "### Target", "", target_line(rows, on_gpu), analyze_target_line(analyzed, on_gpu)]
    notes = list(state["notes"])
    if state["threshold"] is not None:
        notes.append(
            f"yolov8n runs on planted weights: YOLO_MIN_DETECTION_CONFIDENCE={state['threshold']:.4f}, set "
            f"for about {PLANTED_FACES_PER_IMAGE} faces per image (upstream's 0.25 finds nothing with random "
            "weights), for upstream and ours alike. Random boxes are large, so the per-face work after "
            "detection (crop, alignment, resizing on the CPU) weighs more than it would with real weights."
        )
    if "retinaface" in state["planted"]:
        notes.append(
            "retinaface runs on planted weights whose face score is shifted so that a few anchors pass "
            "upstream's 0.9 threshold."
        )
    attributes = sorted(state["planted"] & set(state["attribute_models"]))
    if attributes:
        notes.append(
            f"analyze runs on planted attribute models ({', '.join(attributes)}: the real networks with seeded "
            "weights and a calibrated last layer, tests/support/planting.py; no real weights offline), the same "
            "for upstream and ours: the scores say nothing of the faces, the speeds and deviations hold."
        )
    fewer = [
        f"{r.get('backend') or r.get('model') or 'analyze ' + r['actions']} batch {r['batch_size']} "
        f"({r['runs']}, upstream's loop {r['upstream_runs']})"
        for r in [*state["detector_rows"], *state["represent_rows"], *state["analyze_rows"]]
        if "skipped" not in r and min(r["runs"], r["upstream_runs"]) < args.repeats
    ]
    if fewer:
        notes.append(
            f"Timed fewer than {args.repeats} times to keep within the budget of {args.budget:g} s: "
            + ", ".join(fewer)
            + "."
        )
    if state["elapsed"] is not None:
        notes.append(f"The benchmark took {state['elapsed']:.0f} s, planting and warm-ups included.")
    if notes:
        lines += ["", "Notes:", "", *[n if n.startswith("- ") else f"- {n}" for n in notes]]
    if not state["done"]:
        lines += ["", "(still running, or cut short: the rows above are what was measured)"]
    return "\n".join(lines) + "\n"


def write(state: dict) -> None:
    out = state["out"]
    text = render(state)
    prefix = state["existing"] + ("\n" if state["existing"] and not state["existing"].endswith("\n\n") else "")
    out.write_text(prefix + text, encoding="utf-8")


# -- the plan, its outcomes and how long it takes -----------------------------------------

#: what the rehearsal measured (benchmarks/gpu/rehearse), staged beside the wheels so that
#: it travels to the GPU machine with them
REHEARSAL_COSTS = Path(__file__).resolve().parent / "wheelhouse" / "rehearsal.json"
#: the default --budget of a GPU run: bench_gpu.py within 7 minutes, so that the command
#: (the install and CUDA's start included) ends well inside a device call's 10 minutes,
#: and the machine's start, the transfers and the command inside 15 minutes of device time
#: with room left for a rerun
GPU_BUDGET_S = 420.0
#: a device call's limit for one command, and a session's device time, in seconds
COMMAND_LIMIT_S, DEVICE_TIME_S = 600, 900
#: a machine's start and the transfers around a command, an allowance (the device README:
#: "a minute or more" to start; the tree travels both ways)
DEVICE_OVERHEAD_S = 180
#: why a measurement that did not run is expected to be missing, not a failure
TENSORFLOW_ABSENT = (
    "TensorFlow is not installed (the GPU machine has none, and its wheels are far over the "
    "64 MiB a device call carries)"
)


def planned(detectors: list[str], models: list[str], analyses: Sequence[tuple[str, ...]] = ()) -> list[str]:
    """The measurement groups in the order they run: a detector (and a YOLO model in half
    precision after it), then represent per model, then analyze per set of actions."""
    groups = []
    for backend in detectors:
        groups.append(backend)
        if backend.startswith("yolo"):
            groups.append(f"{backend} half=True")
    return groups + [f"represent {model}" for model in models] + [analyze_group(a) for a in analyses]


def parse_analyze(text: str) -> list[tuple[str, ...]]:
    """``--analyze``'s sets of actions: ";" between sets, "," between the actions of one,
    "all" for the four (in upstream's order); a set given twice is measured once, and ""
    measures none.

    Raises:
        ValueError: for an action upstream does not know, naming it.
    """
    analyses: list[tuple[str, ...]] = []
    for part in text.split(";"):
        names = [name.strip() for name in part.split(",") if name.strip()]
        if not names:
            continue
        actions: list[str] = []
        for name in names:
            if name == "all":
                actions += ACTIONS
            elif name in ACTIONS:
                actions.append(name)
            else:
                raise ValueError(
                    f"unknown action {name!r} in --analyze {text!r}; available: {', '.join(ACTIONS)}, "
                    "or all (sets separated by ';', actions by ',')"
                )
        chosen = tuple(dict.fromkeys(actions))  # upstream computes a repeated action once
        if chosen not in analyses:
            analyses.append(chosen)
    return analyses


def analyze_group(actions: Sequence[str]) -> str:
    return "analyze " + ",".join(actions)


def analyze_actions(group: str) -> tuple[str, ...] | None:
    """The actions of an analyze group (:func:`analyze_group`), or None for another group."""
    return tuple(group.removeprefix("analyze ").split(",")) if group.startswith("analyze ") else None


def group_seconds(cost: dict, n: int, batch_sizes: list[int], repeats: int) -> float:
    """How long one group takes at these sizes, at the costs measured per image: loading
    and warming up, upstream's loop (none for half precision, which reuses upstream's
    results), and per batch size a warm-up batch and the timed runs."""
    ours = {int(b): seconds for b, seconds in cost["ours_s"].items()}

    def per_image(batch_size: int) -> float:  # the measured batch size nearest below
        below = [b for b in ours if b <= batch_size]
        return ours[max(below)] if below else ours[min(ours)]

    total = cost["load_s"] + cost.get("upstream_s", 0.0) * n * repeats
    for batch_size in batch_sizes:
        total += per_image(batch_size) * (min(batch_size, n) + n * repeats)
    return total


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds:.0f} s ({seconds / 60:.1f} min)"
    return f"{seconds:.0f} s ({seconds / 3600:.1f} h)"


def estimate_lines(
    costs: dict | None, n: int, batch_sizes: list[int], repeats: int, groups: list[str], budget: float
) -> list[str]:
    """How long a run of these sizes takes, from the costs a rehearsal measured: per part,
    the upper bound, what ``--budget`` caps it to, and whether it fits a device call."""
    sizes = f"N={n}, batch sizes {','.join(map(str, batch_sizes))}, {repeats} timed run{'s' if repeats != 1 else ''}"
    if costs is None:
        lines = [
            f"estimate at {sizes}: no rehearsal measured it (benchmarks/gpu/rehearse stages the wheels with its costs)"
        ]
        total = None
    else:
        lines = [
            f"estimate at {sizes}, from the rehearsal of {costs['measured']} ({costs['engine']} engine, no GPU, "
            f"{costs['machine']}): its times on the CPU, an upper bound for a machine with 16 cores and a GPU"
        ]
        parts: list[tuple[str, float | None]] = [
            ("install from the wheelhouse", costs.get("install_s")),
            ("start: imports, planting, calibration", costs["start_s"]),
        ]
        for group in groups:
            cost = costs["groups"].get(group)
            parts.append((group, group_seconds(cost, n, batch_sizes, repeats) if cost and cost["ours_s"] else None))
        for name, seconds in parts:
            lines.append(
                f"  {name:<40} " + (_duration(seconds) if seconds is not None else "not measured by the rehearsal")
            )
        total = sum(seconds for _, seconds in parts if seconds is not None)
        lines.append(f"  {'upper bound':<40} {_duration(total)}")
    install = (costs or {}).get("install_s") or 0.0
    if budget and (total is None or total > install + budget):
        total = install + budget
        lines.append(
            f"  --budget {budget:g} s caps bench_gpu.py: each step times fewer runs rather than pass its share, "
            f"and what the budget does not reach is reported as not measured; the run ends about {_duration(total)} "
            "after it starts (a step already begun finishes one timed run)"
        )
    if total is not None:
        fits_call = "fits" if total <= COMMAND_LIMIT_S else "does NOT fit"
        fits_lease = "fits" if total + DEVICE_OVERHEAD_S <= DEVICE_TIME_S else "does NOT fit"
        lines.append(
            f"  {fits_call} a {COMMAND_LIMIT_S // 60}-minute command; with a machine's start and the transfers "
            f"(about {DEVICE_OVERHEAD_S // 60} minutes) it {fits_lease} {DEVICE_TIME_S // 60} minutes of device time"
        )
    return lines


def read_costs(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def outcome_lines(state: dict) -> tuple[list[str], int]:
    """Each group's outcome (measured, skipped as expected, not reached by the budget, or
    failed) and the rows outside their declared tolerance; returns the lines and the
    number of failures."""
    lines, failures = [], 0
    for group, (kind, reason) in state["outcomes"].items():
        failures += kind == "failed"
        text = {"measured": "measured", "expected": "skipped, expected", "budget": "not reached", "failed": "FAILED"}[
            kind
        ]
        lines.append(f"  {group:<22} {text}" + (f": {reason}" if reason else ""))
    outside = [r for r in state["detector_rows"] if "skipped" not in r and not r["within"]]
    for r in outside:
        lines.append(
            f"  {r['backend']} batch {r['batch_size']}: outside its declared tolerance (a result, not a failure)"
        )
    for r in state["analyze_rows"]:
        if "skipped" not in r and r["outside"]:
            lines.append(
                f"  analyze {r['actions']} batch {r['batch_size']}: {r['outside']} face"
                f"{'s' if r['outside'] != 1 else ''} outside the engine's declared tolerance (a result, not a failure)"
            )
    return lines, failures


# -- main -------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cpu", action="store_true", help="the dry run: CPU only, tiny sizes")
    parser.add_argument("--n", type=int, help="frames (default 128; 8 with --cpu)")
    parser.add_argument("--batch-sizes", help="default 1,8,32,64; 1,4 with --cpu")
    parser.add_argument("--repeats", type=int, help="timed runs per measurement, the median kept (3; 1 with --cpu)")
    parser.add_argument("--detectors", default=DETECTORS)
    parser.add_argument("--models", default=MODELS)
    parser.add_argument(
        "--represent-detector", default=TARGET_DETECTOR, help="the detector of the represent and analyze rows"
    )
    parser.add_argument(
        "--analyze",
        default=ANALYZE,
        help=f"the analyze rows: sets of actions, ';' between sets, ',' between actions, 'all' for the four "
        f"(default {ANALYZE!r}; '' for none)",
    )
    parser.add_argument("--engine", default="auto", choices=["auto", "onnx", "pytorch", "tensorflow"])
    parser.add_argument(
        "--budget",
        type=float,
        help=f"seconds for the whole benchmark, shared evenly by what is left to measure (default {GPU_BUDGET_S:g}; "
        "none with --cpu; 0: none)",
    )
    parser.add_argument(
        "--gpu-passes",
        action="store_true",
        help="detectors take the passes they take on a GPU (a same-shape group, or retinaface's 4 images), "
        "so that a rehearsal on the CPU runs the stacks a GPU run makes",
    )
    parser.add_argument(
        "--strict", action="store_true", help="exit 1 when a measurement fails instead of only reporting it"
    )
    parser.add_argument("--costs", help="write what each measurement cost (JSON) here, for the estimate")
    parser.add_argument("--installed-in", type=float, help="seconds the install took (benchmarks/gpu/run passes it)")
    parser.add_argument(
        "--estimate",
        action="store_true",
        help=f"print how long a run of these sizes takes, from --rehearsal (default {REHEARSAL_COSTS.parent.name}/"
        f"{REHEARSAL_COSTS.name}), and exit",
    )
    parser.add_argument("--rehearsal", default=str(REHEARSAL_COSTS), help="the costs a rehearsal measured")
    parser.add_argument("--out", help="the Markdown report (appended to a file that exists)")
    parser.add_argument("--command", help="the command to name in the report (benchmarks/gpu/run passes its own)")
    args = parser.parse_args()
    args.n = args.n or (8 if args.cpu else 128)
    args.repeats = args.repeats or (1 if args.cpu else 3)
    args.batch_sizes = [int(b) for b in (args.batch_sizes or ("1,4" if args.cpu else "1,8,32,64")).split(",")]
    if args.budget is None:
        args.budget = 0.0 if args.cpu else GPU_BUDGET_S
    args.detectors = [d for d in args.detectors.split(",") if d]
    args.models = [m for m in args.models.split(",") if m]
    try:
        args.analyze = parse_analyze(args.analyze)
    except ValueError as err:
        parser.error(str(err))
    return args


def use_gpu_passes() -> None:
    """Every grouped plugin takes the passes it takes on a GPU, wherever it runs."""
    from deepface_batch.plugin import GroupedPlugin

    GroupedPlugin.images_per_pass = property(lambda self: self._images_per_pass or self.gpu_images_per_pass)


def main() -> int:
    args = parse_args()
    batch_sizes, detectors, models, analyses = args.batch_sizes, args.detectors, args.models, args.analyze
    groups = planned(detectors, models, analyses)
    if args.estimate:
        print(
            "\n".join(
                estimate_lines(read_costs(Path(args.rehearsal)), args.n, batch_sizes, args.repeats, groups, args.budget)
            )
        )
        return 0
    if args.cpu:
        os.environ["CUDA_VISIBLE_DEVICES"] = ""  # nothing on a GPU, wherever the dry run runs
    clock = time.perf_counter()
    deadline = clock + args.budget if args.budget else math.inf
    started = dt.datetime.now(dt.timezone.utc)
    out = (
        Path(args.out)
        if args.out
        else Path(tempfile.gettempdir()) / f"{started:%Y-%m-%d}-gpu{'-dry' if args.cpu else ''}.md"
    )
    out.parent.mkdir(parents=True, exist_ok=True)

    os.environ.setdefault("YOLO_OFFLINE", "true")
    os.environ.setdefault("TF_FORCE_GPU_ALLOW_GROWTH", "true")  # leave torch its GPU memory
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    notes: list[str] = []
    engine, engine_why = choose_engine(args.engine)
    os.environ["DEEPFACE_BACKEND_ENGINE"] = engine
    if engine == "onnx":
        preload_cuda_for_onnxruntime(notes)
    weights_source = ensure_home()

    shown, skip = [], False
    for arg in sys.argv[1:]:  # the command line without what names the caller
        if skip or arg.startswith(("--command=", "--installed-in=")):
            skip = False
            continue
        skip = arg in ("--command", "--installed-in")
        if not skip:
            shown.append(shlex.quote(arg))
    python_command = " ".join(["python benchmarks/gpu/bench_gpu.py", *shown])
    state: dict[str, Any] = {
        "args": args,
        "n": args.n,
        "out": out,
        "existing": out.read_text(encoding="utf-8") if out.exists() else "",
        "started": started,
        "command": args.command or python_command,
        "python_command": python_command,
        "engine": engine,
        "engine_why": engine_why,
        "weights_source": weights_source,
        "planted": set(),
        "real": set(),
        "cannot_plant": {},
        "upstream": {},
        "detector_rows": [],
        "represent_rows": [],
        "analyze_rows": [],
        "attribute_models": [],
        "notes": notes,
        "threshold": None,
        "elapsed": None,
        "done": False,
        "on_gpu": (not args.cpu) and torch_cuda(),
        "machine": f"{platform.node() or 'unknown host'}",
        "devices": [],
        "costs": {},
        "outcomes": {},
    }
    if args.gpu_passes:
        use_gpu_passes()
        notes.append(
            "--gpu-passes: each detector took the passes it takes on a GPU (a whole same-shape group; "
            "retinaface 4 images), so the stacks of a GPU run ran here."
        )
    state["attribute_models"] = attribute_models(analyses) if analyses else []
    plant(sorted(set(detectors) | {args.represent_detector}), models, engine, state, state["attribute_models"])
    for name, why in state["cannot_plant"].items():
        notes.append(f"{name}: no weights planted ({why}).")
    state["machine"] = machine()
    state["devices"] = device_summary()
    if not args.cpu and not state["on_gpu"] and shutil.which("nvidia-smi"):
        notes.append(
            "nvidia-smi lists a GPU that torch does not see: the torch build's CUDA may need a newer "
            "driver (TORCH_SPEC picks another build in benchmarks/gpu/run)."
        )
    write(state)
    print(f"engine {engine} ({engine_why}); report: {out}", file=sys.stderr)

    images = frames(args.n)
    yolo_planted = [d for d in {*detectors, args.represent_detector} if d.startswith("yolo") and d in state["planted"]]
    if yolo_planted:
        import deepface_batch
        from deepface_batch import compat

        try:
            plugin = deepface_batch.get_detector(yolo_planted[0])
            plugin.prepare()
            sample = [compat.get().add_border(i, True)[0] for i in images[:8]]
            state["threshold"] = planted_threshold(plugin, sample)
            os.environ["YOLO_MIN_DETECTION_CONFIDENCE"] = f"{state['threshold']:.6f}"
        except Exception as err:  # the yolov8n rows will say what is wrong
            notes.append(f"no threshold for planted {yolo_planted[0]}: {type(err).__name__}: {err}")
    start_s = time.perf_counter() - clock

    def skip(group: str, kind: str, reason: str, row: dict) -> None:
        state["outcomes"][group] = (kind, reason)
        if group.startswith("represent "):
            rows = state["represent_rows"]
        else:
            rows = state["analyze_rows"] if analyze_actions(group) else state["detector_rows"]
        rows.append({**row, "skipped": reason, "outcome": kind})
        write(state)

    for left, group in zip(range(len(groups), 0, -1), groups):
        print(f"{group}:", file=sys.stderr)
        model = group.removeprefix("represent ") if group.startswith("represent ") else None
        actions = analyze_actions(group)
        backend = group.split()[0]
        if actions:
            row: dict[str, Any] = {"actions": ",".join(actions), "detector": args.represent_detector}
        else:
            row = {"model": model, "detector": args.represent_detector} if model else {"backend": group}
        if time.perf_counter() >= deadline:
            skip(
                group, "budget", f"the --budget of {args.budget:g} s was spent (raise --budget, or measure fewer)", row
            )
            continue
        until = share(deadline, left)
        if backend == "mtcnn" and not model:
            # TensorFlow is imported at mtcnn's turn alone, so that it touches no other row
            if importlib.util.find_spec("tensorflow") is None:
                skip(group, "expected", TENSORFLOW_ABSENT, row)
                continue
            missing = tensorflow_missing()
            if missing:
                skip(group, "failed", missing, row)
                continue
        needed = None if model else REAL_ONLY.get(backend)
        if needed and not (Path(os.environ["DEEPFACE_HOME"]) / ".deepface" / "weights" / needed).exists():
            why = (
                f"no {needed} in DEEPFACE_HOME (its real weights: ../shared/weights, "
                "$DEEPFACE_BATCH_WEIGHTS, or benchmarks/gpu/run --stage before a device call)"
            )
            skip(group, "failed", why, row)
            continue
        if group in state["cannot_plant"] or backend in state["cannot_plant"]:
            name = group if group in state["cannot_plant"] else backend
            skip(group, "failed", f"no weights planted for {name}: {state['cannot_plant'][name]}", row)
            continue
        if actions:
            # the detector and the attribute models it runs, each of which may have failed to plant
            needs = [args.represent_detector, *attribute_models([actions])]
            missing_weights = [name for name in needs if name in state["cannot_plant"]]
            if missing_weights:
                why = "; ".join(f"{name}: {state['cannot_plant'][name]}" for name in missing_weights)
                skip(group, "failed", f"no weights planted for {why}", row)
                continue
        try:
            if actions:
                state["analyze_rows"] += bench_analyze(
                    actions, args.represent_detector, images, batch_sizes, args.repeats, state, until
                )
            elif model:
                state["represent_rows"] += bench_represent(
                    model, args.represent_detector, images, batch_sizes, args.repeats, state, until
                )
            elif group.endswith(" half=True"):
                state["detector_rows"] += bench_yolo_half(backend, images, batch_sizes, args.repeats, state, until)
            else:
                state["detector_rows"] += bench_detector(backend, images, batch_sizes, args.repeats, state, until=until)
        except Exception as err:
            traceback.print_exc()
            skip(group, "failed", f"{type(err).__name__}: {err}", row)
            continue
        state["outcomes"][group] = ("measured", "")
        if not model and not actions:
            state["devices"] = device_summary()
        write(state)
        if group.endswith(" half=True") and not state["on_gpu"]:
            notes.append(
                f"{group}: on the CPU ultralytics runs in full precision whatever it "
                "is asked (its device column says fp16 where half precision ran)."
            )
        spent = time.perf_counter() - clock
        print(
            f"  {spent:.0f} s so far"
            + (f", {deadline - time.perf_counter():.0f} s of the budget left" if args.budget else ""),
            file=sys.stderr,
        )

    state["elapsed"] = time.perf_counter() - clock
    state["done"] = True
    write(state)
    print(render(state))
    print(f"report written to {out}", file=sys.stderr)
    if args.costs:
        costs = {
            "measured": f"{started:%Y-%m-%d %H:%M} UTC",
            "machine": state["machine"].split(";")[0],
            "engine": engine,
            "sizes": {"n": args.n, "batch_sizes": batch_sizes, "repeats": args.repeats},
            "install_s": args.installed_in,
            "start_s": start_s,
            "elapsed_s": state["elapsed"],
            "groups": state["costs"],
        }
        Path(args.costs).write_text(json.dumps(costs, indent=1) + "\n", encoding="utf-8")
    lines, failures = outcome_lines(state)
    print("outcome:\n" + "\n".join(lines), file=sys.stderr)
    if failures and args.strict:
        print(f"{failures} measurement{'s' if failures != 1 else ''} failed (--strict)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
