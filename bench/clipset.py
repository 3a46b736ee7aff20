"""Score the video pipeline on a set of generated clips: the figures of the README's video table.

Builds (once) 300-frame clips of each kind with the clip builder (`streamocr.synth.clips`) for the given seeds
and validation pages, runs the pipeline on each exactly as `streamocr eval-video` does, and
prints one line per clip and a summary per kind (clear = printed and real pages)::

    .venv/bin/python -m bench.clipset out/clips --seeds 71 72 73 74 \\
        --pages image1008 image1011 image157

With ``--footage`` the set comes from the second, independent generator
(`streamocr.synth.footage`: TrueType pages, real validation pages, 480 lines to 1080p,
corners out of the frame, distractor lines, dim, blurred, unreadable footage), scored per
condition (clear, hard, unreadable, empty)::

    .venv/bin/python -m bench.clipset out/footage --footage --seeds 1 2 3 \
        --pages image1008 image1011 image157

Clips already in the folder are reused, so a set made once can be scored again after a
change. A clip built for a seed is the same whenever it is built (up to the encoder).
``--existing`` scores every clip already in the given folders (each with its truth JSON),
whichever generator made it, grouped by condition (footage) or by the kind in its name::

    .venv/bin/python -m bench.clipset out/footage out/clips --existing
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from streamocr.evalvideo import VideoScore
from streamocr.reader import SudokuReader
from streamocr.synth.clips import build_kind_clip, score_clip

KINDS = ("printed", "dim", "switch")


def _clip(
    folder: Path, name: str, kind: str, seed: int, page: str = "image8", size=(480, 360)
) -> Path:
    path = folder / f"{name}.mp4"
    if not (path.is_file() and path.with_suffix(".json").is_file()):
        build_kind_clip(path, kind, frames=300, size=size, seed=seed, photo_page=page)
    return path


def _size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must be WIDTHxHEIGHT, got {text!r}") from None
    return width, height


def main(argv: list[str] | None = None) -> int:
    """Build and score the clip set; print a line per clip and a summary per kind."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, nargs="+")
    parser.add_argument("--seeds", type=int, nargs="+", default=[71])
    parser.add_argument("--pages", nargs="*", default=[], help="v2_train validation pages")
    parser.add_argument("--page-seed", type=int, default=100, help="first seed of page clips")
    parser.add_argument(
        "--footage", action="store_true", help="clips of streamocr.synth.footage instead"
    )
    parser.add_argument(
        "--existing", action="store_true", help="score the clips already in the folders"
    )
    parser.add_argument("--frames", type=int, default=180, help="frames per footage clip")
    parser.add_argument("--only", default=None, help="score only clips whose name has this")
    parser.add_argument(
        "--size", type=_size, default=(480, 360), help="WIDTHxHEIGHT of the clips (480x360)"
    )
    parser.add_argument(
        "--kinds",
        nargs="+",
        choices=(*KINDS, "empty"),
        default=[*KINDS, "empty"],
        help="the kinds of seeded clips (default: all)",
    )
    args = parser.parse_args(argv)
    if args.existing:
        clips = _existing_clips(args.folder)
        if not clips:
            folders = " ".join(map(str, args.folder))
            print(f"clipset: no clip with a truth JSON beside it in {folders}")
            return 2
    elif len(args.folder) != 1:
        parser.error("one folder, unless --existing")
    else:
        args.folder = args.folder[0]
        args.folder.mkdir(parents=True, exist_ok=True)
        if args.footage:
            clips = _footage_clips(args.folder, args.seeds, args.pages, args.frames)
        else:
            clips = _generator_clips(args)
    if args.only:
        clips = [c for c in clips if args.only in c[0]]
    _report(clips)
    return 0


def _existing_clips(folders: list[Path]) -> list:
    """Every clip with its truth beside it: (name, kind, path), the kind from the truth's
    condition (footage) or the name's leading word (the clip builder's sets)."""
    import json

    clips = []
    for folder in folders:
        for path in sorted(folder.glob("*.mp4")):
            truth = path.with_suffix(".json")
            if not truth.is_file():
                continue
            condition = json.loads(truth.read_text()).get("condition")
            kind = condition or next(
                (k for k in (*KINDS, "photo", "empty") if path.stem.startswith(k)), "clear"
            )
            clips.append((f"{folder.name}/{path.stem}", kind, path))
    return clips


