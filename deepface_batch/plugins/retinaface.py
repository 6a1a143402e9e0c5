"""The retinaface detector backend: upstream's detector in a loop (pseudo batching)."""

from __future__ import annotations

from deepface_batch.plugin import Requirement, UpstreamPseudoPlugin


class RetinaFacePlugin(UpstreamPseudoPlugin):
    """retinaface through upstream deepface's own detector, one image at a time."""

    name = "retinaface"
    requires = (Requirement("retinaface", "retina-face"),)
