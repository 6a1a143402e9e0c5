"""The one table of defaults and the environment variables over it: one parser, errors
naming the variable, the hook in step, and every place that takes a default reading it."""

from __future__ import annotations

import importlib.util
import inspect
from pathlib import Path

import pytest

import deepface_batch
from deepface_batch import api, compat, config, jobs, representation, weights
from deepface_batch.config import ConfigError

ROOT = Path(__file__).resolve().parents[1]
VERIFY = config.variable("verify_weights")
HALF = config.variable("yolo_half")


@pytest.mark.parametrize("value", ["1", "true", "YES", " on "])
def test_flag_true(monkeypatch, value):
    monkeypatch.setenv(VERIFY, value)
    assert config.flag(VERIFY, False) is True
    assert config.default("verify_weights") is True


@pytest.mark.parametrize("value", ["0", "false", "No", "off"])
def test_flag_false(monkeypatch, value):
    monkeypatch.setenv(VERIFY, value)
    assert config.flag(VERIFY, True) is False
    assert weights.enabled() is False


def test_flag_unset_or_empty_is_the_default(monkeypatch):
    monkeypatch.delenv(HALF, raising=False)
    assert config.default("yolo_half") is False
    monkeypatch.setenv(HALF, "")
    assert config.flag(HALF, True) is True


def test_unreadable_values_name_the_variable(monkeypatch):
    monkeypatch.setenv(HALF, "maybe")
    with pytest.raises(ConfigError, match=r"^DEEPFACE_BATCH_YOLO_HALF must be one of") as err:
        config.default("yolo_half")
    assert (err.value.name, err.value.value) == ("DEEPFACE_BATCH_YOLO_HALF", "maybe")
    monkeypatch.setenv(config.variable("torch_threads"), "-2")
    with pytest.raises(ValueError, match=r"^DEEPFACE_BATCH_TORCH_THREADS must be an integer of at least 0, got '-2'"):
        config.default("torch_threads")
    monkeypatch.setenv(config.variable("batch_size"), "0")
    with pytest.raises(ValueError, match=r"^DEEPFACE_BATCH_SIZE must be a positive integer, got '0'"):
        api.batch_size_or_default(None)
    monkeypatch.setenv(config.variable("batch_size"), " 7 ")
    assert api.batch_size_or_default(None) == 7


def test_import_hook_parses_its_variable_as_config_does(monkeypatch):
    """The hook cannot import the package at interpreter start; its parser is held to
    the package's here."""
    spec = importlib.util.spec_from_file_location("hook_under_test", ROOT / "src-hook" / "deepface_batch_hook.py")
    hook = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hook)
    assert hook.DISABLE_ENV == config.variable("disable")
    for value in sorted(config.TRUE | config.FALSE | {"", "TRUE", " Off "}):
        monkeypatch.setenv(hook.DISABLE_ENV, value)
        assert hook.disabled() is config.default("disable"), value


def test_upstream_defaults_are_the_installed_deepfaces():
    """The table's detector and model are upstream's own defaults, on every release."""
    layer = compat.get()
    assert config.DEFAULTS["detector_backend"].value == layer.EXTRACT_FACES_DEFAULTS["detector_backend"]
    assert config.DEFAULTS["model_name"].value == layer.REPRESENT_DEFAULTS["model_name"]


def test_every_default_taker_reads_the_table():
    """The functions' and the jobs' defaults are the table's, not copies of its values."""
    for function in (deepface_batch.extract_faces, deepface_batch.iter_extract_faces):
        assert (
            inspect.signature(function).parameters["detector_backend"].default
            is config.DEFAULTS["detector_backend"].value
        )
    for function in (representation.represent, representation.iter_represent):
        parameters = inspect.signature(function).parameters
        assert parameters["model_name"].default is config.DEFAULTS["model_name"].value
        assert parameters["detector_backend"].default is config.DEFAULTS["detector_backend"].value
    assert jobs.JobOptions().detector is config.DEFAULTS["detector_backend"].value


def test_job_options_take_the_batch_size_from_the_environment(monkeypatch):
    """``DEEPFACE_BATCH_SIZE`` reaches the command's jobs (it was always 32 there)."""
    monkeypatch.setenv(config.variable("batch_size"), "5")
    assert jobs.JobOptions().batch_size == 5
    assert jobs.JobOptions(batch_size=3).batch_size == 3
    monkeypatch.delenv(config.variable("batch_size"))
    assert jobs.JobOptions().batch_size == 32


def test_the_documented_table_lists_every_default():
    """config's docstring table names each default and its variable."""
    for name, default in config.DEFAULTS.items():
        assert f"``{name}``" in config.__doc__, name
        if default.variable:
            assert f"``{default.variable}``" in config.__doc__, name
