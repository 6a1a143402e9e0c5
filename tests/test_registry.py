"""The registry: built-ins, validation, clear errors, read-only view, entry points."""

from __future__ import annotations

import logging
import pickle
import sys
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest

import deepface_batch
from deepface_batch import (
    BatchMode,
    BatchModeError,
    DetectorPlugin,
    DetectorUnavailableError,
    PluginValidationError,
    Requirement,
    Tolerance,
    UnknownDetectorError,
    compat,
    registry,
    samples,
)
from tests.support.helpers import NotAPlugin, OpenCvEverywhere, assert_identical, upstream


def test_every_upstream_backend_has_a_plugin():
    layer = compat.get()
    assert set(layer.DETECTORS) <= set(registry.names())
    for name in layer.DETECTORS:
        plugin = registry.detectors()[name]
        assert plugin.name == name
        assert plugin.batch_mode in (BatchMode.NATIVE, BatchMode.PSEUDO)


def test_registry_view_is_read_only():
    view = registry.detectors()
    with pytest.raises(TypeError):
        view["opencv"] = OpenCvEverywhere()  # type: ignore[index]


def test_unknown_backend_names_the_available_ones():
    with pytest.raises(UnknownDetectorError) as err:
        deepface_batch.extract_faces([np.zeros((8, 8, 3), np.uint8)], detector_backend="foo")
    message = str(err.value)
    assert message.startswith("unknown detector backend 'foo'; available: opencv, ssd, ")
    assert "skip" in message


def test_missing_package_gives_the_install_command():
    class NeedsNothingThere(OpenCvEverywhere):
        name = "needs-missing"
        requires = (Requirement("no_such_module_xyz", "no-such-package-xyz"),)

    deepface_batch.register_detector(NeedsNothingThere)
    try:
        with pytest.raises(DetectorUnavailableError) as err:
            deepface_batch.extract_faces([np.zeros((8, 8, 3), np.uint8)], detector_backend="needs-missing")
        assert str(err.value) == (
            "detector backend 'needs-missing' needs the 'no_such_module_xyz' module, which is "
            "not installed; install it with: pip install no-such-package-xyz"
        )
        # the data, not only the text: what is missing and how to install it
        assert err.value.requirement == NeedsNothingThere.requires[0]
        assert err.value.requirement.install == "no-such-package-xyz"
        copy = pickle.loads(pickle.dumps(err.value))
        assert (str(copy), copy.requirement) == (str(err.value), err.value.requirement)
    finally:
        deepface_batch.unregister_detector("needs-missing")


def test_native_request_on_a_pseudo_backend_names_native_ones():
    deepface_batch.register_detector(OpenCvEverywhere)
    try:
        with pytest.raises(BatchModeError) as err:
            deepface_batch.extract_faces(
                [np.zeros((8, 8, 3), np.uint8)], detector_backend="opencv", batch_mode="native"
            )
        assert "detector backend 'opencv' batches as pseudo, not native" in str(err.value)
        assert "test-opencv" in str(err.value).split("natively:")[1]
        with pytest.raises(BatchModeError, match="batch_mode must be"):
            registry.get_detector("opencv", batch_mode="turbo")
    finally:
        deepface_batch.unregister_detector("test-opencv")


def test_clobber_is_required_to_replace():
    deepface_batch.register_detector(OpenCvEverywhere)
    try:
        with pytest.raises(ValueError, match="already registered; pass clobber=True"):
            deepface_batch.register_detector(OpenCvEverywhere)
        replacement = OpenCvEverywhere()
        assert deepface_batch.register_detector(replacement, clobber=True) is replacement
        assert registry.get_detector("test-opencv") is replacement
        with pytest.raises(ValueError, match="'opencv' is already registered"):
            deepface_batch.register_detector(type("X", (OpenCvEverywhere,), {"name": "opencv"}))
    finally:
        deepface_batch.unregister_detector("test-opencv")


def test_builtin_comes_back_after_unregister():
    replacement = type("Mine", (OpenCvEverywhere,), {"name": "opencv"})()
    deepface_batch.register_detector(replacement, clobber=True)
    assert registry.get_detector("opencv") is replacement
    deepface_batch.unregister_detector("opencv")
    assert type(registry.get_detector("opencv")).__name__ == "OpenCvPlugin"


