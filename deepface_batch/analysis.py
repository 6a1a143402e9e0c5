"""Batched ``analyze``: age, gender, emotion and race on stacks of faces, across images.

Upstream's ``analyze`` loops over its inputs, detects each image on its own and calls each
attribute model on one face at a time: four model calls per face. Here the inputs stream
through in chunks of ``batch_size``:

    chunk of inputs -> batched extract_faces (the detector plugins) -> the spoof check and
    each face resized as upstream does -> each attribute model on stacks of at most
    batch_size faces of the chunk -> upstream's result dicts, one list per input

Every step but the two batched calls is upstream's own code, reached through
:mod:`deepface_batch.compat`. The models' own ``predict`` takes a stack (upstream calls it
with one face); each face's result depends on that face alone (every client's ``predict``
and network was read: no step looks across the stack), within :data:`ATTRIBUTE_TOLERANCE` of the
single-face call (a stack's sums may run in another order).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from deepface_batch import api, compat, config, inputs, pipeline
from deepface_batch.api import Entry, Errors, FaceList, with_index
from deepface_batch.plugin import BatchMode

__all__ = [
    "ATTRIBUTE_TOLERANCE",
    "AttributeTolerance",
    "analyze",
    "attributes_of",
    "check_actions",
    "iter_analyze",
    "model_lock_names",
    "prepare_actions",
]


@dataclass(frozen=True)
class AttributeTolerance:
    """How far a batched attribute may be from upstream's single-face one.

    Attributes:
        score: each score, in upstream's percentage points.
        age: years (upstream truncates the apparent age to an int: a stack's last-bit
            difference can cross a whole year).
    """

    score: float
    age: int = 1

    def problems(self, ours: dict[str, Any], reference: dict[str, Any], where: str = "face") -> list[str]:
        """Where ``ours`` (one face's analyze dict) differs from ``reference`` beyond this
        tolerance: the keys and their order, the region, the scores, the age, and the
        dominant label (which may differ only where upstream's top two scores are closer
        than the tolerance)."""
        problems = []
        if list(ours) != list(reference):
            return [f"{where}: keys {list(ours)} vs {list(reference)}"]
        for key, want in reference.items():
            got = ours[key]
            if key in ("region", "face_confidence"):
                if got != want:
                    problems.append(f"{where}: {key} {got!r} vs {want!r}")
            elif key == "age":
                if abs(got - want) > self.age:
                    problems.append(f"{where}: age {got} vs {want} (allowed {self.age})")
            elif key.startswith("dominant_"):
                scores = reference[key.removeprefix("dominant_")]
                top = sorted(scores.values(), reverse=True)
                near_tie = len(top) > 1 and top[0] - top[1] <= 2 * self.score
                if got != want and not near_tie:
                    problems.append(f"{where}: {key} {got!r} vs {want!r}")
            else:
                if list(got) != list(want):
                    problems.append(f"{where}: {key} labels {list(got)} vs {list(want)}")
                    continue
                worst = max(abs(float(got[label]) - float(want[label])) for label in want)
                if not worst <= self.score:  # a NaN fails too
                    problems.append(f"{where}: {key} scores differ by {worst:.3g} (allowed {self.score:g})")
        return problems


#: per engine, in percentage points: measured with tests/test_analyze.py on planted weights
#: (largest seen, then a margin): a stack's convolutions may sum in another order than one
#: face's (tensorflow's predict_on_batch against its eager call: 0.0023 points seen,
#: whatever the stack-mates, the same with a face stacked with itself; torch's kernels for a
#: batch: 0.0007; onnxruntime's: none seen)
ATTRIBUTE_TOLERANCE: dict[str, AttributeTolerance] = {
    "tensorflow": AttributeTolerance(score=1e-2),
    "pytorch": AttributeTolerance(score=5e-3),
    "onnx": AttributeTolerance(score=1e-3),
}


def check_actions(actions: Any) -> list[str]:
    """``actions`` as upstream reads them (a string, a tuple, a list; in order, repeats
    kept), or upstream's own error (``ValueError``, ``UnimplementedError``)."""
    return compat.get().check_actions(actions)


def prepare_actions(actions: Any) -> list[str]:
    """``actions`` checked (:func:`check_actions`), and each one's model built now, its
    weights read: an unloadable model is the call's error, not every face's."""
    checked = check_actions(actions)
    layer = compat.get()
    for action in dict.fromkeys(checked):
        layer.build_attribute_model(layer.ATTRIBUTE_MODELS[action])
    return checked


def model_lock_names(actions: Sequence[str]) -> list[str]:
    """The locks of the attribute models ``actions`` run, in one fixed order (upstream's
    action order), so that threads holding several never wait on each other."""
    layer = compat.get()
    wanted = set(actions)
    return [f"model:{layer.ATTRIBUTE_MODELS[a]}" for a in layer.ANALYZE_ACTIONS if a in wanted]


def _rows(prediction: Any, count: int) -> list[Any]:
    """``predict``'s answer as one entry per face: a stack of one comes back flattened
    (a row of scores; for Age, one number)."""
    if count == 1:
        return [prediction]
    return list(prediction)


def _predict(action: str, faces: list[np.ndarray], size: int, exact: bool) -> list[Any]:
    """One action's prediction for each face: the model on stacks of at most ``size``
    faces (``exact``: one face per call, upstream's own call)."""
    layer = compat.get()
    model_name = layer.ATTRIBUTE_MODELS[action]
    client = layer.build_attribute_model(model_name)
    per_call = 1 if exact else size
    out: list[Any] = []
    for start in range(0, len(faces), per_call):
        stack = np.concatenate(faces[start : start + per_call])
        with api.backend_lock(f"model:{model_name}"):
            out.extend(_rows(client.predict(stack), stack.shape[0]))
    return out


def attributes_of(
    img_objs_per_input: Sequence[FaceList | Exception],
    labels: Sequence[inputs.Label],
    actions: list[str],
    size: int,
    anti_spoofing: bool,
    exact: bool = False,
    keep_empty: bool = False,
    return_face: bool = False,
) -> list[list[dict[str, Any] | None] | Exception]:
    """Upstream's ``analyze`` result for each input's detected faces.

    Args:
        img_objs_per_input: each input's ``extract_faces`` result (or its error).
        labels: each input's label, for errors.
        actions: checked actions (:func:`check_actions`).
        size: faces per model call at the most.
        anti_spoofing: upstream's spoof check (a spoofed face fails its whole input).
        exact: one face per model call, as upstream calls the models.
        keep_empty: ``None`` in the place of an empty face (upstream leaves it out), so
            that the dicts line up with the faces given (represent's one pass).
        return_face: each dict also holds the face extract_faces gave (``face``), for
            crops.

    Returns:
        Per input, one dict per face (upstream's keys, in its order), or the error.
    """
    layer = compat.get()
    prepared: list[list[tuple[dict[str, Any], np.ndarray | None]] | Exception] = []
    for img_objs, label in zip(img_objs_per_input, labels):
        if isinstance(img_objs, Exception):
            prepared.append(img_objs)
            continue
        try:
            layer.check_spoof(img_objs, anti_spoofing)
            faces: list[tuple[dict[str, Any], np.ndarray | None]] = []
            for img_obj in img_objs:
                face_input = layer.analyze_input(img_obj)
                if face_input is not None or keep_empty:
                    faces.append((img_obj, face_input))
            prepared.append(faces)
        except Exception as err:
            prepared.append(with_index(err, label))
    stack = [
        face_input for entry in prepared if isinstance(entry, list) for _, face_input in entry if face_input is not None
    ]
    predictions: dict[str, list[Any]] = {}
    for action in dict.fromkeys(actions):  # a repeated action is computed once: the same model
        predictions[action] = _predict(action, stack, size, exact) if stack else []
    results: list[list[dict[str, Any] | None] | Exception] = []
    position = 0
    for entry in prepared:
        if isinstance(entry, Exception):
            results.append(entry)
            continue
        faces_out: list[dict[str, Any] | None] = []
        for img_obj, face_input in entry:
            if face_input is None:
                faces_out.append(None)
                continue
            obj = layer.analyze_entry(actions, {a: predictions[a][position] for a in predictions}, img_obj)
            if return_face:
                obj["face"] = img_obj["face"]
            faces_out.append(obj)
            position += 1
        results.append(faces_out)
    return results


def iter_analyze(
    images: Any,
    actions: Any = ("emotion", "age", "gender", "race"),
    enforce_detection: bool = True,
    detector_backend: str = config.DEFAULTS["detector_backend"].value,
    align: bool = True,
    expand_percentage: int = 0,
    silent: bool = False,
    anti_spoofing: bool = False,
    *,
    max_faces: int | None = None,
    return_face: bool = False,
    batch_size: int | None = None,
    batch_mode: BatchMode | str | None = None,
    errors: Errors = "raise",
    progress: Any = False,
    prefetch: bool = True,
    detect_without_border: bool = False,
) -> Iterator[Entry]:
    """Yield upstream's ``analyze`` result for each input, in order, batch by batch.

    Memory stays bounded by ``batch_size``: ``batch_size`` inputs are detected at once and
    each attribute model sees at most ``batch_size`` of their faces per call.

    Args:
        images: a batch (list, tuple, 4-D ``(N, H, W, 3)`` array, or any iterable, read
            lazily) of images in any form upstream takes; a single image counts as a
            batch of one.
        actions, enforce_detection, detector_backend, align, expand_percentage,
            anti_spoofing: upstream's arguments, same meaning (``actions`` checked as
            upstream checks them, at the call).
        silent: upstream's; the per-face bars it silences are not drawn here (see
            ``progress``).
        max_faces: as for ``extract_faces`` (upstream's ``analyze`` has no such argument:
            every face).
        return_face: each dict also holds its face as ``extract_faces`` gives it (``face``).
        batch_size: inputs per detector batch and faces per model call (default 32, or
            ``DEEPFACE_BATCH_SIZE``).
        batch_mode, errors, progress, prefetch, detect_without_border: as for
            :func:`deepface_batch.iter_extract_faces`.

    Yields:
        For each input, the list of dicts upstream's ``analyze`` returns for it (one per
        face: the scores, the dominant values, ``region``, ``face_confidence``), or with
        ``errors="return"`` the exception raised for it (``SpoofDetected`` for a spoofed
        face, with the item's index).
    """
    api.check_errors(errors)
    checked = prepare_actions(actions)
    size = api.batch_size_or_default(batch_size)
    single = inputs.is_single(images)
    total = 1 if single else inputs.known_length(images)
    faces = api.iter_extract_faces(
        images,
        detector_backend=detector_backend,
        enforce_detection=enforce_detection,
        align=align,
        expand_percentage=expand_percentage,
        grayscale=False,
        anti_spoofing=anti_spoofing,
        max_faces=max_faces,
        batch_size=size,
        batch_mode=batch_mode,
        errors="return",
        prefetch=prefetch,
        detect_without_border=detect_without_border,
    )

    def analyzed(chunk: list[tuple[inputs.Label, FaceList | Exception]]) -> list[Entry]:
        labels = [label for label, _ in chunk]
        # one image in (labelled None): each face through upstream's own call
        return attributes_of(  # type: ignore[return-value]  # no empty face kept: no None
            [entry for _, entry in chunk],
            labels,
            checked,
            size,
            anti_spoofing,
            exact=labels == [None],
            return_face=return_face,
        )

    bar = pipeline.Progress(progress, total, desc=f"analyze[{','.join(checked)}/{detector_backend}]")
    return api.deliver(
        (analyzed(chunk) for chunk in api.labelled_chunks(faces, single, size)),
        errors,
        bar,
    )


def analyze(
    images: Any,
    actions: Any = ("emotion", "age", "gender", "race"),
    enforce_detection: bool = True,
    detector_backend: str = config.DEFAULTS["detector_backend"].value,
    align: bool = True,
    expand_percentage: int = 0,
    silent: bool = False,
    anti_spoofing: bool = False,
    *,
    max_faces: int | None = None,
    return_face: bool = False,
    batch_size: int | None = None,
    batch_mode: BatchMode | str | None = None,
    errors: Errors = "raise",
    progress: Any = False,
    prefetch: bool = True,
    detect_without_border: bool = False,
) -> Any:  # list of dicts for one image, list[Entry] for a batch
    """Batched ``DeepFace.analyze``.

    One image in gives upstream's result for it (a list of dicts, one per face). A batch
    in (list, tuple, 4-D array or any iterable) gives a list with one entry per input, in
    input order: the list upstream's single-image ``analyze`` returns for that image, or
    with ``errors="return"`` the exception that image raised.

    Arguments are those of :func:`iter_analyze`.
    """
    results = list(
        iter_analyze(
            images,
            actions=actions,
            enforce_detection=enforce_detection,
            detector_backend=detector_backend,
            align=align,
            expand_percentage=expand_percentage,
            silent=silent,
            anti_spoofing=anti_spoofing,
            max_faces=max_faces,
            return_face=return_face,
            batch_size=batch_size,
            batch_mode=batch_mode,
            errors=errors,
            progress=progress,
            prefetch=prefetch,
            detect_without_border=detect_without_border,
        )
    )
    return results[0] if inputs.is_single(images) else results
