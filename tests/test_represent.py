"""Batched represent against upstream's single-image represent, on every recognition model
deepface offers, on the engine the tests run on.

Detection runs on CenterFace (real weights, a native plugin). Dlib has real recognition weights;
the other models run on planted ones (``tests.support.environment.recognition_model``),
through upstream's own loading code.
"""

from __future__ import annotations

import numpy as np
import pytest

import deepface_batch
from deepface_batch import compat, embedding, samples
from tests.support.environment import recognition_model

MODELS = list(compat.get().RECOGNITION_MODELS)
DETECTOR = "centerface"


def upstream(img, **kwargs):
    """Upstream deepface's single-image represent, unpatched."""
    return compat.get().reference_represent(img, **kwargs)


@pytest.fixture(scope="module")
def inputs10():
    """Ten inputs: same-size frames (one, flipped, two faces, none) and mixed sizes."""
    images = samples.video_frames() + samples.mixed_images()
    assert len(images) == 9
    return images + [samples.video_frames()[2]]


def assert_same_faces(got, want, tolerance, where):
    assert len(got) == len(want), f"{where}: {len(got)} faces, upstream {len(want)}"
    for k, (a, b) in enumerate(zip(got, want)):
        assert a.keys() == b.keys(), f"{where} face {k}"
        assert a["facial_area"] == b["facial_area"], f"{where} face {k}"
        assert a["face_confidence"] == b["face_confidence"], f"{where} face {k}"
        assert isinstance(a["embedding"], list) and isinstance(a["embedding"][0], float)
        deviation = tolerance.deviation(a["embedding"], b["embedding"])
        assert deviation <= tolerance.relative, (
            f"{where} face {k}: embedding off by {deviation:.2e} (relative), tolerance {tolerance.relative:.0e}"
        )
        if "face" in b:
            assert np.array_equal(a["face"], b["face"]), f"{where} face {k}"


@pytest.mark.parametrize("model_name", MODELS)
def test_batched_matches_upstream_single_image(model_name, inputs10):
    recognition_model(model_name)
    embedder = embedding.get_embedder(model_name)
    # the two largest networks (VGG-Face, DeepFace: seconds a stack on 2 cores): the four
    # frames (one face, flipped, two, none) and two of the mixed sizes (one face, a pair)
    heavy = model_name in ("VGG-Face", "DeepFace")
    inputs = [*inputs10[:4], inputs10[4], inputs10[7]] if heavy else inputs10
    options = dict(model_name=model_name, detector_backend=DETECTOR, enforce_detection=False)
    got = deepface_batch.represent(inputs, batch_size=4, **options)
    want = [upstream(img, **options) for img in inputs]

    assert len(got) == len(inputs)
    for i, (faces, reference) in enumerate(zip(got, want)):
        assert_same_faces(faces, reference, embedder.tolerance, f"input {i}")
    # The comparison can fail: different faces are far apart next to the tolerance.
    vectors = [np.asarray(f["embedding"]) for faces in want for f in faces]
    spread = max(embedder.tolerance.deviation(v, vectors[0]) for v in vectors)
    assert spread > 5 * embedder.tolerance.relative, f"{model_name}: embeddings barely differ"
    assert len(vectors[0]) == len(got[0][0]["embedding"])


@pytest.mark.parametrize("model_name", MODELS)
def test_one_image_in_is_upstream_exactly(model_name):
    recognition_model(model_name)
    img = samples.video_frames()[2]  # two faces
    options = dict(model_name=model_name, detector_backend=DETECTOR)
    assert deepface_batch.represent(img, **options) == upstream(img, **options)


@pytest.mark.parametrize("name", [m for m in MODELS if m not in ("Dlib", "SFace", "Buffalo_L")])
def test_embedders_engine_is_the_one_running_the_network(name):
    """The engine (and so the tolerance) of a client on the engine deepface runs on, on
    every release (0.0.100 and 0.0.101 keep Keras clients outside a ``tf`` package)."""
    recognition_model(name)
    embedder = embedding.get_embedder(name)
    assert embedder.engine == compat.get().backend_engine()
    assert embedder.tolerance is embedding.TOLERANCE[compat.get().backend_engine()]


@pytest.fixture(scope="module", params=["Dlib", "Facenet"])
def model_name(request):
    recognition_model(request.param)
    return request.param