class _Abstract(DetectorPlugin):
    name = "abstract"


@pytest.mark.parametrize(
    "plugin, message",
    [
        (NotAPlugin, "plugin NotAPlugin: must subclass deepface_batch.plugin.DetectorPlugin"),
        (42, "plugin int: expected a DetectorPlugin subclass or instance, got int"),
        (_Abstract, "plugin _Abstract: does not implement detect_batch"),
        (type("NoName", (OpenCvEverywhere,), {"name": ""}), "plugin NoName: 'name' must be a non-empty string"),
        (
            type("BadMode", (OpenCvEverywhere,), {"batch_mode": "native"}),
            "plugin BadMode ('test-opencv'): 'batch_mode' must be BatchMode",
        ),
        (
            type("BadTol", (OpenCvEverywhere,), {"tolerance": Tolerance(box_px=-1)}),
            "plugin BadTol ('test-opencv'): tolerance values must be >= 0, got box_px=-1",
        ),
        (
            type("BadTol2", (OpenCvEverywhere,), {"tolerance": 0.5}),
            "plugin BadTol2 ('test-opencv'): 'tolerance' must be a deepface_batch.plugin.Tolerance",
        ),
        (
            type("BadReq", (OpenCvEverywhere,), {"requires": ("torch",)}),
            "plugin BadReq ('test-opencv'): 'requires' must be a tuple of",
        ),
    ],
)
def test_validation_names_the_plugin_and_the_problem(plugin, message):
    with pytest.raises(PluginValidationError) as err:
        deepface_batch.register_detector(plugin)
    assert str(err.value).startswith(message)


def _entry_point(name: str, value: str) -> metadata.EntryPoint:
    return metadata.EntryPoint(name=name, value=value, group=registry.ENTRY_POINT_GROUP)


def test_fake_entry_points_register_and_broken_ones_are_skipped(monkeypatch, caplog):
    points = [
        _entry_point("test-opencv", "tests.support.helpers:OpenCvEverywhere"),
        _entry_point("missing", "no_such_module_xyz:Plugin"),
        _entry_point("not-a-plugin", "tests.support.helpers:NotAPlugin"),
    ]
    monkeypatch.setattr(
        registry.metadata, "entry_points", lambda group: points if group == registry.ENTRY_POINT_GROUP else []
    )
    with caplog.at_level(logging.WARNING, logger="deepface_batch.registry"):
        registry.load_entry_points(force=True)
    try:
        assert "test-opencv" in registry.names()
        assert "not-a-plugin" not in registry.names()
        assert "skipping detector plugin entry point 'missing' (no_such_module_xyz:Plugin)" in caplog.text
        assert "'not-a-plugin'" in caplog.text and "must subclass" in caplog.text
        face = samples.astronaut()
        got = deepface_batch.extract_faces([face], detector_backend="test-opencv")
        assert_identical(got[0], upstream(face))
    finally:
        deepface_batch.unregister_detector("test-opencv")


def test_installed_example_plugin_is_discovered():
    """CI installs examples/plugin-example; its entry point registers example-ssd."""
    installed = [ep for ep in metadata.entry_points(group=registry.ENTRY_POINT_GROUP) if ep.name == "example-ssd"]
    if not installed:
        pytest.skip("examples/plugin-example is not installed: pip install ./examples/plugin-example")
    registry.load_entry_points(force=True)
    plugin = registry.get_detector("example-ssd", batch_mode="native")
    assert type(plugin).__module__ == "deepface_batch_example_ssd"


# -- real distributions on disk: name clashes between entry points and built-ins ----------

_PLUGIN_CLASS = """

class {cls}(DetectorPlugin):
    name = {backend!r}
    batch_mode = BatchMode.PSEUDO

    def detect_batch(self, images):
        return [[] for _ in images]
"""


