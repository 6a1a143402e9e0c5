"""Recognition models on stacks of faces: the fastest correct call per engine.

Upstream's ``represent`` preprocesses every face and calls ``client.forward`` on them. An
:class:`Embedder` does the same on a stack of at most ``batch_size`` faces at a time, and
picks the call by what the client is:

* **Keras** (the tensorflow engine): upstream calls the model eagerly for one face (Python
  overhead layer by layer, on every call) and ``predict_on_batch`` for more. The embedder
  wraps the model in one ``tf.function`` whose input signature leaves the batch dimension
  free, so every stack size shares one trace and nothing retraces (and the Python
  overhead is paid once per stack). What upstream does after the network is restated
  (``_keras_post``, ``_rows``: ``FacialRecognition.forward`` in
  deepface/models/FacialRecognition.py, and VGG-Face's L2 normalisation in
  deepface/models/facial_recognition/tf/VGGFace.py, deepface 0.0.103, ``VGGFace.py`` at
  the top of ``facial_recognition/`` in 0.0.100 and 0.0.101, the same code); a client that
  overrides ``forward`` in a way this module does not know goes through its own
  ``forward`` instead. Measurements: benchmarks/results/2026-11-24-cpu-represent.md.
* **onnxruntime** and **pytorch**: ``forward`` on a stack is already one session run or
  one forward pass, so the embedder calls it. An onnx graph exported with a fixed batch
  of 1 (SFace's) is run one face at a time, as upstream runs it.
* **Dlib**: ``compute_face_descriptor`` takes a list of faces natively. Its ``forward``
  decides on the whole stack whether to scale it by 255 (``img.max() <= 1``), so faces
  are stacked only with faces on which that test gives the answer it gives for each of
  them alone, or, given each face's image key (:meth:`Embedder.stack_key`), the answer
  upstream's one call on that image's faces gives (:class:`GroupedEmbedder`).
* **Buffalo_L** (insightface): upstream loops over the faces; so does the embedder.

A face's embedding must not depend on the faces stacked with it: every ``forward`` and
``predict`` of deepface 0.0.100 to 0.0.103 was read for steps that look at the whole
stack, and :data:`_PER_FACE_METHODS` lists those found to work face by face. Dlib's scaling test is the only
one that looks at the stack's values; a client whose ``forward`` or ``predict`` is not
known here runs one face per call (:class:`LoopEmbedder`), as it cannot be mixed up.

Each embedding matches upstream's single-image embedding within :data:`TOLERANCE` (a
batched matrix product may sum in another order than a single-image one).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from deepface_batch import compat, weights
from deepface_batch.plugin import BatchMode

__all__ = [
    "TOLERANCE",
    "Embedder",
    "EmbeddingTolerance",
    "GroupedEmbedder",
    "KerasEmbedder",
    "LoopEmbedder",
    "get_embedder",
    "make_embedder",
    "per_face_methods",
]


@dataclass(frozen=True)
class EmbeddingTolerance:
    """How far a batched embedding may be from upstream's single-image one.

    ``relative``: the largest absolute difference of any component, divided by the
    largest absolute component of upstream's embedding.
    """

    relative: float

    def deviation(self, ours: Any, reference: Any) -> float:
        ours_arr = np.asarray(ours, dtype=np.float64)
        ref_arr = np.asarray(reference, dtype=np.float64)
        if ours_arr.shape != ref_arr.shape:
            return float("inf")
        defined = np.isfinite(ref_arr)
        if not defined.all():
            # upstream's embedding of NaN input (0.0.100 and 0.0.101's "Facenet"
            # normalisation of a flat face divides by a zero deviation): which outputs stay
            # NaN depends on the kernels (tf.function's fused ones give finite values), so
            # only the finite ones are compared, and ours must be finite where they are
            if not np.isfinite(ours_arr[defined]).all():
                return float("inf")
            ours_arr, ref_arr = ours_arr[defined], ref_arr[defined]
        elif not np.isfinite(ours_arr).all():
            return float("inf")
        scale = max(float(np.abs(ref_arr).max(initial=0.0)), 1e-12)
        return float(np.abs(ours_arr - ref_arr).max(initial=0.0)) / scale

    def holds(self, ours: Any, reference: Any) -> bool:
        return self.deviation(ours, reference) <= self.relative


#: per engine, measured with tests/test_represent.py (largest seen, then a 10x margin):
#: tensorflow's compiled call on a stack vs its eager call on one face differ in the last
#: bits of float32 sums; onnxruntime and pytorch stay within a few float32 ulps.
TOLERANCE: dict[str, EmbeddingTolerance] = {
    "tensorflow": EmbeddingTolerance(relative=1e-4),
    "pytorch": EmbeddingTolerance(relative=1e-5),
    "onnx": EmbeddingTolerance(relative=1e-5),
    "any": EmbeddingTolerance(relative=1e-5),
}


def _rows(out: Any, count: int) -> list[list[float]]:
    """``forward``'s answer as one list per face (it flattens a stack of one)."""
    return [out] if count == 1 else list(out)


