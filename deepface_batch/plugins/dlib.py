"""The dlib detector backend: upstream's detector in a loop (pseudo batching)."""

from __future__ import annotations

from deepface_batch.plugin import BorderAgreement, Requirement, UpstreamDetectorPlugin

__all__ = ["DlibPlugin"]


class DlibPlugin(UpstreamDetectorPlugin):
    """dlib through upstream deepface's own detector, one image at a time."""

    name = "dlib"
    requires = (Requirement("dlib", "dlib-bin"),)
    # detect_without_border=True against upstream's default, the worst of deepface's test
    # photos, small-face frames and the samples: recall 0.87, precision 0.87, boxes within 38
    # px, 21 % (benchmarks/results/2026-11-25-cpu-border-agreement.md); declared with a little
    # margin
    border_agreement = BorderAgreement(recall=0.8, precision=0.8, box_px=42, box_fraction=0.24)
