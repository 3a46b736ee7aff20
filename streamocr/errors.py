"""Exceptions that library code raises and the CLI turns into one clear line each."""


class StreamOCRError(Exception):
    """Base class for every error streamocr reports to a person.

    Attributes:
        summary: what a video run had done when it failed (a `RunSummary`), or None; the
            command line prints it before the error, as after a run that ends well.
    """

    exit_code = 1
    summary = None


class InputError(StreamOCRError):
    """An input file is missing, unreadable or not an image/video."""

    exit_code = 2


class ConfigError(StreamOCRError):
    """A configuration file or value is invalid."""

    exit_code = 3


class ModelError(StreamOCRError):
    """The digit model is missing or cannot be loaded."""

    exit_code = 4


class SourceError(StreamOCRError):
    """A video source cannot be opened or read (missing file, bad codec, unreachable stream)."""

    exit_code = 5


class SinkError(StreamOCRError):
    """An output (video file, JSON lines) cannot be written."""

    exit_code = 6


class ClusterError(StreamOCRError):
    """Ray is not installed, or the cluster cannot be started, reached or used."""

    exit_code = 7
