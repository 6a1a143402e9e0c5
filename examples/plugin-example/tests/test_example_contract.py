"""The example plugin passes deepface-batch's contract suite: fixtures only."""

import pytest
from deepface_batch_example_ssd import BatchedSsdPlugin

from deepface_batch.testing import DetectorContract


class TestBatchedSsd(DetectorContract):
    @pytest.fixture(scope="class")
    @classmethod
    def plugin(cls):
        plugin = BatchedSsdPlugin()
        plugin.prepare()
        return plugin
