"""Turning object keys into local paths without ever leaving the chosen folder."""

from __future__ import annotations

from pathlib import Path, PurePosixPath


def safe_local_path(root: Path, relative_key: str) -> Path | None:
    """root/relative_key, or None when the key could escape root or is not a plain relative path.

    S3 keys are arbitrary strings: '../', absolute paths, backslashes and NUL must never reach the
    file system. The check is on the key's segments and again on the resolved path.
    """
    if not relative_key or "\x00" in relative_key or "\\" in relative_key:
        return None
    parts = PurePosixPath(relative_key).parts
    if relative_key.startswith("/") or any(p in ("..", ".", "") for p in parts) or "//" in relative_key:
        return None
    target = root.joinpath(*parts)
    resolved_root = root.resolve()
    if not target.resolve().is_relative_to(resolved_root):
        return None  # a symlink inside root pointing out of it
    return target
