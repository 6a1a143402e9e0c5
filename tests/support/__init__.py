"""What the test modules and the benchmarks share, imported as ``tests.support.<module>``.

* ``paths``: the checkout, and the one place that finds the real weights folder.
* ``environment``: the test session's DEEPFACE_HOME, network guard and weight helpers; a
  pytest plugin (``-p tests.support.environment`` in pyproject.toml's addopts).
* ``planting``: seeded weights of the real architectures, where no real ones are here.
* ``helpers``: small helpers of the test modules.
* ``photos``: deepface's test photos committed in tests/data, and small-face frames of them.
"""
