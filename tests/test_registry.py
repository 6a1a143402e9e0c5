"""The registry: built-ins, validation, clear errors, read-only view, entry points."""

from __future__ import annotations

import logging
from importlib import metadata
from typing import Sequence

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
    testing,
)
from helpers import NotAPlugin, OpenCvEverywhere, assert_identical, upstream


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
        (type("BadMode", (OpenCvEverywhere,), {"batch_mode": "native"}), "plugin BadMode ('test-opencv'): 'batch_mode' must be BatchMode"),
        (type("BadTol", (OpenCvEverywhere,), {"tolerance": Tolerance(box_px=-1)}), "plugin BadTol ('test-opencv'): tolerance values must be >= 0, got box_px=-1"),
        (type("BadTol2", (OpenCvEverywhere,), {"tolerance": 0.5}), "plugin BadTol2 ('test-opencv'): 'tolerance' must be a deepface_batch.plugin.Tolerance"),
        (type("BadReq", (OpenCvEverywhere,), {"requires": ("torch",)}), "plugin BadReq ('test-opencv'): 'requires' must be a tuple of"),
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
        _entry_point("test-opencv", "helpers:OpenCvEverywhere"),
        _entry_point("missing", "no_such_module_xyz:Plugin"),
        _entry_point("not-a-plugin", "helpers:NotAPlugin"),
    ]
    monkeypatch.setattr(registry.metadata, "entry_points", lambda group: points if group == registry.ENTRY_POINT_GROUP else [])
    with caplog.at_level(logging.WARNING, logger="deepface_batch.registry"):
        registry.load_entry_points(force=True)
    try:
        assert "test-opencv" in registry.names()
        assert "not-a-plugin" not in registry.names()
        assert "skipping detector plugin entry point 'missing' (no_such_module_xyz:Plugin)" in caplog.text
        assert "'not-a-plugin'" in caplog.text and "must subclass" in caplog.text
        face = testing.astronaut()
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
