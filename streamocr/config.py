"""Configuration: one dataclass tree with defaults, loaded from TOML, overridable by `--set`.

An unknown section or key, or a value of the wrong type, is a `ConfigError` that names it.
Each stage validates the meaning of its own values in its settings' ``__post_init__``.
"""

from __future__ import annotations

import dataclasses
import tomllib
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .grid import GridFinderSettings
from .recognize import DEFAULT_MODEL


@dataclass(frozen=True)
class RecognitionSettings:
    """The digit model and where it runs.

    Attributes:
        model: path of the ONNX model (relative paths are taken from the working directory).
        device: "auto" (CUDA when a GPU is present), "cpu" or "cuda".
        threads: ONNX Runtime intra-op threads on the CPU.
    """

    model: str = str(DEFAULT_MODEL)
    device: str = "auto"
    threads: int = 1

    def __post_init__(self) -> None:
        if self.device not in ("auto", "cpu", "cuda"):
            raise ValueError(f"device must be 'auto', 'cpu' or 'cuda', got {self.device!r}")
        if not 0 <= self.threads <= 64:
            raise ValueError(f"threads must be in [0, 64], got {self.threads}")


@dataclass(frozen=True)
class PipelineSettings:
    """Threads, queues and per-source policies of the video pipeline.

    Attributes:
        queue_size: capacity of each queue between stages, in frames.
        live_queue_size: the same when frames are dropped (live sources): short queues keep
            the latency low, since a dropping queue is always nearly full.
        policy: "auto" (files wait and never drop; live sources drop the oldest frames),
            "wait" or "drop".
        batch_frames: most frames whose cells go to the model in one call.
        detect_every: run the full grid search every N frames; in between the grid is
            tracked from the previous frame.
        open_timeout_s: how long opening a network source may take.
        read_timeout_s: how long a live source may go without a frame before reconnecting.
        reconnect_attempts: how often a live source is reopened before giving up (0: never).
        reconnect_backoff_s: first wait before reopening; doubles each attempt, up to 8 s.
        max_frames: stop after this many frames (0: run until the source ends).
        decoder_threads: FFmpeg decoder threads (0: 2 for files, 1 for live sources).
        cv_threads: OpenCV and Numba threads; the stage threads already share the cores.
    """

    queue_size: int = 8
    live_queue_size: int = 2
    policy: str = "auto"
    batch_frames: int = 4
    detect_every: int = 1
    open_timeout_s: float = 10.0
    read_timeout_s: float = 5.0
    reconnect_attempts: int = 10
    reconnect_backoff_s: float = 0.5
    max_frames: int = 0
    decoder_threads: int = 0
    cv_threads: int = 1

    def __post_init__(self) -> None:
        if self.policy not in ("auto", "wait", "drop"):
            raise ValueError(f"policy must be 'auto', 'wait' or 'drop', got {self.policy!r}")
        if not 1 <= self.queue_size <= 1024:
            raise ValueError(f"queue_size must be in [1, 1024], got {self.queue_size}")
        if not 1 <= self.live_queue_size <= 1024:
            raise ValueError(f"live_queue_size must be in [1, 1024], got {self.live_queue_size}")
        if not 1 <= self.batch_frames <= 64:
            raise ValueError(f"batch_frames must be in [1, 64], got {self.batch_frames}")
        if self.detect_every < 1:
            raise ValueError(f"detect_every must be >= 1, got {self.detect_every}")
        for name in ("open_timeout_s", "read_timeout_s", "reconnect_backoff_s"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        if self.reconnect_attempts < 0:
            raise ValueError(f"reconnect_attempts must be >= 0, got {self.reconnect_attempts}")
        if self.max_frames < 0:
            raise ValueError(f"max_frames must be >= 0, got {self.max_frames}")
        if not 0 <= self.decoder_threads <= 16:
            raise ValueError(f"decoder_threads must be in [0, 16], got {self.decoder_threads}")
        if not 1 <= self.cv_threads <= 64:
            raise ValueError(f"cv_threads must be in [1, 64], got {self.cv_threads}")


@dataclass(frozen=True)
class Config:
    """The whole configuration."""

    grid: GridFinderSettings = field(default_factory=GridFinderSettings)
    recognition: RecognitionSettings = field(default_factory=RecognitionSettings)
    pipeline: PipelineSettings = field(default_factory=PipelineSettings)


def _build(cls: type, values: dict[str, Any], where: str) -> Any:
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, value in values.items():
        name = f"{where}.{key}" if where else key
        if key not in fields:
            valid = ", ".join(sorted(fields))
            raise ConfigError(f"unknown config key '{name}' (valid: {valid})")
        hint = hints[key]
        if dataclasses.is_dataclass(hint):
            if not isinstance(value, dict):
                raise ConfigError(f"config '{name}' must be a table")
            kwargs[key] = _build(hint, value, name)
            continue
        if hint is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, hint) or (hint is int and isinstance(value, bool)):
            raise ConfigError(
                f"config '{name}' must be {hint.__name__}, got {type(value).__name__} {value!r}"
            )
        kwargs[key] = value
    try:
        return cls(**kwargs)
    except ValueError as exc:
        raise ConfigError(f"config '{where}': {exc}") from exc


def _parse_value(text: str) -> Any:
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text  # a bare word is a string


def load_config(path: Path | str | None = None, overrides: list[str] | None = None) -> Config:
    """Load the configuration from a TOML file (or the defaults) and apply overrides.

    Args:
        path: a TOML file, or None for the built-in defaults.
        overrides: ``section.key=value`` strings, values in TOML syntax.
    """
    data: dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        try:
            data = tomllib.loads(path.read_text())
        except FileNotFoundError:
            raise ConfigError(f"config file not found: {path}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read config file {path}: {exc}") from None
    for item in overrides or []:
        key, sep, text = item.partition("=")
        parts = key.strip().split(".")
        if not sep or len(parts) != 2 or not all(parts):
            raise ConfigError(f"override must look like section.key=value, got {item!r}")
        data.setdefault(parts[0], {})
        if not isinstance(data[parts[0]], dict):
            raise ConfigError(f"config '{parts[0]}' must be a table")
        data[parts[0]][parts[1]] = _parse_value(text.strip())
    return _build(Config, data, "")