def _footage_clips(folder: Path, seeds: list[int], pages: list[str], frames: int) -> list:
    from streamocr.synth.footage import build_footage, footage_set, spec_name

    clips = []
    for spec in footage_set(seeds, pages, frames):
        name = spec_name(spec)
        path = folder / f"{name}.mp4"
        if not (path.is_file() and path.with_suffix(".json").is_file()):
            build_footage(path, spec)
        clips.append((name, spec.condition, path))
    return clips


def _generator_clips(args: argparse.Namespace) -> list:
    size = args.size
    # Clips of another size than the default are named after it, so sets can share a folder.
    tag = "" if size == (480, 360) else f"_{size[0]}x{size[1]}"

    def clip(name: str, kind: str, seed: int, page: str = "image8") -> tuple[str, str, Path]:
        return name + tag, kind, _clip(args.folder, name + tag, kind, seed, page, size)

    kinds = [k for k in KINDS if k in args.kinds]
    clips = [clip(f"{k}{s}", k, s) for s in args.seeds for k in kinds]
    seed = args.seeds[0]
    if "empty" in args.kinds:
        clips.append(clip(f"empty{seed}", "empty", seed))
    for i, page in enumerate(args.pages):
        clips.append(clip(f"photo_{page}", "photo", args.page_seed + i, page))
    return clips


def _report(clips: list) -> None:
    """Score each clip, print a line per clip and a summary per group."""
    reader = SudokuReader()
    by_kind: dict[str, list[tuple[str, VideoScore]]] = {}
    for name, kind, path in clips:
        score = score_clip(path, reader)
        group = "clear" if kind in ("printed", "photo") else kind
        by_kind.setdefault(group, []).append((name, score))
        share = score.right_share
        acq = ", ".join("never" if a is None else str(a) for a in score.acquisition_frames)
        print(
            f"{name}: right {score.right_frames}/{score.in_view_frames}"
            f"{'' if share is None else f' ({100 * share:.1f}%)'}, "
            f"steady {score.steady_right_frames}/{score.steady_in_view_frames}, "
            f"acquisition {acq or '-'}, "
            f"flicker {score.flicker}, wrong {score.wrong_frames}, "
            f"misplaced {score.misplaced_frames}, "
            f"false grid {score.false_grid_frames}"
            f"{f', partly in view wrong {score.partial_wrong_frames}' if score.partial_wrong_frames else ''}"
            f"{f', shown on unreadable {score.unreadable_shown_frames}/{score.unreadable_frames}' if score.unreadable_frames else ''}",
            flush=True,
        )
    print()
    for group, scores in by_kind.items():
        shares = sorted(s.right_share for _, s in scores if s.right_share is not None)
        acqs = [a for _, s in scores for a in s.acquisition_frames]
        worst = min(shares) if shares else None
        steady = sorted(s.steady_right_share for _, s in scores if s.steady_right_share is not None)
        print(
            f"{group}: {len(scores)} clips; fully right: min "
            f"{'-' if worst is None else f'{100 * worst:.1f}%'}, median "
            f"{'-' if not shares else f'{100 * shares[len(shares) // 2]:.1f}%'}; "
            f"steady frames fully right: min "
            f"{'-' if not steady else f'{100 * steady[0]:.1f}%'}, median "
            f"{'-' if not steady else f'{100 * steady[len(steady) // 2]:.1f}%'}; "
            f"acquisition max {max((a for a in acqs if a is not None), default='-')}"
            f"{', never ' + str(acqs.count(None)) if None in acqs else ''}; "
            f"flicker {sum(s.flicker for _, s in scores)}; "
            f"wrong frames {sum(s.wrong_frames for _, s in scores)}; "
            f"misplaced frames {sum(s.misplaced_frames for _, s in scores)}; "
            f"false-grid frames {sum(s.false_grid_frames for _, s in scores)}; "
            f"shown on unreadable {sum(s.unreadable_shown_frames for _, s in scores)}"
        )


if __name__ == "__main__":
    sys.exit(main())
