"""The command line: read, run, eval, eval-video. Parses arguments and calls the library."""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from pathlib import Path

from .errors import InputError, StreamOCRError

log = logging.getLogger("streamocr")


def _format_grid(digits: str) -> list[str]:
    rows = []
    for r in range(9):
        row = digits[r * 9 : (r + 1) * 9].replace("0", ".")
        rows.append(" ".join([row[0:3], row[3:6], row[6:9]]))
        if r in (2, 5):
            rows.append("")
    return rows


def _positive_int(text: str) -> int:
    """An argparse type: an integer > 0."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {value}")
    return value


def _add_config_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, help="TOML configuration file (see configs/)")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="override one configuration value, e.g. --set recognition.device=cpu",
    )


def _load_config(args: argparse.Namespace):
    from .config import load_config

    return load_config(args.config, args.overrides)


def _make_reader(config):
    from .reader import SudokuReader

    return SudokuReader.from_config(config)


def cmd_read(args: argparse.Namespace) -> int:
    """`streamocr read IMAGE...`: print each grid and its solution, or JSON lines."""
    from .photos import DEFAULT_MAX_PIXELS, load_image
    from .records import error_record, photo_record

    reader = _make_reader(_load_config(args))
    failed = False
    for path in args.images:
        try:
            image = load_image(path, args.max_pixels or DEFAULT_MAX_PIXELS)
        except StreamOCRError as exc:
            failed = True
            record = error_record(str(path), str(exc))
        else:
            record = photo_record(str(path), reader.read(image))
        if args.json:
            print(json.dumps(record), flush=True)
        else:
            _print_human(record)
    return 1 if failed else 0


def _print_human(record: dict) -> None:
    print(f"== {record['path']}")
    if record["error"]:
        print(f"error: {record['error']}")
    elif not record["found"]:
        print("no Sudoku grid found")
    else:
        print("read:")
        for line in _format_grid(record["digits"]):
            print("  " + line)
        if record["solution"]:
            print("solution:")
            for line in _format_grid(record["solution"]):
                print("  " + line)
        elif record["status"] == "unsure":
            cells = ", ".join(f"r{i // 9 + 1}c{i % 9 + 1}" for i in record["doubtful"])
            why = f"cells read with doubt: {cells}" if cells else "more than one solution"
            print(f"no solution given: the reading is not sure enough ({why})")
        else:
            print(f"no solution: {record['status']}")
    print()


def cmd_eval(args: argparse.Namespace) -> int:
    """`streamocr eval DIR...`: score the reader on labelled photo folders."""
    from .dataset import load_folder
    from .evaluate import evaluate

    reader = _make_reader(_load_config(args))
    photos = [p for folder in args.folders for p in load_folder(folder, args.split)]
    if not photos:
        print(
            "streamocr: error: no labelled photos (imageN.jpg + imageN.dat) found", file=sys.stderr
        )
        return 2
    report = evaluate(reader, photos, args.debug)
    print(json.dumps(report.summary()) if args.json else report.format())
    return 0


def _many_sources(args: argparse.Namespace) -> bool:
    """Whether `run` serves several streams: more than one source, a sources file, an
    output folder, a folder or a glob, or a cluster."""
    import glob
    import os

    if len(args.sources) > 1 or args.sources_file or args.out_dir or args.cluster:
        return True
    return bool(args.sources) and (
        os.path.isdir(args.sources[0])
        or (not os.path.exists(args.sources[0]) and glob.has_magic(args.sources[0]))
    )


def cmd_run(args: argparse.Namespace) -> int:
    """`streamocr run [SOURCE ...]`: read videos, cameras or streams; write the annotated
    videos."""
    import dataclasses

    from .pipeline import RunOutputs, run_video
    from .samples import sample_clip
    from .sinks import check_output_paths, display_available
    from .sources import source_kind

    config = _load_config(args)
    settings = config.pipeline
    if args.policy:
        settings = dataclasses.replace(settings, policy=args.policy)
    if _many_sources(args):
        return _run_many(args, config, settings)
    for flag in ("max_streams", "redo", "no_video"):
        if getattr(args, flag):
            option = "--" + flag.replace("_", "-")
            raise InputError(f"{option} needs several sources or --out-dir")
    source = args.sources[0] if args.sources else str(sample_clip())
    check_output_paths(source if source_kind(source) == "file" else None, args.out, args.jsonl)
    display = display_available() if args.display is None else args.display
    outputs = RunOutputs(
        video_path=str(args.out) if args.out else None,
        jsonl_path=str(args.jsonl) if args.jsonl else None,
        display=display,
        progress=source_kind(source) == "file" and sys.stderr.isatty(),
    )
    summary = run_video(
        source, _make_reader(config), settings, outputs, config.stabilize, None, config.tracking
    )
    for line in summary.lines():
        print(f"streamocr: {line}", file=sys.stderr)
    return {"SIGINT": 130, "SIGTERM": 143}.get(summary.stopped_by or "", 0)


def _run_many(args: argparse.Namespace, config, settings) -> int:
    """Several streams (or a folder of files) in one process or on a Ray cluster."""
    from .pipeline.control import stop_on_signals
    from .pipeline.jobs import expand_sources, is_complete, plan_jobs, read_sources_file
    from .sources import source_kind

    if args.out is not None or args.jsonl is not None:
        raise InputError("with several sources, give --out-dir DIR instead of --out / --jsonl")
    if args.display:
        raise InputError("--display shows one stream; run several streams without it")
    if args.out_dir is None:
        raise InputError("several sources need --out-dir DIR (outputs DIR/<name>.mp4, .jsonl)")
    specs = list(args.sources)
    if args.sources_file:
        specs += read_sources_file(args.sources_file)
    if not specs:
        raise InputError("no sources given")
    sources = expand_sources(specs)
    try:
        args.out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create output folder {args.out_dir}: {exc}") from None
    jobs = plan_jobs(sources, args.out_dir, video=not args.no_video)
    skipped = [] if args.redo else [job for job in jobs if is_complete(job)]
    todo = [job for job in jobs if job not in skipped]
    # Live sources never end: each needs a place among the open streams from the start.
    live = sum(1 for job in todo if source_kind(job.source) != "file")
    if args.max_streams and args.max_streams < live:
        raise InputError(f"{live} live sources need --max-streams {live} or more")
    max_streams = args.max_streams or max(4, live)
    progress = sys.stderr.isatty()
    if args.cluster:
        from .cluster import run_on_cluster

        summary = run_on_cluster(
            todo,
            config,
            args.cluster,
            max_streams,
            settings=settings,
            skipped=skipped,
            progress=progress,
        )
    else:
        from .pipeline.multi import MultiStreamRunner

        runner = MultiStreamRunner(
            todo,
            _make_reader(config),
            settings,
            config.stabilize,
            max_streams,
            progress,
            tracking=config.tracking,
        )
        with stop_on_signals(runner):
            summary = runner.run(skipped)
    for line in summary.lines():
        print(f"streamocr: {line}", file=sys.stderr)
    return summary.exit_code


def _stream_counts(texts: list[str]) -> list[int]:
    """The counts of `bench --streams`, each a whole number of 1 or more."""
    counts = []
    for text in texts:
        try:
            count = int(text)
        except ValueError:
            raise InputError(f"--streams takes whole numbers, got {text!r}") from None
        if count < 1:
            raise InputError(f"--streams takes counts of 1 or more, got {count}")
        counts.append(count)
    return counts


def cmd_bench(args: argparse.Namespace) -> int:
    """`streamocr bench [SOURCE]`: frame throughput against decoding alone, or live; with
    `--streams N ...`, N copies of the file at once against the file alone."""
    from .benchmark import bench_file, bench_live, bench_streams, report_lines
    from .samples import sample_clip
    from .sources import source_kind

    counts = _stream_counts(args.streams) if args.streams is not None else None
    config = _load_config(args)
    source = args.source if args.source is not None else str(sample_clip())
    if counts is not None:
        report = bench_streams(source, counts, config, with_outputs=not args.no_out)
    elif source_kind(source) == "file":
        report = bench_file(source, config, with_outputs=not args.no_out)
    else:
        report = bench_live(source, args.seconds, config)
    if args.json:
        print(json.dumps(report))
    else:
        print("\n".join(report_lines(report)))
    return 0


def cmd_eval_video(args: argparse.Namespace) -> int:
    """`streamocr eval-video VIDEO --truth TRUTH.json`: run a clip and score it."""
    from .evalvideo import VideoTruth, score_video
    from .pipeline import RunOutputs, run_video
    from .sinks import check_output_paths

    config = _load_config(args)
    check_output_paths(str(args.video), args.out, args.jsonl)
    try:
        truth = VideoTruth.from_json(json.loads(args.truth.read_text()))
    except FileNotFoundError:
        raise InputError(f"truth file not found: {args.truth}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, ValueError) as exc:
        raise InputError(f"cannot use truth file {args.truth}: {exc}") from None
    except (AttributeError, KeyError, TypeError, IndexError) as exc:
        # A JSON file of another shape (a list where a table is expected ...).
        raise InputError(
            f"cannot use truth file {args.truth}: not the expected layout "
            f"({type(exc).__name__}: {exc})"
        ) from None
    records: list[dict] = []
    outputs = RunOutputs(
        video_path=str(args.out) if args.out else None,
        jsonl_path=str(args.jsonl) if args.jsonl else None,
    )
    summary = run_video(
        str(args.video),
        _make_reader(config),
        config.pipeline,
        outputs,
        config.stabilize,
        records,
        config.tracking,
    )
    score = score_video(records, truth)
    if args.json:
        print(json.dumps(score.summary()))
    else:
        for line in score.lines():
            print(line)
    for line in summary.lines():
        print(f"streamocr: {line}", file=sys.stderr)
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the `streamocr` command."""
    parser = argparse.ArgumentParser(
        prog="streamocr", description="Read Sudoku puzzles from photos, videos and streams."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log details to stderr")
    sub = parser.add_subparsers(dest="command", required=True)

    read = sub.add_parser("read", help="read Sudoku grids from photos")
    read.add_argument("images", nargs="+", type=Path, metavar="IMAGE")
    read.add_argument("--json", action="store_true", help="one JSON object per image and line")
    read.add_argument(
        "--max-pixels",
        type=_positive_int,
        default=None,
        metavar="N",
        help="refuse images with more pixels than this, read from the file's header "
        "before decoding (default: 64000000)",
    )
    _add_config_args(read)
    read.set_defaults(func=cmd_read)

    ev = sub.add_parser("eval", help="score the reader on labelled photo folders")
    ev.add_argument(
        "folders",
        nargs="+",
        type=Path,
        metavar="DIR",
        help="folder of imageN.jpg + imageN.dat pairs",
    )
    ev.add_argument(
        "--split",
        choices=["all", "train", "validation"],
        default="all",
        help="score only this side of the by-page split (default: all)",
    )
    ev.add_argument(
        "--debug",
        type=Path,
        metavar="OUT",
        help="write outline, warped grid and misread cells of wrong images here",
    )
    ev.add_argument("--json", action="store_true", help="print the summary as JSON")
    _add_config_args(ev)
    ev.set_defaults(func=cmd_eval)

    run = sub.add_parser("run", help="read Sudoku puzzles in a video, camera or stream")
    run.add_argument(
        "sources",
        nargs="*",
        metavar="SOURCE",
        help="video file, camera (0, /dev/video0), rtsp:// or http(s):// stream "
        "(default: the built-in sample clip); several, a folder or a glob run as several "
        "streams with one shared model (needs --out-dir)",
    )
    run.add_argument("--out", type=Path, metavar="FILE.mp4", help="write the annotated video")
    run.add_argument("--jsonl", type=Path, metavar="FILE", help="write one JSON line per frame")
    run.add_argument(
        "--display",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="show a window (q quit, space freeze, s snapshot); default: on where there "
        "is a display",
    )
    run.add_argument(
        "--policy",
        choices=["wait", "drop"],
        help="full queues: wait (never drop) or drop the oldest frames (default: wait for "
        "files, drop for live sources)",
    )
    many = run.add_argument_group("several streams")
    many.add_argument(
        "--out-dir",
        type=Path,
        metavar="DIR",
        help="write DIR/<name>.mp4 and DIR/<name>.jsonl for each source",
    )
    many.add_argument(
        "--sources",
        dest="sources_file",
        type=Path,
        metavar="FILE",
        help="read more sources from FILE, one a line (# comments)",
    )
    many.add_argument(
        "--max-streams",
        type=_positive_int,
        metavar="N",
        help="most streams open at once; the others wait their turn (default: 4)",
    )
    many.add_argument(
        "--redo",
        action="store_true",
        help="process files whose outputs an earlier run completed (default: skip them)",
    )
    many.add_argument(
        "--no-video", action="store_true", help="write only the JSON lines, no annotated video"
    )
    many.add_argument(
        "--cluster",
        metavar="local|auto|ADDRESS",
        help="run the streams on Ray (pip install 'streamocr[cluster]'): local starts a "
        "cluster for this run, auto joins the running one (or RAY_ADDRESS), ADDRESS "
        "joins that head node",
    )
    _add_config_args(run)
    run.set_defaults(func=cmd_run)

    bench = sub.add_parser("bench", help="measure frame throughput against decoding alone")
    bench.add_argument(
        "source",
        nargs="?",
        metavar="SOURCE",
        help="video file (decode-only, pipeline and --out rates) or live source (run for "
        "--seconds; processed, dropped, latency); default: the built-in sample clip",
    )
    bench.add_argument("--seconds", type=float, default=30.0, help="how long a live source runs")
    bench.add_argument(
        "--no-out",
        action="store_true",
        help="skip the runs with --out (with --streams: JSON lines only, no MP4s)",
    )
    bench.add_argument(
        "--streams",
        nargs="+",
        metavar="N",
        help="run N copies of the file at once in one process with the shared model, for "
        "each N given (e.g. 1 2 4 8): aggregate fps against the file alone, model ms and "
        "cells a call, peak memory",
    )
    bench.add_argument("--json", action="store_true", help="print the report as one JSON object")
    _add_config_args(bench)
    bench.set_defaults(func=cmd_bench)

    evv = sub.add_parser("eval-video", help="score a video run against per-frame truth")
    evv.add_argument("video", type=Path, metavar="VIDEO")
    evv.add_argument(
        "--truth",
        type=Path,
        required=True,
        metavar="TRUTH.json",
        help="per-frame truth: grid corners, whether the grid is in view, the givens "
        "(the format streamocr.synth.clips writes)",
    )
    evv.add_argument("--out", type=Path, metavar="FILE.mp4", help="also write the annotated video")
    evv.add_argument("--jsonl", type=Path, metavar="FILE", help="also write the per-frame records")
    evv.add_argument("--json", action="store_true", help="print the score as JSON")
    _add_config_args(evv)
    evv.set_defaults(func=cmd_eval_video)
    return parser


class _Terminated(KeyboardInterrupt):
    """SIGTERM outside a run (loading the model, opening a stream): ends like Ctrl-C."""


def _raise_terminated(_signum: int, _frame: object) -> None:
    raise _Terminated


# What the commands load before they start. A Ctrl-C that lands while a module loads
# does not always stay a KeyboardInterrupt: inside a compiled library's initialisation
# (onnxruntime's pybind11 module) it surfaces as an ImportError traceback, and inside code
# that a module builds with exec() (every frozen dataclass) it marks the interpreter to
# die by SIGINT whatever exit status the command returns. So they load with signals held.
_RUNTIME_MODULES = (
    "numpy",
    "cv2",
    "av",
    "onnxruntime",
    "numba",
    "streamocr.config",
    "streamocr.reader",
    "streamocr.photos",
    "streamocr.records",
    "streamocr.sources",
    "streamocr.sinks",
    "streamocr.pipeline",
    "streamocr.pipeline.jobs",
    "streamocr.pipeline.multi",
    "streamocr.benchmark",
    "streamocr.evalvideo",
)


@contextmanager
def _signals_held() -> Iterator[None]:
    """Hold SIGINT and SIGTERM while the block runs; act on the first one after it."""
    received: list[int] = []

    def hold(signum: int, _frame: object) -> None:
        received.append(signum)

    previous = {signum: signal.signal(signum, hold) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if received:
        raise _Terminated if received[0] == signal.SIGTERM else KeyboardInterrupt


def _load_runtime() -> None:
    """Import what the commands use now (see _RUNTIME_MODULES)."""
    for name in _RUNTIME_MODULES:
        try:
            importlib.import_module(name)
        except ImportError:
            pass  # the command that needs it says so in its own words


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `streamocr` command; returns the exit status."""
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous_sigterm = signal.getsignal(signal.SIGTERM) if in_main_thread else None
    try:
        # Ctrl-C or SIGTERM while the command line is read and the libraries load is
        # acted on once they have loaded, as a clean interrupt (130 or 143).
        with _signals_held() if in_main_thread else nullcontext():
            args = build_parser().parse_args(argv)
            logging.basicConfig(
                level=logging.INFO if args.verbose else logging.WARNING,
                format="%(levelname)s %(name)s: %(message)s",
            )
            if in_main_thread:
                _load_runtime()
        if in_main_thread:
            # So SIGTERM at any moment exits 143 after closing what is open, as in a run.
            signal.signal(signal.SIGTERM, _raise_terminated)
        return args.func(args)
    except StreamOCRError as exc:
        if exc.summary is not None:
            for line in exc.summary.lines():
                print(f"streamocr: {line}", file=sys.stderr)
        print(f"streamocr: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt as exc:
        terminated = isinstance(exc, _Terminated)
        print(f"streamocr: {'terminated' if terminated else 'interrupted'}", file=sys.stderr)
        return 143 if terminated else 130
    except BrokenPipeError:
        return 0
    finally:
        if previous_sigterm is not None:
            signal.signal(signal.SIGTERM, previous_sigterm)
        if argv is None and in_main_thread:
            # The command line's own process, its work done and its outputs closed: a
            # signal during the interpreter's teardown would only turn the exit status
            # into a death by signal, or print a KeyboardInterrupt traceback.
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            signal.signal(signal.SIGINT, signal.SIG_IGN)


if __name__ == "__main__":
    sys.exit(main())