def test_embedder_calls_each_stack_once(model_name, monkeypatch, inputs10):
    """Faces go to the model batch_size at a time, not one by one."""
    embedder = embedding.get_embedder(model_name)
    sizes = []
    original = type(embedder).embed

    def embed(self, faces, keys=None):
        sizes.append(faces.shape[0])
        return original(self, faces, keys)

    monkeypatch.setattr(type(embedder), "embed", embed)
    results = deepface_batch.represent(
        inputs10,
        model_name=model_name,
        detector_backend=DETECTOR,
        enforce_detection=False,
        batch_size=4,
    )
    faces = sum(len(r) for r in results)
    assert sum(sizes) == faces and max(sizes) <= 4
    assert embedder.mode == "native" and len(sizes) < faces


@pytest.mark.parametrize(
    "options",
    [
        dict(max_faces=1),
        dict(l2_normalize=True),
        dict(minmax_normalize=True),
        dict(minmax_normalize=True, l2_normalize=True),
        dict(return_face=True),
        dict(expand_percentage=20),
        dict(normalization="Facenet"),
        dict(normalization="ArcFace"),
        dict(align=False),
    ],
    ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()),
)
def test_upstream_options_keep_working_in_batches(model_name, options, inputs10):
    embedder = embedding.get_embedder(model_name)
    common = dict(model_name=model_name, detector_backend=DETECTOR, enforce_detection=False)
    got = deepface_batch.represent(inputs10[:6], batch_size=3, **common, **options)
    for i, img in enumerate(inputs10[:6]):
        assert_same_faces(got[i], upstream(img, **common, **options), embedder.tolerance, f"input {i}")


def test_skip_detector_and_upstream_invariant(model_name, inputs10):
    """represent(img) equals represent with ``skip`` on the aligned face extract_faces gave."""
    embedder = embedding.get_embedder(model_name)
    images = inputs10[:3]
    detected = deepface_batch.represent(images, model_name=model_name, detector_backend=DETECTOR)
    faces = [
        face["face"][:, :, ::-1]  # the face in BGR, as an image is given to represent
        for per_image in deepface_batch.extract_faces(images, detector_backend=DETECTOR)
        for face in per_image
    ]
    skipped = deepface_batch.represent(faces, model_name=model_name, detector_backend="skip")
    flat = [face for per_image in detected for face in per_image]
    assert len(flat) == len(skipped)
    for ours, via_skip in zip(flat, skipped):
        assert embedder.tolerance.holds(ours["embedding"], via_skip[0]["embedding"])
    # and ``skip`` itself matches upstream's skip, quirks included (w and h swapped)
    for face, got in zip(faces, skipped):
        want = upstream(face, model_name=model_name, detector_backend="skip")
        assert_same_faces(got, want, embedder.tolerance, "skip")


def test_inputs_array_generator_and_order(model_name, inputs10):
    frames = samples.video_frames()
    options = dict(model_name=model_name, detector_backend=DETECTOR, enforce_detection=False)
    from_list = deepface_batch.represent(frames, batch_size=2, **options)
    from_array = deepface_batch.represent(np.stack(frames), batch_size=2, **options)
    from_generator = deepface_batch.represent((f for f in frames), batch_size=2, **options)
    streamed = list(deepface_batch.iter_represent(iter(frames), batch_size=3, **options))
    reversed_ = deepface_batch.represent(frames[::-1], batch_size=2, **options)
    assert from_list == from_array == from_generator
    assert [len(r) for r in streamed] == [len(r) for r in from_list] == [1, 1, 2, 1]
    for a, b in zip(streamed, from_list):
        assert [f["facial_area"] for f in a] == [f["facial_area"] for f in b]
    assert [r[0]["facial_area"] for r in reversed_[::-1]] == [r[0]["facial_area"] for r in from_list]
    assert from_list[3][0]["face_confidence"] == 0  # no face: the whole image, confidence 0


