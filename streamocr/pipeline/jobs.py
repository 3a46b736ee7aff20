"""The streams of a many-source run: sources from arguments, folders, globs and a list file;
one output name per stream; and the marker that says a file's outputs are complete."""

from __future__ import annotations

import glob
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError
from ..sources import source_kind

VIDEO_SUFFIXES = (
    ".mp4",
    ".m4v",
    ".mov",
    ".mkv",
    ".webm",
    ".avi",
    ".ts",
    ".mpg",
    ".mpeg",
    ".flv",
    ".wmv",
)
DONE_SUFFIX = ".done.json"


@dataclass(frozen=True)
class StreamJob:
    """One stream of a many-source run and where its outputs go.

    Attributes:
        name: the stream's name in the summary and its output files' stem.
        source: a file path, camera or URL (as `open_source` takes it).
        video_path: the annotated MP4, or None.
        jsonl_path: the per-frame JSON lines, or None.
        done_path: the completion marker written after a file ended by itself, or None.
    """

    name: str
    source: str
    video_path: str | None = None
    jsonl_path: str | None = None
    done_path: str | None = None


def read_sources_file(path: Path | str) -> list[str]:
    """The sources listed in a text file: one a line; blank lines and ``#`` comments skipped.

    Raises:
        InputError: the file cannot be read.
    """
    try:
        text = Path(path).read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read sources file {path}: {exc}") from None
    lines = (line.strip() for line in text.splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def expand_sources(specs: list[str]) -> list[str]:
    """Each spec as it is, a folder as its video files, a glob as the files it matches
    (sorted, so reruns see the same order); duplicates dropped.

    Raises:
        InputError: a folder without video files or a glob that matches nothing.
    """
    expanded: list[str] = []
    for spec in specs:
        if source_kind(spec) != "file":
            expanded.append(spec)
        elif os.path.isdir(spec):
            found = sorted(
                str(p)
                for p in Path(spec).iterdir()
                if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES
            )
            if not found:
                raise InputError(f"no video files ({', '.join(VIDEO_SUFFIXES)}) in {spec}")
            expanded.extend(found)
        elif not os.path.exists(spec) and glob.has_magic(spec):
            found = sorted(p for p in glob.glob(spec, recursive=True) if os.path.isfile(p))
            if not found:
                raise InputError(f"no files match {spec}")
            expanded.extend(found)
        else:
            expanded.append(spec)
    return list(dict.fromkeys(expanded))


def stream_name(spec: str) -> str:
    """A file-name-safe name of a source: a file's stem, a camera's number, a URL's host
    and path."""
    kind = source_kind(spec)
    if kind == "file":
        raw = Path(spec).stem
    elif kind == "camera":
        raw = "camera" + re.sub(r"\D", "", spec)
    else:
        raw = re.sub(r"^[a-zA-Z]+://", "", spec)
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", raw).strip("._")
    return name or "stream"


def plan_jobs(
    sources: list[str], out_dir: Path | str, video: bool = True, jsonl: bool = True
) -> list[StreamJob]:
    """One job per source with outputs ``out_dir/<name>.mp4`` and ``.jsonl``; a name taken
    by an earlier source gets ``-2``, ``-3`` ... (in the order given, so reruns agree)."""
    out = Path(out_dir)
    taken: set[str] = set()
    jobs = []
    for spec in sources:
        base = stream_name(spec)
        name, n = base, 1
        while name in taken:
            n += 1
            name = f"{base}-{n}"
        taken.add(name)
        jobs.append(
            StreamJob(
                name=name,
                source=spec,
                video_path=str(out / f"{name}.mp4") if video else None,
                jsonl_path=str(out / f"{name}.jsonl") if jsonl else None,
                done_path=str(out / f"{name}{DONE_SUFFIX}")
                if source_kind(spec) == "file"
                else None,
            )
        )
    return jobs


def _source_stamp(source: str) -> dict[str, int] | None:
    try:
        st = os.stat(source)
    except OSError:
        return None
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


def is_complete(job: StreamJob) -> bool:
    """Whether a file's outputs were completed by an earlier run: its marker names the same
    source file (size and modification time) and the outputs are all there."""
    if job.done_path is None or not os.path.isfile(job.done_path):
        return False
    try:
        marker = json.loads(Path(job.done_path).read_text())
    except (OSError, ValueError):
        return False
    stamp = _source_stamp(job.source)
    if stamp is None or marker.get("source") != stamp:
        return False
    if marker.get("video") != job.video_path or marker.get("jsonl") != job.jsonl_path:
        return False
    return all(p is None or os.path.isfile(p) for p in (job.video_path, job.jsonl_path))


def mark_complete(job: StreamJob, frames: int) -> None:
    """Write the job's completion marker (after its outputs were closed)."""
    if job.done_path is None:
        return
    marker = {
        "source": _source_stamp(job.source),
        "video": job.video_path,
        "jsonl": job.jsonl_path,
        "frames": frames,
    }
    tmp = job.done_path + ".tmp"
    Path(tmp).write_text(json.dumps(marker) + "\n")
    os.replace(tmp, job.done_path)


def clear_complete(job: StreamJob) -> None:
    """Remove a stale marker before the job's outputs are rewritten."""
    if job.done_path is not None:
        try:
            os.remove(job.done_path)
        except FileNotFoundError:
            pass
