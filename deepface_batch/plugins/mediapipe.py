"""The mediapipe detector backend: upstream's detector in a loop (pseudo batching)."""

from __future__ import annotations

from importlib import metadata

from deepface_batch.errors import DetectorUnavailableError
from deepface_batch.plugin import Requirement, UpstreamDetectorPlugin

__all__ = ["MediaPipePlugin"]

_INSTALL = "mediapipe==0.10.21 'numpy<2'"


class MediaPipePlugin(UpstreamDetectorPlugin):
    """mediapipe through upstream deepface's own detector, one image at a time."""

    name = "mediapipe"
    requires = (Requirement("mediapipe", _INSTALL),)

    def check_available(self) -> None:
        super().check_available()
        version = metadata.version("mediapipe")
        # 0.10.30 dropped mp.solutions, the API deepface 0.0.103 uses
        if tuple(int(p) for p in version.split(".")[:3] if p.isdigit()) >= (0, 10, 30):
            raise DetectorUnavailableError(
                f"detector backend 'mediapipe' needs mediapipe's solutions API, which "
                f"mediapipe {version} no longer has; install it with: pip install {_INSTALL} "
                "(in an environment of its own: it needs numpy below 2)",
                requirement=self.requires[0],
            )
