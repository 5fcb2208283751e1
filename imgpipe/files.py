"""Local folders: which files are images (by their content, not their name) and their object keys."""

from __future__ import annotations

import hashlib
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from image_analysis.domain.keys import KeyLayout
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
    """Every file under root, recursively, sorted; hidden files and folders (".name") are skipped."""
    found = FolderScan()
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if any(part.startswith(".") for part in relative.parts) or not path.is_file():
            continue
        try:
            relative.as_posix().encode("utf-8")
            kind = image_format(path)
        except UnicodeEncodeError:
            found.unreadable.append((path, "the file name is not valid UTF-8"))
            continue
        except OSError as exc:
            found.unreadable.append((path, exc.strerror or str(exc)))
            continue
        if kind is None:
            found.not_images.append(path)
        else:
            found.images.append(LocalImage(relative.as_posix(), path, kind, path.stat().st_size))
    return found


def image_key(layout: KeyLayout, key_prefix: str, image: LocalImage) -> str:
    return layout.input_prefix + key_prefix + image.relative


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def key_prefix(value: str) -> str:
    """A --prefix value as a key prefix: relative, '/'-separated, ending in '/' ('' for none)."""
    cleaned = value.strip().strip("/")
    return f"{cleaned}/" if cleaned else ""
