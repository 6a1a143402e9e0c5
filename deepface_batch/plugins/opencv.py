"""The opencv detector backend: upstream's detector in a loop (pseudo batching)."""

from __future__ import annotations

from deepface_batch.plugin import BorderAgreement, UpstreamDetectorPlugin

__all__ = ["OpenCvPlugin"]


class OpenCvPlugin(UpstreamDetectorPlugin):
    """opencv through upstream deepface's own detector, one image at a time."""

    name = "opencv"
    # detect_without_border=True against upstream's default, the worst of deepface's test
    # photos, small-face frames and the samples: recall 0.88, precision 0.88 (the group
    # photo: two faces cut by its edge missed, a shirt and a dress found), boxes within 36
    # px, 13 %
    # (benchmarks/results/2026-11-25-cpu-border-agreement.md); declared with a little margin
    border_agreement = BorderAgreement(recall=0.8, precision=0.8, box_px=40, box_fraction=0.15)
