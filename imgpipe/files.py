"""Local folders: which files are images (by their content, not their name) and their object keys.

The one set of rules `imgpipe upload` and `imgpipe local` share: hidden files and folders are skipped,
so are the results `imgpipe sync` writes beside each image (`a.jpg.txt`, `a.jpg.json`), and files that
are not images by content; every skipped file is counted, never dropped silently.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from image_analysis.domain.keys import RESULT_SUFFIXES, KeyLayout
from image_analysis.imaging.prepare import ACCEPTED_FORMATS  # also registers pillow-heif's HEIC/HEIF opener
from PIL import Image, UnidentifiedImageError

CHUNK = 1024 * 1024


@dataclass(frozen=True)
class LocalImage:
    relative: str  # posix path under the folder; the key is input prefix + key prefix + this
    path: Path
    format: str  # Pillow's name, e.g. JPEG, HEIF
    size: int

    @property
    def content_type(self) -> str:
        return Image.MIME.get(self.format.upper(), "application/octet-stream")


@dataclass
class FolderScan:
    images: list[LocalImage] = field(default_factory=list)
    not_images: list[Path] = field(default_factory=list)  # by content: text, videos, documents, ...
    unreadable: list[tuple[Path, str]] = field(default_factory=list)  # (path, why)
    own_results: list[Path] = field(default_factory=list)  # `imgpipe sync` output beside its image
    hidden: list[Path] = field(default_factory=list)  # ".name" files and folders (a folder once)

    def skipped_summary(self) -> str:
        """'2 file(s) skipped as not images, 1 as hidden', each kind counted; '' when none was skipped."""
        kinds = [
            (len(self.not_images), "not images"),
            (len(self.own_results), "imgpipe results beside their image"),
            (len(self.hidden), "hidden"),
            (len(self.unreadable), "unreadable"),
        ]
        counted = [(count, what) for count, what in kinds if count]
        if not counted:
            return ""
        (count, what), rest = counted[0], counted[1:]
        return ", ".join([f"{count} file(s) skipped as {what}", *(f"{n} as {w}" for n, w in rest)])


def image_format(path: Path) -> str | None:
    """The image format Pillow reads from the file's header (nothing is decoded), or None."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # bomb-size and EXIF warnings: the pipeline decides
            with Image.open(path, formats=ACCEPTED_FORMATS) as image:
                return str(image.format)
    except Image.DecompressionBombError:
        return "image"  # an image with too many pixels: the pipeline records why it is refused
    except (UnidentifiedImageError, SyntaxError, ValueError):
        return None


def scan_folder(root: Path) -> FolderScan:
    """Every file under root, recursively, sorted by path; relative paths are the keys' tails."""
    return scan_paths([root])


def scan_paths(paths: list[Path]) -> FolderScan:
    """Folders (recursively; a file's key tail is its path below the folder) and single files (their
    name), classified by the rules above."""
    found = FolderScan()
    for path in paths:
        if path.is_dir():
            for file in _walk(path, found):
                _classify(file, file.relative_to(path).as_posix(), found)
        elif path.name.startswith("."):
            found.hidden.append(path)
        elif path.is_file():
            _classify(path, path.name, found)
    return found


def _walk(root: Path, found: FolderScan) -> list[Path]:
    """The files under root, sorted; hidden folders are not entered (and count once)."""
    files: list[Path] = []
    for folder, folders, names in os.walk(root):
        here = Path(folder)
        found.hidden += [here / name for name in sorted(folders) if name.startswith(".")]
        folders[:] = sorted(name for name in folders if not name.startswith("."))
        for name in names:
            (found.hidden if name.startswith(".") else files).append(here / name)
    return sorted(files)


def _classify(path: Path, relative: str, found: FolderScan) -> None:
    if is_own_result(path):
        found.own_results.append(path)
        return
    try:
        relative.encode("utf-8")
        kind = image_format(path)
    except UnicodeEncodeError:
        found.unreadable.append((path, "the file name is not valid UTF-8"))
        return
    except OSError as exc:
        found.unreadable.append((path, exc.strerror or str(exc)))
        return
    if kind is None:
        found.not_images.append(path)
    else:
        found.images.append(LocalImage(relative, path, kind, path.stat().st_size))


def is_own_result(path: Path) -> bool:
    """`a.jpg.txt` or `a.jpg.json` beside `a.jpg`: what `imgpipe sync` writes next to an image."""
    name = path.name
    suffix = next((s for s in RESULT_SUFFIXES if name.endswith(s)), None)
    if suffix is None or len(name) == len(suffix):
        return False
    image = path.with_name(name[: -len(suffix)])
    try:
        return image.is_file() and image_format(image) is not None
    except OSError:
        return False


def image_key(layout: KeyLayout, key_prefix: str, image: LocalImage) -> str:
    return layout.input_prefix + key_prefix + image.relative


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
