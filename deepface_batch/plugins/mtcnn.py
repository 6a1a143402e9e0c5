"""The mtcnn detector backend (the ``mtcnn`` package, TensorFlow), batched natively.

mtcnn 1.x runs a list of images through its three stages together: P-Net once per pyramid
scale on the whole stack, R-Net and O-Net once on every candidate of every image, NMS per
image. To stack images of different sizes it pads them to the largest and shifts the
results back, which moves boxes (upstream PR #1435 needed a 20% tolerance for it). The
plugin gives it only same-shape groups, which need no padding, and maps every image's
detections as upstream maps a single image's.

The plugin keeps an MTCNN of its own (upstream's shared one stays as upstream runs it) whose
three networks are called as compiled TensorFlow functions rather than eagerly, layer by
layer: on a 2-core CPU that alone takes a 1280 x 960 frame from about 0.55 s to 0.35 s,
with the same detections.

On a CPU a stack costs more than it saves (measured on 2 cores, compiled: one 1280 x 960
frame per pass 0.34 s, two per pass 0.9 s per frame, eight 1.5 s), so on a CPU the plugin
sends one image per pass (``images_per_pass``); with a GPU visible to TensorFlow, a whole
same-shape group goes in one pass.

P-Net, the hot spot, runs a whole image pyramid in one compiled call (``_PyramidPNet``):
the area resize to every scale and P-Net on each scale form one graph, so TensorFlow runs
the resizes, which are single-threaded, beside the convolutions instead of eagerly one
after another. Its outputs are bit for bit upstream's, and the proposals are then
decoded by mtcnn's own functions, step for step as ``StagePNet`` decodes them. Measured
on 2 cores, 1280 x 960 (a bordered 640 x 480 frame): P-Net with its resizes from about
0.27 s to 0.23 s per image. Packing the scaled images into one mosaic input, so that
P-Net runs once on one tensor (masking the seams before its 'same' max-pool keeps the
results within 2.4e-7), measured 2.4 times slower on this CPU and was not kept.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from deepface.models.Detector import FacialAreaRegion

from deepface_batch.plugin import GroupedPlugin, Requirement, Tolerance


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


class _PyramidPNet:
    """mtcnn 1.0's ``StagePNet`` with its pyramid in one compiled call.

    ``__call__`` is ``StagePNet.__call__`` step for step, except step 2 and 3 (resize to
    each scale, P-Net on each), which run as one ``tf.function`` per number of scales. The
    scaled sizes are computed as ``tf.image.resize`` computes them from mtcnn's float
    sizes (truncated to int32), and passed as a tensor, so images of other sizes with the
    same number of scales reuse the graph.
    """

    def __init__(self, stage: Any) -> None:
        self._stage = stage
        self._graphs: dict[tuple[int, Any], Any] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stage, name)

    def _graph(self, count: int, dtype: Any) -> Any:
        import tensorflow as tf

        key = (count, dtype)
        if key not in self._graphs:
            model = self._stage._model  # pylint: disable=protected-access
            signature = [
                tf.TensorSpec([None, None, None, 3], dtype),
                tf.TensorSpec([count, 2], tf.int32),
            ]

            def pyramid(images: Any, sizes: Any) -> list[Any]:
                outputs = []
                for index in range(count):
                    scaled = tf.image.resize(images, sizes[index], method=tf.image.ResizeMethod.AREA)
                    outputs.extend(model(scaled, training=False))
                return outputs

            self._graphs[key] = tf.function(pyramid, input_signature=signature)
        return self._graphs[key]

    def __call__(  # pylint: disable=too-many-arguments
        self,
        images_normalized: Any,
        images_oshapes: Any,
        min_face_size: int = 20,
        min_size: int = 12,  # pylint: disable=unused-argument
        scale_factor: float = 0.709,
        threshold_pnet: float = 0.6,
        nms_pnet1: float = 0.5,
        nms_pnet2: float = 0.7,
        **kwargs: Any,
    ) -> Any:
        import tensorflow as tf
        from mtcnn.utils.bboxes import (
            generate_bounding_box,
            resize_to_square,
            smart_nms_from_bboxes,
            upscale_bboxes,
        )
        from mtcnn.utils.images import build_scale_pyramid

        # 1. as upstream (which does not hand min_size on either)
        scales_groups = [
            build_scale_pyramid(shape[1], shape[0], min_face_size=min_face_size, scale_factor=scale_factor)
            for shape in images_oshapes
        ]
        # 2-3. apply_scales' choice of scales, then resize and P-Net in one call
        scales_index = scales_groups[int(np.argmax([group.shape[0] for group in scales_groups]))]
        batch_size = images_normalized.shape[0]
        pnet_result = []
        if len(scales_index):
            shape = np.asarray(images_normalized.shape[-3:-1])
            sizes = np.stack([tf.convert_to_tensor(shape * scale, tf.int32).numpy() for scale in scales_index])
            images = tf.convert_to_tensor(images_normalized)
            outputs = self._graph(len(sizes), images.dtype)(images, sizes)
            pnet_result = [(outputs[2 * index], outputs[2 * index + 1]) for index in range(len(sizes))]
        # 4-7. as upstream
        bboxes_proposals = [generate_bounding_box(result[0], result[1], threshold_pnet) for result in pnet_result]
        bboxes_batch_upscaled = [
            upscale_bboxes(bbox, np.asarray([scale] * batch_size))
            for bbox, scale in zip(bboxes_proposals, scales_index)
        ]
        bboxes_nms = [
            smart_nms_from_bboxes(b, threshold=nms_pnet1, method="union", initial_sort=False)
            for b in bboxes_batch_upscaled
        ]
        bboxes_batch = np.concatenate(bboxes_nms, axis=0) if len(bboxes_nms) > 0 else np.empty((0, 6))
        bboxes_batch = smart_nms_from_bboxes(bboxes_batch, threshold=nms_pnet2, method="union", initial_sort=True)
        return resize_to_square(bboxes_batch)


def _pyramid_supported() -> bool:
    """Whether the installed mtcnn's P-Net stage is the one ``_PyramidPNet`` replicates."""
    try:
        from mtcnn import metadata
    except ImportError:
        return False
    return str(getattr(metadata, "__version__", "")).startswith("1.0.")


