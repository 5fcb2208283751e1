"""Turning object keys into local paths without ever leaving the chosen folder."""

from __future__ import annotations

from pathlib import Path

from image_analysis.domain.keys import is_plain_relative

MAX_NAME_BYTES = 255  # a file or folder name on Linux and macOS file systems


def safe_local_path(root: Path, relative_key: str) -> Path | None:
    """root/relative_key, or None when the key could escape root or is not a plain relative path.

    S3 keys are arbitrary strings: '../', '.', empty segments, absolute paths, backslashes and
    control characters never reach the file system (the same rule the Lambda applies to image
    keys), nor do names longer than a file system allows; the resolved path is checked again so a
    symlink inside root cannot lead out of it.
    """
    if not is_plain_relative(relative_key):
        return None
    if any(len(segment.encode("utf-8")) > MAX_NAME_BYTES for segment in relative_key.split("/")):
        return None  # S3 allows it, the file system does not (ENAMETOOLONG)
    target = root.joinpath(*relative_key.split("/"))
    if not target.resolve().is_relative_to(root.resolve()):
        return None
    return target
