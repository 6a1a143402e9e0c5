"""The ssd detector backend: upstream's detector in a loop (pseudo batching)."""

from __future__ import annotations

from deepface_batch.plugin import UpstreamPseudoPlugin


class SsdPlugin(UpstreamPseudoPlugin):
    """ssd through upstream deepface's own detector, one image at a time."""

    name = "ssd"