class Embedder:
    """A recognition client called on stacks of preprocessed faces."""

    #: how the client runs a stack: natively (one call per stack) or in a loop
    mode = BatchMode.NATIVE

    def __init__(self, model_name: str, client: Any) -> None:
        self.model_name = model_name
        self.client = client
        self.input_shape: tuple[int, int] = client.input_shape

    @property
    def engine(self) -> str:
        """What runs the client's network: ``tensorflow`` (a Keras model, wherever the
        release keeps the client), ``pytorch``, ``onnx``, or ``any`` (Dlib, OpenCV)."""
        if _is_keras(self.client):
            return "tensorflow"
        module = type(self.client).__module__
        for part, engine in ((".pytorch.", "pytorch"), (".onnx.", "onnx")):
            if part in module:
                return engine
        return "any"

    @property
    def size(self) -> int:
        """The number of components of the model's embeddings (its client's ``output_shape``)."""
        return int(self.client.output_shape)

    @property
    def tolerance(self) -> EmbeddingTolerance:
        return TOLERANCE[self.engine]

    def stack_key(self, faces: np.ndarray) -> Hashable:
        """What the client's whole-stack tests answer on ``faces`` stacked on their own.

        Upstream's ``represent`` stacks the faces of one image in one ``forward`` call, so
        a face's single-image embedding is the one it gets beside faces of equal key: the
        key of its image's stack, passed to :meth:`embed` for each of its faces, keeps
        upstream's result even where those tests couple the faces of one image. ``None``
        for clients whose ``forward`` treats each face on its own.
        """
        return None

    def embed(self, faces: np.ndarray, keys: Sequence[Hashable] | None = None) -> list[list[float]]:
        """Embeddings (Python floats, as upstream returns them) of ``(n, H, W, 3)`` faces.

        Args:
            faces: the preprocessed faces, of any number of images.
            keys: for each face, :meth:`stack_key` of all the faces of its image; by
                default each face's own, as if its image had that face only.
        """
        return _rows(self.client.forward(faces), faces.shape[0])

    def embed_exact(self, faces: np.ndarray) -> list[list[float]]:
        """Upstream's own ``forward`` on the faces of one image, as its ``represent`` calls it."""
        return _rows(self.client.forward(faces), faces.shape[0])


class LoopEmbedder(Embedder):
    """One face per call, for clients that cannot take a stack."""

    mode = BatchMode.PSEUDO

    def embed(self, faces: np.ndarray, keys: Sequence[Hashable] | None = None) -> list[list[float]]:
        return [self.client.forward(faces[i : i + 1]) for i in range(faces.shape[0])]


class GroupedEmbedder(Embedder):
    """Stacks of faces on which the client's whole-stack test agrees, one call per stack.

    Some ``forward`` methods test the whole stack and treat every face by the answer
    (Dlib's ``img.max() <= 1``), so one odd face would change its stack-mates'
    embeddings. ``key`` gives, for one face, the answer that test gives on that face
    alone; faces with equal keys go to the client together, and the test on their stack
    gives each of them its own answer.
    """

    def __init__(self, model_name: str, client: Any, key: Callable[[np.ndarray], Hashable]) -> None:
        super().__init__(model_name, client)
        self._key = key

    def stack_key(self, faces: np.ndarray) -> Hashable:
        return self._key(faces)

    def embed(self, faces: np.ndarray, keys: Sequence[Hashable] | None = None) -> list[list[float]]:
        if keys is None:
            keys = [self._key(faces[i : i + 1]) for i in range(faces.shape[0])]
        if len(keys) != faces.shape[0]:
            raise ValueError(f"{len(keys)} keys for {faces.shape[0]} faces")
        groups: dict[Hashable, list[int]] = {}
        for i, key in enumerate(keys):
            groups.setdefault(key, []).append(i)
        if len(groups) <= 1:
            return super().embed(faces)
        rows: list[list[float]] = [[] for _ in range(faces.shape[0])]
        for members in groups.values():
            for i, row in zip(members, super().embed(faces[members])):
                rows[i] = row
        return rows


def _dlib_scales(face: np.ndarray) -> bool:
    """Whether Dlib's ``forward`` scales ``face`` (one face, or a stack) by 255.

    The test of ``DlibClient.forward`` (deepface 0.0.103, dlib/Dlib.py line 48). A stack
    of faces that all pass it passes it, and one of faces that all fail it fails it (a
    NaN maximum fails, for a face as for its stack), so grouping by it is exact.
    """
    return bool(face.max() <= 1)


class KerasEmbedder(Embedder):
    """A Keras model through one compiled ``tf.function`` for every stack size."""

    def __init__(self, model_name: str, client: Any, post: Callable[[np.ndarray], Any]) -> None:
        super().__init__(model_name, client)
        import tensorflow as tf

        model = client.model
        height, width = model.input_shape[1:3]
        spec = tf.TensorSpec([None, height, width, model.input_shape[3]], tf.float32)
        self._call = tf.function(lambda x: model(x, training=False), input_signature=[spec])
        self._post = post
        self._tf = tf

    def embed(self, faces: np.ndarray, keys: Sequence[Hashable] | None = None) -> list[list[float]]:
        out = self._call(self._tf.constant(faces, dtype=self._tf.float32)).numpy()
        return self._post(out)


