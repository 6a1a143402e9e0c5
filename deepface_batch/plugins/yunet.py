"""The yunet detector backend: upstream's detector in a loop (pseudo batching)."""

from __future__ import annotations

from deepface_batch.plugin import UpstreamDetectorPlugin


class YuNetPlugin(UpstreamDetectorPlugin):
    """yunet through upstream deepface's own detector, one image at a time."""

    name = "yunet"

