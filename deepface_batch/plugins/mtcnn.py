"""The mtcnn detector backend: upstream's detector in a loop (pseudo batching)."""

from __future__ import annotations

from deepface_batch.plugin import Requirement, UpstreamPseudoPlugin


class MtCnnPlugin(UpstreamPseudoPlugin):
    """mtcnn through upstream deepface's own detector, one image at a time."""

    name = "mtcnn"
    requires = (
        Requirement("tensorflow", "'deepface-batch[tensorflow]'"),
        Requirement("mtcnn", "'deepface-batch[tensorflow]'"),
    )