def _write_distribution(
    root: Path, dist: str, version: str, module: str, plugins: dict[str, str], extra: str = ""
) -> None:
    """Install distribution ``dist`` into ``root``: a module of plugins and its dist-info.

    Args:
        root: a folder that the test puts on sys.path.
        dist: the distribution's name, e.g. ``clash-ssd``.
        version: its version.
        module: the module holding the plugin classes.
        plugins: plugin class name -> the backend name it registers; each also gets an
            entry point named after its backend.
        extra: more lines for entry_points.txt (a broken entry point, say).
    """
    root.mkdir(parents=True, exist_ok=True)
    source = "from deepface_batch import BatchMode, DetectorPlugin\n" + "".join(
        _PLUGIN_CLASS.format(cls=cls, backend=backend) for cls, backend in plugins.items()
    )
    (root / f"{module}.py").write_text(source)
    info = root / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    lines = [f"{backend} = {module}:{cls}" for cls, backend in plugins.items()]
    (info / "entry_points.txt").write_text(f"[{registry.ENTRY_POINT_GROUP}]\n" + "\n".join(lines) + "\n" + extra)


@pytest.fixture
def restored_registry(tmp_path):
    """Put the global registry, and the modules the test wrote, back as they were."""
    with registry._lock:
        plugins = dict(registry._plugins)
        loaded = registry._entry_points_loaded
    yield
    with registry._lock:
        registry._plugins.clear()
        registry._plugins.update(plugins)
        registry._entry_points_loaded = loaded
    for name, module in list(sys.modules.items()):
        if str(tmp_path) in str(getattr(module, "__file__", None) or ""):
            del sys.modules[name]


def _registry_warnings(caplog) -> str:
    return "\n".join(
        r.getMessage() for r in caplog.records if r.name == "deepface_batch.registry" and r.levelno >= logging.WARNING
    )


def test_entry_point_clashing_with_a_builtin_keeps_the_builtin_and_warns(
    tmp_path, monkeypatch, caplog, restored_registry
):
    _write_distribution(tmp_path, "clash-ssd", "1.0", "clash_ssd_plugin", {"ClashSsd": "ssd"})
    monkeypatch.syspath_prepend(str(tmp_path))
    with caplog.at_level(logging.WARNING, logger="deepface_batch.registry"):
        registry.load_entry_points(force=True)
    assert type(registry.get_detector("ssd")).__module__ == "deepface_batch.plugins.ssd"
    warning = _registry_warnings(caplog)
    assert "clash-ssd 1.0" in warning
    assert f"deepface-batch {metadata.version('deepface-batch')}" in warning
    assert "clash_ssd_plugin:ClashSsd" in warning
    assert "deepface_batch.register_detector(ClashSsd, clobber=True)" in warning


@pytest.mark.parametrize("beta_first_on_path", [False, True])
def test_two_distributions_with_one_name_keep_the_first_and_warn(
    tmp_path, monkeypatch, caplog, restored_registry, beta_first_on_path
):
    # sys.path order must not decide: the first distribution by name wins, whatever the order
    _write_distribution(tmp_path / "a", "dup-alpha", "1.0", "dup_alpha_plugin", {"AlphaPlugin": "dup-backend"})
    _write_distribution(tmp_path / "b", "dup-beta", "2.0", "dup_beta_plugin", {"BetaPlugin": "dup-backend"})
    for folder in ["a", "b"] if beta_first_on_path else ["b", "a"]:
        monkeypatch.syspath_prepend(str(tmp_path / folder))
    with caplog.at_level(logging.WARNING, logger="deepface_batch.registry"):
        registry.load_entry_points(force=True)
    assert type(registry.get_detector("dup-backend")).__name__ == "AlphaPlugin"
    warning = _registry_warnings(caplog)
    assert "dup-alpha 1.0" in warning and "dup-beta 2.0" in warning
    assert "dup_beta_plugin:BetaPlugin" in warning
    assert "deepface_batch.register_detector(BetaPlugin, clobber=True)" in warning


