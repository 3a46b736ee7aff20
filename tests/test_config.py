"""Configuration: defaults, TOML files, overrides, errors that name the key."""

import dataclasses
import subprocess
import sys
import tomllib

import pytest

from streamocr.config import Config, load_config
from streamocr.errors import ConfigError
from streamocr.resources import DEFAULT_CONFIG

# Keys configs/default.toml leaves out on purpose: the model's default path is where the
# package is installed, which a file cannot say.
UNLISTED = {"recognition.model"}


def test_defaults_match_the_shipped_file():
    assert load_config(DEFAULT_CONFIG) == load_config(None)


def test_the_shipped_file_lists_every_key():
    listed = tomllib.loads(DEFAULT_CONFIG.read_text())
    documented = {f"{section}.{key}" for section, table in listed.items() for key in table}
    defaults = Config()
    keys = {
        f"{section.name}.{key.name}"
        for section in dataclasses.fields(defaults)
        for key in dataclasses.fields(getattr(defaults, section.name))
    }
    assert keys - UNLISTED == documented


def test_loading_a_config_imports_no_vision_or_model_library():
    # A program that only reads or checks a config must not pay for OpenCV, Numba or ONNX
    # Runtime (nor need them installed to validate a file).
    code = (
        "import sys; from streamocr.config import load_config; "
        "from streamocr.resources import DEFAULT_CONFIG; load_config(DEFAULT_CONFIG); "
        "print(sorted(m for m in ('cv2', 'numba', 'onnxruntime') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_override_changes_one_value():
    config = load_config(None, ["pipeline.queue_size=3", "recognition.device=cpu"])
    assert config.pipeline.queue_size == 3 and config.recognition.device == "cpu"


@pytest.mark.parametrize(
    "overrides, message",
    [
        (["grid.nonsense=1"], "unknown config key 'grid.nonsense'"),
        (["nosection.key=1"], "unknown config key 'nosection'"),
        (['pipeline.queue_size="big"'], "'pipeline.queue_size' must be int"),
        (["pipeline.queue_size=0"], "queue_size must be in"),
        (["pipeline.policy=sometimes"], "policy must be"),
        (["recognition.device=tpu"], "device must be"),
        (["grid.min_score=true"], "'grid.min_score' must be float"),
        (["just-a-word"], "section.key=value"),
    ],
)
def test_bad_values_name_the_key(overrides, message):
    with pytest.raises(ConfigError, match=message):
        load_config(None, overrides)


@pytest.mark.parametrize(
    "text, message",
    [
        ("[grid\n", "not valid TOML"),
        ("grid = 3\n", "'grid' must be a table"),
        ("[pipeline]\nbatch_frames = 0\n", "batch_frames"),
    ],
)
def test_bad_files(tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_config(path)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.toml")
