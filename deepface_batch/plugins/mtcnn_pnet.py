"""mtcnn's P-Net stage over an image pyramid in one compiled call: a replica of mtcnn 1.0.0.

Mirrors, step for step, the ``mtcnn`` package 1.0.0 (checked by :func:`pyramid_supported`
against ``mtcnn.metadata.__version__``):

* ``mtcnn/stages/stage_pnet.py``: ``StagePNet.__call__``, its seven numbered steps, its
  keyword arguments and defaults (``min_size`` accepted and not handed on, as upstream);
* ``mtcnn/utils/images.py``: ``apply_scales`` (the largest scale group of the stack is
  applied to every image) and ``scale_images`` (``tf.image.resize`` with ``AREA`` to
  ``shape * scale``, which TensorFlow truncates to int32);
* ``mtcnn/stages/base.py``: the network is the stage's ``_model``;
* ``mtcnn/mtcnn.py``: ``MTCNN.detect_faces`` calls ``stages[0]`` with keyword arguments
  and reads ``tf.errors.InvalidArgumentError`` (a scale too small for P-Net) as "no
  faces", so the replica raises it where the stage does.

Steps 1 and 4 to 7 call mtcnn's own functions (``build_scale_pyramid``,
``generate_bounding_box``, ``upscale_bboxes``, ``smart_nms_from_bboxes``,
``resize_to_square``); only steps 2 and 3, the resize to each scale and P-Net on it, are
restated, as one ``tf.function`` per number of scales. Why: run eagerly, the resizes
(single-threaded) and the convolutions run one after another; in one graph TensorFlow runs
them side by side. tests/test_native.py holds the proposals bit for bit to ``StagePNet``'s.
Measurements, and an alternative tried and not kept (one mosaic input for all scales):
benchmarks/results/2026-11-24-cpu-yolo-mtcnn-retinaface.md. On an mtcnn upgrade, diff
those files against 1.0.0 and update this module and the version check together.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["MIRRORED_VERSION", "PyramidPNet", "pyramid_supported"]

#: the mtcnn release whose ``StagePNet`` this module replicates (a version prefix)
MIRRORED_VERSION = "1.0."


class PyramidPNet:
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
            model = self._stage._model
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

    def __call__(
        self,
        images_normalized: Any,
        images_oshapes: Any,
        min_face_size: int = 20,
        min_size: int = 12,
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


def pyramid_supported() -> bool:
    """Whether the installed mtcnn's P-Net stage is the one :class:`PyramidPNet` replicates."""
    try:
        from mtcnn import metadata
    except ImportError:
        return False
    return str(getattr(metadata, "__version__", "")).startswith(MIRRORED_VERSION)