def test_non_clashing_entry_point_registers_beside_a_clashing_one(tmp_path, monkeypatch, caplog, restored_registry):
    _write_distribution(
        tmp_path,
        "mixed-detectors",
        "0.3",
        "mixed_plugin",
        {"MixedSsd": "ssd", "MixedFresh": "mixed-fresh"},
        extra="mixed-broken = mixed_plugin:NoSuchClass\n",
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    with caplog.at_level(logging.WARNING, logger="deepface_batch.registry"):
        registry.load_entry_points(force=True)
        # loading again re-reads the same entry points: that is no clash with itself
        registry.load_entry_points(force=True)
    assert type(registry.get_detector("mixed-fresh")).__name__ == "MixedFresh"
    assert type(registry.get_detector("ssd")).__module__ == "deepface_batch.plugins.ssd"
    assert "mixed-broken" not in registry.names()
    warning = _registry_warnings(caplog)
    assert "skipping detector plugin entry point 'mixed-broken' (mixed_plugin:NoSuchClass)" in warning
    assert "mixed_plugin:MixedSsd" in warning
    assert "MixedFresh" not in warning and "example-ssd" not in warning


def test_explicit_clobber_still_replaces_a_builtin_an_entry_point_clashed_with(
    tmp_path, monkeypatch, caplog, restored_registry
):
    _write_distribution(tmp_path, "clash-ssd", "1.0", "clash_ssd_again", {"ClashSsd": "ssd"})
    monkeypatch.syspath_prepend(str(tmp_path))
    with caplog.at_level(logging.WARNING, logger="deepface_batch.registry"):
        registry.load_entry_points(force=True)
    assert type(registry.get_detector("ssd")).__module__ == "deepface_batch.plugins.ssd"
    # what the warning tells the user to do
    from clash_ssd_again import ClashSsd

    with pytest.raises(deepface_batch.DetectorNameTakenError) as err:
        deepface_batch.register_detector(ClashSsd)
    assert err.value.name == "ssd"
    registered = deepface_batch.register_detector(ClashSsd, clobber=True)
    assert registry.get_detector("ssd") is registered
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="deepface_batch.registry"):
        registry.load_entry_points(force=True)
    # the user asked for it: reloading entry points keeps it, and does not warn about it
    assert registry.get_detector("ssd") is registered
    assert "clash_ssd_again" not in _registry_warnings(caplog)
    deepface_batch.unregister_detector("ssd")
    assert type(registry.get_detector("ssd")).__module__ == "deepface_batch.plugins.ssd"


def test_name_clash_raises_detector_name_taken_error():
    deepface_batch.register_detector(OpenCvEverywhere)
    try:
        with pytest.raises(deepface_batch.DetectorNameTakenError) as err:
            deepface_batch.register_detector(OpenCvEverywhere)
        assert isinstance(err.value, ValueError)
        assert isinstance(err.value, deepface_batch.DeepfaceBatchError)
        assert err.value.name == "test-opencv"
        assert str(err.value) == (
            "detector backend 'test-opencv' is already registered; pass clobber=True to replace it"
        )
    finally:
        deepface_batch.unregister_detector("test-opencv")


@pytest.mark.parametrize("plugin", [NotAPlugin, 42, _Abstract])
def test_plugin_validation_error_carries_the_plugin(plugin):
    with pytest.raises(PluginValidationError) as err:
        deepface_batch.register_detector(plugin)
    assert err.value.plugin is plugin


def test_registered_puts_back_what_was_there():
    """``registered`` replaces for the block only: a built-in, a plugin registered in code
    and a free name each come back as they were, also when the block raises."""
    builtin = registry.get_detector("opencv")

    class Replacement(OpenCvEverywhere):
        name = "opencv"

    with registry.registered(Replacement) as plugin:
        assert registry.get_detector("opencv") is plugin
        assert isinstance(plugin, Replacement)
    assert registry.get_detector("opencv") is builtin

    first = deepface_batch.register_detector(OpenCvEverywhere)
    try:
        with pytest.raises(RuntimeError, match="inside"):
            with registry.registered(OpenCvEverywhere()) as second:
                assert registry.get_detector("test-opencv") is second is not first
                raise RuntimeError("inside")
        assert registry.get_detector("test-opencv") is first
    finally:
        registry.unregister_detector("test-opencv")
    with registry.registered(OpenCvEverywhere):
        assert "test-opencv" in registry.names()
    assert "test-opencv" not in registry.names()
