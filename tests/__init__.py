"""deepface-batch's test suite: test modules here, what they share in ``tests.support``."""
