"""Configuration: one dataclass tree with defaults, loaded from TOML, overridable by `--set`.

An unknown section or key, or a value of the wrong type, is a `ConfigError` that names it.
Each stage validates the meaning of its own values in its settings' ``__post_init__``.
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .resources import DEFAULT_MODEL


@dataclass(frozen=True)
class GridFinderSettings:
    """Knobs of the grid finder.

    Attributes:
        work_max_side: longer side of the image the search runs on (corners are scaled back).
        min_area_frac: smallest grid outline, as a fraction of the working image.
        min_score: smallest structure score accepted as a Sudoku grid (0..1).
        warp_cell_px: pixels per cell in the warped grid handed to cell extraction.
        clear_score: a grid outline fitted to ink that scores at least this in the first
            rendering of the search ends it there (the other renderings look for faint,
            broken and noisy print: most of the search's time on a clear frame); 0 always
            searches all of them.
        min_line_score: a grid whose thin inner lines the binarised search loses (dim,
            blurred, noisy footage: they fade into the paper) is still taken when the lines
            of its outline, measured on the gray frame (`grid.line_score`), reach this; 0
            turns this second look off. Only outlines wholly inside the frame are looked at.
        straighten: fit the warped grid's own inner lines and resample it so a curved or
            folded page's cells are cut where they are (`streamocr.mesh`). Off by default:
            on the validation pages it reads as many grids right as one homography (it
            mends folded pages and misplaces lines on a few others).
    """

    work_max_side: int = 800
    min_area_frac: float = 0.02
    min_score: float = 0.12
    warp_cell_px: int = 40
    clear_score: float = 0.5
    min_line_score: float = 0.03
    straighten: bool = False

    def __post_init__(self) -> None:
        if self.work_max_side < 160:
            raise ValueError(f"work_max_side must be >= 160, got {self.work_max_side}")
        if not 0 < self.min_area_frac < 1:
            raise ValueError(f"min_area_frac must be in (0, 1), got {self.min_area_frac}")
        if not 0 <= self.min_score <= 1:
            raise ValueError(f"min_score must be in [0, 1], got {self.min_score}")
        if not 0 <= self.clear_score <= 1:
            raise ValueError(f"clear_score must be in [0, 1], got {self.clear_score}")
        if not 0 <= self.min_line_score <= 1:
            raise ValueError(f"min_line_score must be in [0, 1], got {self.min_line_score}")
        if not 16 <= self.warp_cell_px <= 128:
            raise ValueError(f"warp_cell_px must be in [16, 128], got {self.warp_cell_px}")


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
        detect_every: run the full grid search every N frames while grids are followed
            (it finds a second grid coming into view); in between each followed grid is
            carried by optical flow and verified where the flow put it (`streamocr.verify`).
            The search also runs whenever nothing is followed, a new grid is being
            established or a followed one fails its check.
        reread_every: a board whose reading is confirmed and whose page looks unchanged
            since it was last read has its cells cut and recognised every N frames only
            (any change to the page is read at once); 1: every frame.
        reread_in_background: on a live source (the "drop" policy), that periodic re-read
            runs on its own thread at a lower priority: the frame due for it goes on
            showing the confirmed reading, a later frame takes up the re-read's evidence
            (`StreamReader.reread_in_background`). Files always re-read in line (their
            outputs do not depend on timing).
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
    detect_every: int = 30
    reread_every: int = 30
    reread_in_background: bool = True
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
        if self.reread_every < 1:
            raise ValueError(f"reread_every must be >= 1, got {self.reread_every}")
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

    def source_options(self) -> dict[str, Any]:
        """The keyword arguments of `sources.open_source` these settings give."""
        return {
            "open_timeout_s": self.open_timeout_s,
            "read_timeout_s": self.read_timeout_s,
            "reconnect_attempts": self.reconnect_attempts,
            "reconnect_backoff_s": self.reconnect_backoff_s,
            "decoder_threads": self.decoder_threads,
        }


@dataclass(frozen=True)
class StabilizeSettings:
    """Evidence over frames, confirmation and board identity (video only).

    Each cell keeps, per class, a decayed sum of the per-frame log-probabilities (each
    clipped at `log_floor`, so one frame can never weigh more than ``-log_floor``). A class
    is shown once it leads the runner-up by `confirm_margin`; a shown class gives way only
    when another leads it by `retract_margin`. With the defaults a clearly read cell is
    confirmed after two frames and a confirmed one needs about eight clear contrary frames
    in a row to change.

    Attributes:
        enabled: stabilise the video (False: show each frame's own reading, detect every
            frame).
        decay: factor the evidence is multiplied by at each recognised frame (0..1); its
            half-life is ``log(0.5) / log(decay)`` frames.
        log_floor: lowest per-frame log-probability of a class (< 0).
        confirm_margin: evidence lead over the runner-up that confirms a cell's class.
        retract_margin: evidence lead of another class that retracts a confirmed class.
        reset_cells: confirmed cells a frame must clearly contradict (ink where a cell is
            confirmed empty, or another digit) for the board to count as a new puzzle.
        reset_frames: consecutive recognised frames with that many contradictions that
            reset the board's evidence.
        contradict_prob: per-frame probability of another class that counts as clear.
        fast_confirm_prob: a frame whose 81 cells are all read at least this surely, and
            whose reading has exactly one solution, confirms the whole reading at once
            (1 turns this off).
        fast_confirm_unsure: how many cells of such a frame may be read less surely, if
            they read as digits (a misread digit almost always breaks a rule).
        no_ink_empty_prob: how sure a frame in which a cell shows no ink is that the cell
            is empty (below 1: a digit read clearly in some frames outweighs its absence
            in as many others, where blur or glare hid it).
        settle_max_cells: when no more than this many cells stay undecided, the rules of
            Sudoku choose among their two leading readings (0 turns this off).
        settle_after_frames: recognised frames before the rules may settle cells.
        show_unsolvable: show a confirmed reading that has no solution (it breaks a rule
            or has none), outlined in red with its doubtful cells marked. Off (the
            default), it stays "reading...": in video such a reading is nearly always a
            misread (a blurred page whose 5s and 9s read as 8s), and a wrong digit drawn on
            the paper is the worst thing to show; a page whose own digits break a rule (a
            wrong entry by hand) is then not shown either.
        unsolvable_after_frames: with `show_unsolvable`, such a reading is shown only once
            it has stood this many recognised frames: a grid cut amiss as it comes into
            view reads as confident nonsense, which the next frames, cut right, overturn.
        settle_empty_margin: where the rules would accept a cell both empty and as its
            leading digit (a given read as empty, an empty cell read as its solution's
            digit), they settle it as the digit only when its evidence leads empty's by
            this much (nats), and never as empty.
        vouch_margin: a fully confirmed reading with one solution is shown only when no
            single cell has another class within this many nats of its shown one on the
            evidence that would also leave exactly one solution (a given dropped or
            swapped often does); until the evidence separates them, nothing is shown.
        recognize_every: recognise the tracked grids' cells every N frames.
        solve_cache: confirmed readings whose solution is kept (each is solved once).
        recall_frames: a confirmed puzzle whose grid was lost is remembered this many frames;
            a grid that comes back and reads the same is shown at once (0: never).
        recall_min_cells: digits a returning grid must read clearly (at `contradict_prob`)
            and all as remembered, none otherwise, to be recalled: in one frame, or pooled
            over its frames (distinct cells, no frame ever reading one otherwise).
    """

    enabled: bool = True
    decay: float = 0.85
    log_floor: float = -7.0
    confirm_margin: float = 9.0
    retract_margin: float = 18.0
    reset_cells: int = 8
    reset_frames: int = 2
    contradict_prob: float = 0.9
    fast_confirm_prob: float = 0.7
    fast_confirm_unsure: int = 2
    no_ink_empty_prob: float = 0.8
    settle_max_cells: int = 4
    settle_after_frames: int = 4
    settle_empty_margin: float = 4.0
    vouch_margin: float = 4.0
    show_unsolvable: bool = False
    unsolvable_after_frames: int = 4
    recognize_every: int = 1
    solve_cache: int = 64
    recall_frames: int = 300
    recall_min_cells: int = 12

    def __post_init__(self) -> None:
        if not 0 < self.decay <= 1:
            raise ValueError(f"decay must be in (0, 1], got {self.decay}")
        if self.log_floor >= 0:
            raise ValueError(f"log_floor must be < 0, got {self.log_floor}")
        if self.confirm_margin <= 0:
            raise ValueError(f"confirm_margin must be > 0, got {self.confirm_margin}")
        if self.retract_margin < self.confirm_margin:
            raise ValueError(
                f"retract_margin must be >= confirm_margin ({self.confirm_margin}), "
                f"got {self.retract_margin}"
            )
        if not 1 <= self.reset_cells <= 81:
            raise ValueError(f"reset_cells must be in [1, 81], got {self.reset_cells}")
        for name in ("reset_frames", "recognize_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not 0.5 <= self.fast_confirm_prob <= 1:
            raise ValueError(f"fast_confirm_prob must be in [0.5, 1], got {self.fast_confirm_prob}")
        if not 0 <= self.fast_confirm_unsure <= 9:
            raise ValueError(
                f"fast_confirm_unsure must be in [0, 9], got {self.fast_confirm_unsure}"
            )
        if not 0.5 <= self.no_ink_empty_prob <= 1:
            raise ValueError(f"no_ink_empty_prob must be in [0.5, 1], got {self.no_ink_empty_prob}")
        if not 0 <= self.settle_max_cells <= 8:
            raise ValueError(f"settle_max_cells must be in [0, 8], got {self.settle_max_cells}")
        if self.unsolvable_after_frames < 0:
            raise ValueError(
                f"unsolvable_after_frames must be >= 0, got {self.unsolvable_after_frames}"
            )
        if self.settle_after_frames < 1:
            raise ValueError(f"settle_after_frames must be >= 1, got {self.settle_after_frames}")
        if self.vouch_margin < 0:
            raise ValueError(f"vouch_margin must be >= 0, got {self.vouch_margin}")
        if self.settle_empty_margin < 0:
            raise ValueError(f"settle_empty_margin must be >= 0, got {self.settle_empty_margin}")
        if not 0.5 <= self.contradict_prob < 1:
            raise ValueError(f"contradict_prob must be in [0.5, 1), got {self.contradict_prob}")
        if self.solve_cache < 1:
            raise ValueError(f"solve_cache must be >= 1, got {self.solve_cache}")
        if self.recall_frames < 0:
            raise ValueError(f"recall_frames must be >= 0, got {self.recall_frames}")
        if not 8 <= self.recall_min_cells <= 81:
            raise ValueError(f"recall_min_cells must be in [8, 81], got {self.recall_min_cells}")


@dataclass(frozen=True)
class TrackingSettings:
    """Following grids between frames (video only, with `[stabilize]` enabled).

    Attributes:
        max_grids: most puzzles searched for and tracked at once.
        confirm_detections: detections that must agree before a new grid is shown.
        max_missed_frames: frames a grid is followed by optical flow alone, without a
            matching detection, before it is dropped.
        min_visible_share: share of the grid's area that must stay inside the frame; below
            it the grid counts as having left the view and its overlay goes at once.
        corner_gain: how far a matching detection pulls the tracked corners (0..1); low
            values keep the outline still on a still page.
        jump_share: a detection whose corners lie further than this share of the grid's
            side from the tracked ones is a different grid (it replaces the old one once a
            second search confirms it).
        min_points: fewest optical-flow points that still carry a grid between detections.
        idle_search_every: while nothing is followed and the last search found nothing,
            search only every N-th frame (a grid coming into view is then found at most
            N-1 frames later; it is confirmed over `confirm_detections` searches anyway).
            1: every frame.
        edge_search_every: while the followed grids that were not found or verified all
            reach the frame's edge (a corner out of view: the verifier cannot check a border
            it cannot see, only the full search finds them), search only every N-th frame;
            optical flow carries them in between, and their cells out of view stay unknown.
            1: every frame.
        background_search: on a live source (the "drop" policy), run the full search on
            its own thread: the frame that wants a search goes on with flow and the
            verifier, and a later frame takes up the search's grids, each checked where it
            lies then (`StreamReader.search_in_background`). Files always search in line
            (their outputs do not depend on timing).
    """

    max_grids: int = 4
    confirm_detections: int = 2
    max_missed_frames: int = 30
    min_visible_share: float = 0.5
    corner_gain: float = 0.3
    jump_share: float = 0.2
    min_points: int = 12
    idle_search_every: int = 3
    edge_search_every: int = 6
    background_search: bool = True

    def __post_init__(self) -> None:
        for name in ("idle_search_every", "edge_search_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not 1 <= self.max_grids <= 16:
            raise ValueError(f"max_grids must be in [1, 16], got {self.max_grids}")
        if self.confirm_detections < 1:
            raise ValueError(f"confirm_detections must be >= 1, got {self.confirm_detections}")
        if self.max_missed_frames < 0:
            raise ValueError(f"max_missed_frames must be >= 0, got {self.max_missed_frames}")
        for name in ("min_visible_share", "corner_gain", "jump_share"):
            value = getattr(self, name)
            if not 0 < value <= 1:
                raise ValueError(f"{name} must be in (0, 1], got {value}")
        if self.min_points < 4:
            raise ValueError(f"min_points must be >= 4, got {self.min_points}")


@dataclass(frozen=True)
class Config:
    """The whole configuration."""

    grid: GridFinderSettings = field(default_factory=GridFinderSettings)
    recognition: RecognitionSettings = field(default_factory=RecognitionSettings)
    pipeline: PipelineSettings = field(default_factory=PipelineSettings)
    stabilize: StabilizeSettings = field(default_factory=StabilizeSettings)
    tracking: TrackingSettings = field(default_factory=TrackingSettings)


# Keys that moved to another section, so an old config file gets a message that says where.
_MOVED = {
    "stabilize.max_grids": "tracking.max_grids",
    "stabilize.track_confirm_detections": "tracking.confirm_detections",
    "stabilize.track_max_missed_frames": "tracking.max_missed_frames",
    "stabilize.min_visible_share": "tracking.min_visible_share",
    "stabilize.corner_gain": "tracking.corner_gain",
    "stabilize.jump_share": "tracking.jump_share",
    "stabilize.min_track_points": "tracking.min_points",
}


def _build(cls: type, values: dict[str, Any], where: str) -> Any:
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, value in values.items():
        name = f"{where}.{key}" if where else key
        if name in _MOVED:
            raise ConfigError(f"config key '{name}' is now '{_MOVED[name]}'")
        if key not in fields:
            valid = ", ".join(sorted(fields))
            raise ConfigError(f"unknown config key '{name}' (valid: {valid})")
        hint = hints[key]
        if isinstance(hint, type) and dataclasses.is_dataclass(hint):
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
        if isinstance(value, float) and not math.isfinite(value):
            # NaN passes every range check (each comparison is False) and inf waits forever.
            raise ConfigError(f"config '{name}' must be a finite number, got {value!r}")
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
