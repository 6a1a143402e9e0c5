"""The yunet detector backend: upstream's detector in a loop (pseudo batching)."""

from __future__ import annotations

from deepface_batch.plugin import BorderAgreement, UpstreamDetectorPlugin

__all__ = ["YuNetPlugin"]


class YuNetPlugin(UpstreamDetectorPlugin):
    """yunet through upstream deepface's own detector, one image at a time."""

    name = "yunet"
    # detect_without_border=True against upstream's default, the worst of deepface's test
    # photos, small-face frames and the samples: recall 1.00; precision 0.50 on the small-face
    # frames, where the bordered copy hides half the faces from upstream; boxes within 29 px,
    # 13 % (benchmarks/results/2026-11-25-cpu-border-agreement.md); declared with a little
    # margin
    border_agreement = BorderAgreement(recall=0.95, precision=0.45, box_px=32, box_fraction=0.15)