def test_errors_name_the_input(model_name):
    frames = samples.video_frames()  # frame 3 has no face
    options = dict(model_name=model_name, detector_backend=DETECTOR)
    with pytest.raises(ValueError, match=r"^item 3: Face could not be detected"):
        deepface_batch.represent(frames, batch_size=2, **options)
    with pytest.raises(Exception, match="Face could not be detected"):
        upstream(frames[3], **options)  # upstream raises for that image too
    results = deepface_batch.represent(frames + ["/no/such/image.jpg"], errors="return", **options)
    assert isinstance(results[3], ValueError) and results[3].index == 3
    assert isinstance(results[4], Exception) and results[4].index == 4
    assert all(isinstance(r, list) for r in results[:3])


def test_unknown_model_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown model_name 'FaceNot'.*VGG-Face"):
        deepface_batch.represent(samples.video_frames(), model_name="FaceNot")
    with pytest.raises(ValueError, match="batch_size must be a positive integer, got 0"):
        list(deepface_batch.iter_represent(samples.video_frames(), model_name="Dlib", batch_size=0))


def test_streaming_holds_at_most_a_batch(model_name):
    """iter_represent reads its input lazily: a batch ahead at most, never the whole stream."""
    frame = samples.video_frames()[0]
    pulled = []

    def stream():
        for i in range(40):
            pulled.append(i)
            yield frame

    results = deepface_batch.iter_represent(stream(), model_name=model_name, detector_backend=DETECTOR, batch_size=4)
    first = next(results)
    assert len(first) == 1
    assert len(pulled) <= 3 * 4, f"{len(pulled)} inputs read to give the first result"
    assert sum(1 for _ in results) == 39


def test_patched_deepface_represent(model_name, inputs10):
    from deepface import DeepFace

    embedder = embedding.get_embedder(model_name)
    options = dict(model_name=model_name, detector_backend=DETECTOR, enforce_detection=False)
    with deepface_batch.patched():
        single = DeepFace.represent(inputs10[0], **options)
        batch = DeepFace.represent(inputs10[:5], **options)
        one_in_a_list = DeepFace.represent([inputs10[2]], **options)
    assert single == upstream(inputs10[0], **options)  # bit for bit
    assert len(batch) == 5
    for i, faces in enumerate(batch):
        assert_same_faces(faces, upstream(inputs10[i], **options), embedder.tolerance, f"input {i}")
    # upstream's quirk, kept: a list of one image gives that image's list of faces
    assert isinstance(one_in_a_list[0], dict) and len(one_in_a_list) == 2
    with deepface_batch.unpatched():
        assert DeepFace.represent([inputs10[2]], **options)[0].keys() == one_in_a_list[0].keys()


def _unusual_neighbours() -> dict[str, np.ndarray]:
    """Images whose preprocessed faces fall outside the [0, 1] range a normal face has."""
    face = samples.astronaut()
    return {
        # a 16-bit image: upstream's resize divides by 255 only, leaving values up to 257
        "uint16x257": face.astype(np.uint16) * 257,
        "float01": face.astype(np.float32) / 255,
        "black": np.zeros_like(face),
    }


#: (neighbour, normalization): with "VGGFace", the black face is the odd one (its maximum
#: is below 1 where a lit face's is far above), so the neighbour itself must not shift
STACK_CASES = [
    ("uint16x257", "base"),
    ("float01", "base"),
    ("black", "base"),
    ("black", "VGGFace"),
]


@pytest.mark.parametrize("model_name", MODELS)
def test_stack_mates_do_not_change_an_embedding(model_name):
    """Each face's embedding in a stack with an unusual neighbour is its single-image one.

    Issue 12: Dlib's ``forward`` scales the whole stack by 255 when the stack's maximum is
    at most 1, so a 16-bit neighbour changed every other face of its stack. With ``skip``
    each image is one face; all three are embedded in one stack (batch_size=3) and each
    is compared with upstream's single-image represent of that image.
    """
    recognition_model(model_name)
    embedder = embedding.get_embedder(model_name)
    subjects = [samples.astronaut(), samples.mixed_images()[2]]
    neighbours = _unusual_neighbours()
    for neighbour, normalization in STACK_CASES:
        images = [subjects[0], neighbours[neighbour], subjects[1]]
        options = dict(model_name=model_name, detector_backend="skip", normalization=normalization)
        got = deepface_batch.represent(images, batch_size=3, errors="return", **options)
        for i, img in enumerate(images):
            where = f"{neighbour}/{normalization} input {i}"
            try:
                want = upstream(img, **options)
            except Exception as err:
                assert isinstance(got[i], type(err)), f"{where}: upstream raised {err!r}, got {got[i]!r}"
                continue
            assert not isinstance(got[i], Exception), f"{where}: {got[i]!r}"
            assert_same_faces(got[i], want, embedder.tolerance, where)


