"""The opencv detector backend: upstream's detector in a loop (pseudo batching)."""

from __future__ import annotations

from deepface_batch.plugin import UpstreamDetectorPlugin


class OpenCvPlugin(UpstreamDetectorPlugin):
    """opencv through upstream deepface's own detector, one image at a time."""

    name = "opencv"

