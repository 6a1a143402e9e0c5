"""The dlib detector backend: upstream's detector in a loop (pseudo batching)."""

from __future__ import annotations

from deepface_batch.plugin import Requirement, UpstreamDetectorPlugin


class DlibPlugin(UpstreamDetectorPlugin):
    """dlib through upstream deepface's own detector, one image at a time."""

    name = "dlib"
    requires = (Requirement("dlib", "dlib-bin"),)