def test_dlib_forward_is_sensitive_to_stack_mates():
    """The cause of issue 12, in upstream itself: the test above can fail for Dlib."""
    recognition_model("Dlib")
    client = compat.get().build_recognition_model("Dlib")
    embedder = embedding.get_embedder("Dlib")
    layer = compat.get()
    faces = [
        layer.represent_input(obj, client.input_shape, "base")
        for img in (samples.astronaut(), _unusual_neighbours()["uint16x257"])
        for obj in layer.represent_skip_faces(img)
    ]
    alone = client.forward(faces[0])
    mixed = client.forward(np.concatenate(faces))[0]
    assert embedder.tolerance.deviation(mixed, alone) > 100 * embedder.tolerance.relative


def _dim_and_lit_faces() -> np.ndarray:
    """Two faces in one image, the left one dimmed: with VGG-Face's mean subtraction its
    maximum is below 1 and the lit one's far above, so Dlib's whole-stack test differs."""
    two = samples.video_frames()[2].copy()
    half = two.shape[1] // 2
    two[:, :half] = (two[:, :half] * 0.3).astype(np.uint8)
    return two


def test_dlib_faces_of_one_image_keep_upstreams_stack_with_keys():
    """``embed`` with per-image keys gives what upstream's one call per image gives.

    Upstream's represent runs all the faces of one image in one ``forward``, so Dlib's
    whole-stack test couples the faces of an image; ``stack_key`` of the image's faces,
    given for each of them, keeps that coupling and nothing more.
    """
    recognition_model("Dlib")
    embedder = embedding.get_embedder("Dlib")
    layer = compat.get()
    two = [
        layer.represent_input(obj, embedder.input_shape, "VGGFace")
        for obj in deepface_batch.extract_faces(_dim_and_lit_faces(), detector_backend=DETECTOR)
    ]
    other = [
        layer.represent_input(obj, embedder.input_shape, "VGGFace")
        for obj in layer.represent_skip_faces(samples.astronaut())
    ]
    assert len(two) == 2
    two_stack, other_stack = np.concatenate(two), np.concatenate(other)
    keys = [embedder.stack_key(two_stack)] * 2 + [embedder.stack_key(other_stack)]
    got = embedder.embed(np.concatenate([two_stack, other_stack]), keys)
    want = embedder.embed_exact(two_stack) + embedder.embed_exact(other_stack)
    for k, (ours, reference) in enumerate(zip(got, want)):
        assert embedder.tolerance.holds(ours, reference), f"face {k}"
    # the coupling is real: each face alone (the default keys) differs for one of them
    alone = embedder.embed(np.concatenate([two_stack, other_stack]))
    assert any(not embedder.tolerance.holds(a, w) for a, w in zip(alone, want))


def test_dlib_batched_multi_face_image_is_upstreams_single_image():
    recognition_model("Dlib")
    embedder = embedding.get_embedder("Dlib")
    img = _dim_and_lit_faces()
    options = dict(model_name="Dlib", detector_backend=DETECTOR, normalization="VGGFace")
    got = deepface_batch.represent([img, samples.astronaut()], **options)
    assert_same_faces(got[0], upstream(img, **options), embedder.tolerance, "two faces")


def test_tolerance_compares_where_upstreams_embedding_is_defined():
    """An embedding of NaN input (0.0.100 and 0.0.101's "Facenet" normalisation of a flat
    face) is NaN where the kernels propagate it: only upstream's finite values count, and
    ours must match them."""
    tolerance = embedding.EmbeddingTolerance(relative=1e-4)
    reference = [np.nan, 1.0, 2.0]
    assert tolerance.holds([0.5, 1.0, 2.0], reference)
    assert tolerance.holds([np.nan, 1.0, 2.0], reference)
    assert not tolerance.holds([np.nan, 1.5, 2.0], reference)
    assert tolerance.deviation([0.0, np.nan, 2.0], reference) == float("inf")
    assert tolerance.deviation([np.nan, 1.0], [1.0, 1.0]) == float("inf")
