"""Environment variables: one parser, errors naming the variable, the hook in step."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from deepface_batch import api, settings, weights
from deepface_batch.settings import SettingError

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("value", ["1", "true", "YES", " on "])
def test_flag_true(monkeypatch, value):
    monkeypatch.setenv(settings.VERIFY_WEIGHTS, value)
    assert settings.flag(settings.VERIFY_WEIGHTS, False) is True


@pytest.mark.parametrize("value", ["0", "false", "No", "off"])
def test_flag_false(monkeypatch, value):
    monkeypatch.setenv(settings.VERIFY_WEIGHTS, value)
    assert settings.flag(settings.VERIFY_WEIGHTS, True) is False
    assert weights.enabled() is False


def test_flag_unset_or_empty_is_the_default(monkeypatch):
    monkeypatch.delenv(settings.YOLO_HALF, raising=False)
    assert settings.flag(settings.YOLO_HALF, False) is False
    monkeypatch.setenv(settings.YOLO_HALF, "")
    assert settings.flag(settings.YOLO_HALF, True) is True


def test_unreadable_values_name_the_variable(monkeypatch):
    monkeypatch.setenv(settings.YOLO_HALF, "maybe")
    with pytest.raises(SettingError, match=r"^DEEPFACE_BATCH_YOLO_HALF must be one of") as err:
        settings.flag(settings.YOLO_HALF, False)
    assert (err.value.name, err.value.value) == ("DEEPFACE_BATCH_YOLO_HALF", "maybe")
    monkeypatch.setenv(settings.TORCH_THREADS, "-2")
    with pytest.raises(ValueError, match=r"^DEEPFACE_BATCH_TORCH_THREADS must be an integer of at least 0, got '-2'"):
        settings.integer(settings.TORCH_THREADS, 0)
    monkeypatch.setenv(settings.BATCH_SIZE, "0")
    with pytest.raises(ValueError, match=r"^DEEPFACE_BATCH_SIZE must be a positive integer, got '0'"):
        api.default_batch_size()
    monkeypatch.setenv(settings.BATCH_SIZE, " 7 ")
    assert api.default_batch_size() == 7


def test_import_hook_parses_its_variable_as_settings_does(monkeypatch):
    """The hook cannot import the package at interpreter start; its parser is held to
    the package's here."""
    spec = importlib.util.spec_from_file_location("hook_under_test", ROOT / "src-hook" / "deepface_batch_hook.py")
    hook = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hook)
    assert hook.DISABLE_ENV == settings.DISABLE
    for value in sorted(settings.TRUE | settings.FALSE | {"", "TRUE", " Off "}):
        monkeypatch.setenv(settings.DISABLE, value)
        assert hook.disabled() is settings.flag(settings.DISABLE, False), value
