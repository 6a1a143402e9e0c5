"""Where the tests and the benchmarks find things: the checkout, and the real weights.

Imports nothing beyond the standard library: the test environment and the benchmarks read
it before deepface is imported.
"""

from __future__ import annotations

import os
from pathlib import Path

#: the repository's root folder
REPO_ROOT = Path(__file__).resolve().parents[2]
#: names a folder of real weight files in the place of ../shared/weights
WEIGHTS_ENV = "DEEPFACE_BATCH_WEIGHTS"


def shared_weights_dir() -> Path:
    """The folder of real weight files: ``$DEEPFACE_BATCH_WEIGHTS``, else ``shared/weights``
    beside the checkout (``../shared/weights``). It may not exist."""
    return Path(os.environ.get(WEIGHTS_ENV) or REPO_ROOT.parent / "shared" / "weights")
