"""The mtcnn detector backend (the ``mtcnn`` package, TensorFlow), batched natively.

mtcnn 1.x runs a list of images through its three stages together: P-Net once per pyramid
scale on the whole stack, R-Net and O-Net once on every candidate of every image, NMS per
image. To stack images of different sizes it pads them to the largest and shifts the
results back, which moves boxes (upstream PR #1435 needed a 20% tolerance for it). The
plugin gives it only same-shape groups, which need no padding, and maps every image's
detections as upstream maps a single image's (``regions_of`` restates deepface 0.0.103's
``MtCnnClient.detect_faces``, deepface/models/face_detection/MtCnn.py).

The plugin keeps an MTCNN of its own (upstream's shared one stays as upstream runs it) whose
networks are called as compiled TensorFlow functions rather than eagerly, layer by layer:
eager calls pay Python overhead per layer, a compiled one does not, and the detections are
the same. P-Net, the hot spot, goes further: :mod:`deepface_batch.plugins.mtcnn_pnet`
runs a whole image pyramid, the resizes and P-Net on each scale, as one graph, so the
single-threaded resizes run beside the convolutions; its proposals are bit for bit
``StagePNet``'s, and it is used only on the mtcnn release it replicates.

On a CPU a stack of frames measured slower per frame than one frame alone, so on a CPU the
plugin sends one image per pass (``images_per_pass``); with a GPU visible to TensorFlow, a
whole same-shape group goes in one pass. Measurements,
and alternatives tried and not kept (a mosaic input for P-Net, threads):
benchmarks/results/2026-11-24-cpu-yolo-mtcnn-retinaface.md.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from deepface.models.Detector import FacialAreaRegion

from deepface_batch.plugin import BorderAgreement, GroupedPlugin, Requirement, Tolerance
from deepface_batch.plugins.mtcnn_pnet import PyramidPNet, pyramid_supported

__all__ = ["MtCnnPlugin", "regions_of"]


def regions_of(detections: Any) -> list[FacialAreaRegion]:
    """Upstream's mapping of one image's mtcnn detections, step for step."""
    regions = []
    for detection in detections or []:
        x, y, w, h = detection["box"]
        # mtcnn names the eyes from the observer's side; deepface from the person's
        regions.append(
            FacialAreaRegion(
                x=x,
                y=y,
                w=w,
                h=h,
                left_eye=detection["keypoints"]["right_eye"],
                right_eye=detection["keypoints"]["left_eye"],
                confidence=detection["confidence"],
            )
        )
    return regions


class _Compiled:
    """A Keras network called through ``tf.function``: one graph per input signature,
    generalised to unknown dimensions after a few (``reduce_retracing``), so image sizes
    and candidate counts do not trace it again and again."""

    def __init__(self, model: Any) -> None:
        import tensorflow as tf

        self.model = model
        self._call = tf.function(lambda x: model(x, training=False), reduce_retracing=True)

    def __call__(self, inputs: Any) -> Any:
        return self._call(inputs)


class MtCnnPlugin(GroupedPlugin):
    """mtcnn's own batch mode, one call per same-shape group of a batch."""

    name = "mtcnn"
    requires = (
        Requirement("tensorflow", "'deepface-batch[tensorflow]'"),
        Requirement("mtcnn", "'deepface-batch[tensorflow]'"),
    )
    tolerance = Tolerance(box_px=1, landmark_px=1, confidence=1e-4)
    # detect_without_border=True against upstream's default, the worst of deepface's test
    # photos, small-face frames and the samples: recall 0.84 (upstream's extra faces are cut
    # by the image's edge), precision 1.00, boxes within 24 px, 11 %
    # (benchmarks/results/2026-11-25-cpu-border-agreement.md); declared with a little margin
    border_agreement = BorderAgreement(recall=0.75, precision=0.95, box_px=27, box_fraction=0.13)

    def __init__(self, images_per_pass: int | None = None, compiled: bool = True, pyramid: bool | None = None) -> None:
        super().__init__(images_per_pass)
        self.compiled = compiled
        # None: on where the installed mtcnn is the version PyramidPNet replicates
        self.pyramid = pyramid
        self._mtcnn: Any = None

    def on_gpu(self) -> bool:
        import tensorflow as tf

        return bool(tf.config.list_physical_devices("GPU"))

    def prepare(self) -> None:
        super().prepare()
        if self._mtcnn is None:
            self._mtcnn = self._build()

    def _build(self) -> Any:
        """An MTCNN as upstream builds it, its networks compiled when ``compiled``."""
        import warnings

        from mtcnn import MTCNN

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)
            mtcnn = MTCNN()
        pyramid = pyramid_supported() if self.pyramid is None else self.pyramid
        if pyramid:
            # the pyramid graph compiles P-Net itself, with its resizes
            mtcnn._stages[0] = PyramidPNet(mtcnn.stages[0])
        if self.compiled:
            for stage in mtcnn.stages[1 if pyramid else 0 :]:
                stage._model = _Compiled(stage._model)
        return mtcnn

    def _detect_group(self, images: list[np.ndarray]) -> list[list[FacialAreaRegion]]:
        self.prepare()
        # upstream hands mtcnn the BGR image reversed to RGB, as a view
        detections = self._mtcnn.detect_faces([image[:, :, ::-1] for image in images])
        if len(detections) != len(images):
            raise RuntimeError(f"mtcnn returned {len(detections)} results for {len(images)} images")
        return [regions_of(found) for found in detections]
