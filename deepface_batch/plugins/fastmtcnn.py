"""The fastmtcnn detector backend: upstream's detector in a loop (pseudo batching)."""

from __future__ import annotations

from deepface_batch.plugin import Requirement, UpstreamPseudoPlugin


class FastMtCnnPlugin(UpstreamPseudoPlugin):
    """fastmtcnn through upstream deepface's own detector, one image at a time."""

    name = "fastmtcnn"
    requires = (
        Requirement("torch", "torch torchvision"),
        # facenet-pytorch pins ancient torch and numpy releases: install it without them
        Requirement("facenet_pytorch", "--no-deps facenet-pytorch"),
    )
