"""``python -m deepface_batch``: the same command as ``deepface-batch`` (see :mod:`deepface_batch.cli`)."""

from __future__ import annotations

import sys

from deepface_batch.cli import main

__all__: list[str] = []

if __name__ == "__main__":
    sys.exit(main(prog="python -m deepface_batch"))