class MtCnnPlugin(GroupedPlugin):
    """mtcnn's own batch mode, one call per same-shape group of a batch."""

    name = "mtcnn"
    requires = (
        Requirement("tensorflow", "'deepface-batch[tensorflow]'"),
        Requirement("mtcnn", "'deepface-batch[tensorflow]'"),
    )
    tolerance = Tolerance(box_px=1, landmark_px=1, confidence=1e-4)

    def __init__(
        self, images_per_pass: int | None = None, compiled: bool = True, pyramid: bool | None = None
    ) -> None:
        super().__init__(images_per_pass)
        self.compiled = compiled
        # None: on where the installed mtcnn is the version _PyramidPNet replicates
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
        pyramid = _pyramid_supported() if self.pyramid is None else self.pyramid
        if pyramid:
            # the pyramid graph compiles P-Net itself, with its resizes
            mtcnn._stages[0] = _PyramidPNet(mtcnn.stages[0])  # pylint: disable=protected-access
        if self.compiled:
            for stage in mtcnn.stages[1 if pyramid else 0 :]:
                stage._model = _Compiled(stage._model)  # pylint: disable=protected-access
        return mtcnn

    def _detect_group(self, images: list[np.ndarray]) -> list[list[FacialAreaRegion]]:
        self.prepare()
        # upstream hands mtcnn the BGR image reversed to RGB, as a view
        detections = self._mtcnn.detect_faces([image[:, :, ::-1] for image in images])
        if len(detections) != len(images):
            raise RuntimeError(f"mtcnn returned {len(detections)} results for {len(images)} images")
        return [regions_of(found) for found in detections]