def _keras_post(model_name: str, client: Any) -> Callable[[np.ndarray], Any] | None:
    """What upstream's ``forward`` does after the network, for the clients known here."""
    layer = compat.get()
    forward = type(client).forward
    if forward is layer.FacialRecognition.forward:
        return lambda out: out.tolist()
    vgg = layer.RECOGNITION_MODULES.get("tf.VGGFace")
    if model_name == "VGG-Face" and forward.__module__ == vgg:
        return lambda out: layer.l2_normalize_rows(out.tolist())
    return None


def _is_keras(client: Any) -> bool:
    """Whether ``client`` runs a Keras model (the tensorflow engine's clients, wherever a
    release keeps them; Dlib's and SFace's models are not Keras ones)."""
    root = type(getattr(client, "model", None)).__module__.split(".")[0]
    return root in {"keras", "tf_keras", "tensorflow"}


#: ``forward`` and ``predict`` methods of deepface 0.0.100 to 0.0.103 whose result for each
#: face of a stack depends on that face alone (each was read, in each release): the onnx and
#: pytorch base classes run the stack through the network in float32 (inference mode: batch
#: norm uses its stored statistics) and VGG-Face L2-normalises row by row. Dlib's is here
#: with the key of its whole-stack test, which :class:`GroupedEmbedder` keeps per face. The
#: keys are layout-free module names; ``compat.get().RECOGNITION_MODULES`` says where the
#: installed release keeps each (a release without one has none of its methods).
_PER_FACE_METHODS: dict[tuple[str, str], Callable[[np.ndarray], Hashable] | None] = {
    ("onnx.OnnxFacialRecognition", "OnnxFacialRecognition.forward"): None,
    ("onnx.OnnxFacialRecognition", "OnnxFacialRecognition.predict"): None,
    ("onnx.VGGFace", "VggFaceClient.forward"): None,
    ("pytorch.TorchFacialRecognition", "TorchFacialRecognition.forward"): None,
    ("pytorch.TorchFacialRecognition", "TorchFacialRecognition.predict"): None,
    ("pytorch.VGGFace", "VggFaceClient.forward"): None,
    ("dlib.Dlib", "DlibClient.forward"): _dlib_scales,
}


def per_face_methods() -> dict[tuple[str, str], Callable[[np.ndarray], Hashable] | None]:
    """:data:`_PER_FACE_METHODS` keyed by the installed release's ``(module, qualname)``."""
    modules = compat.get().RECOGNITION_MODULES
    return {(modules[module], name): key for (module, name), key in _PER_FACE_METHODS.items() if module in modules}


def _known(method: Any) -> bool:
    where = (getattr(method, "__module__", ""), getattr(method, "__qualname__", ""))
    return where in per_face_methods()


def _fixed_batch_of_one(client: Any) -> bool:
    """Whether an onnx client's graph takes exactly one image per run."""
    session = getattr(client, "model", None)
    get_inputs = getattr(session, "get_inputs", None)
    if get_inputs is None:
        return False
    return get_inputs()[0].shape[0] == 1


def make_embedder(model_name: str, client: Any) -> Embedder:
    """The fastest correct embedder for an upstream recognition client."""
    if _is_keras(client):
        post = _keras_post(model_name, client)
        if post is not None:
            return KerasEmbedder(model_name, client, post)
        # an unknown forward may look at the whole stack: one face per call is safe
        return LoopEmbedder(model_name, client)
    if model_name == "SFace" or model_name == "Buffalo_L" or _fixed_batch_of_one(client):
        return LoopEmbedder(model_name, client)
    forward = type(client).forward
    predict = getattr(type(client), "predict", None)
    if not _known(forward) or (predict is not None and not _known(predict)):
        return LoopEmbedder(model_name, client)
    key = per_face_methods()[(forward.__module__, forward.__qualname__)]
    if key is not None:
        return GroupedEmbedder(model_name, client, key)
    return Embedder(model_name, client)


_cache: dict[tuple[str, int], Embedder] = {}
_lock = threading.Lock()


def get_embedder(model_name: str) -> Embedder:
    """The embedder for ``model_name`` around upstream's cached client (built once).

    Raises:
        ValueError: deepface offers no model of that name.
        WeightFileError: a weight file the model loads is not the one deepface downloads
            (checked before the build, so a damaged file is named, not a parser's error).
    """
    layer = compat.get()
    if model_name not in layer.RECOGNITION_MODELS:
        raise ValueError(f"unknown model_name {model_name!r}; deepface offers: {', '.join(layer.RECOGNITION_MODELS)}")
    # the files deepface loads for the model, checked as the detectors' are (once per file)
    files = weights.recognition_files(model_name)
    weights.verify_all(files)
    client = layer.build_recognition_model(model_name)
    weights.verify_all(files)  # the build may have downloaded them
    key = (model_name, id(client))
    with _lock:
        embedder = _cache.get(key)
        if embedder is None:
            embedder = _cache[key] = make_embedder(model_name, client)
    return embedder
