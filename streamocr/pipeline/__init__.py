"""The video pipeline: stage threads joined by bounded queues, and the machinery they share.

| module | what it owns |
| --- | --- |
| `video` | `VideoPipeline` (one stream's threads), `run_video`, `process_video` |
| `queues` | `StageQueue`: bounded queues with the wait / drop-oldest policies |
| `metrics` | `StageMeter`, `RunSummary` |
| `progress` | the terminal progress bar |
| `control` | the libraries' thread budget, signals as a clean stop |

The frame logic itself (tracking, cells, model, stabiliser) is `streamocr.stream`'s.
"""

from .control import budget_threads, stop_on_signals
from .metrics import RunSummary, StageMeter
from .progress import ProgressBar
from .queues import StageQueue
from .video import RunOutputs, VideoPipeline, process_video, run_video

__all__ = [
    "ProgressBar",
    "RunOutputs",
    "RunSummary",
    "StageMeter",
    "StageQueue",
    "VideoPipeline",
    "budget_threads",
    "process_video",
    "run_video",
    "stop_on_signals",
]
