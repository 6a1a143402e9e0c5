"""The input path, fuzzed against upstream's single-image behaviour (issue 12).

Random batches of arrays (dtypes, shapes, channel counts, value ranges), paths and
generators that fail part-way go through ``deepface_batch.extract_faces``; each item's
entry must be what upstream's own ``extract_faces`` gives for that item alone: the same
faces, or an exception of the same class. Bounded: a fixed number of examples, no
deadline, derandomised so that CI runs the same cases every time.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import deepface_batch
from deepface_batch import InputSourceError, comparison, samples
from tests.support.helpers import upstream

DTYPES = [np.uint8, np.uint16, np.float32, np.float64, np.int32, bool]
FUZZ = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@st.composite
def arrays(draw) -> np.ndarray:
    dtype = draw(st.sampled_from(DTYPES))
    height, width = draw(st.integers(0, 24)), draw(st.integers(0, 24))
    channels = draw(st.sampled_from([None, 1, 3, 4]))
    shape = (height, width) if channels is None else (height, width, channels)
    top = draw(st.sampled_from([1.0, 255.0, 65535.0]))
    seed = draw(st.integers(0, 2**16))
    values = np.random.default_rng(seed).uniform(0, top, size=shape)
    return values.astype(dtype)


@st.composite
def face_crops(draw) -> np.ndarray:
    """A real face, so that batches also hold images with faces."""
    scale = draw(st.sampled_from([0.25, 0.5]))
    face = samples.astronaut()
    size = (int(face.shape[1] * scale), int(face.shape[0] * scale))
    import cv2

    return cv2.resize(face, size)


items = st.one_of(arrays(), face_crops(), st.just("/no/such/image.jpg"))


def _outcome(call):
    try:
        return call()
    except Exception as err:
        return err


def _same(got, want, where: str, tolerance) -> None:
    if isinstance(want, Exception):
        assert isinstance(got, type(want)), f"{where}: {got!r} where upstream raised {want!r}"
        return
    assert not isinstance(got, Exception), f"{where}: {got!r} where upstream gave {len(want)} faces"
    problems = comparison.compare_faces(got, want, tolerance, where)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("backend", ["opencv", "ssd"])
@pytest.mark.parametrize("enforce", [True, False])
def test_batches_match_upstream_item_by_item(backend, enforce):
    tolerance = deepface_batch.get_detector(backend).tolerance

    @FUZZ
    @given(batch=st.lists(items, min_size=1, max_size=5), fail_after=st.none() | st.integers(0, 5))
    def check(batch, fail_after):
        kwargs = {"detector_backend": backend, "enforce_detection": enforce}
        if fail_after is None:
            source = batch
        else:
            batch = batch[:fail_after]

            def failing():
                yield from batch
                raise OSError("the camera went away")

            source = failing()
        got = deepface_batch.extract_faces(source, batch_size=2, errors="return", **kwargs)
        if fail_after is not None:
            assert isinstance(got[-1], InputSourceError) and got[-1].index == len(batch)
            assert isinstance(got[-1].error, OSError)
            got = got[:-1]
        assert len(got) == len(batch)
        for index, item in enumerate(batch):
            want = _outcome(lambda item=item: upstream(item, **kwargs))
            _same(got[index], want, f"item {index} ({_describe(item)})", tolerance)

    check()


def _describe(item) -> str:
    if isinstance(item, np.ndarray):
        return f"{item.dtype} {item.shape}"
    return repr(item)
