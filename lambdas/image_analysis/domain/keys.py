"""Key layout: which object keys are images, and where each image's results go.

`images/trip/a.jpg` -> `results/trip/a.jpg.json` and `results/trip/a.jpg.txt`: the full image file
name is kept in the result's name so `a.jpg` and `a.png` side by side never collide.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import ImageRejected

MAX_S3_KEY_BYTES = 1024
RESULT_SUFFIXES = (".json", ".txt")


@dataclass(frozen=True)
class KeyLayout:
    input_prefix: str
    output_prefix: str

    def is_image_key(self, key: str) -> bool:
        """True for an object the pipeline accounts for: anything under the input prefix but the prefix
        itself and the pipeline's own output. A key ending in '/' is included: an empty one is a folder
        marker (ignored when read), a non-empty one an upload that gets a record (unsafe_key)."""
        return (
            key.startswith(self.input_prefix)
            and not key.startswith(self.output_prefix)
            and len(key) > len(self.input_prefix)
        )

    def relative(self, image_key: str) -> str:
        if not self.is_image_key(image_key):
            raise ValueError(f"{image_key!r} is not under the input prefix {self.input_prefix!r}")
        return image_key[len(self.input_prefix) :]

    def result_key(self, image_key: str, suffix: str) -> str:
        """The result object for an image; refuses keys whose result would exceed S3's key limit."""
        if suffix not in RESULT_SUFFIXES:
            raise ValueError(f"unknown result suffix {suffix!r}")
        relative = self.relative(image_key)
        if relative.endswith("/"):
            raise ImageRejected(
                "unsafe_key", "the key ends in '/' like a folder name; results need a file name to go under"
            )
        if not is_plain_relative(relative):
            # S3 keys are literal, but tools that mirror them to disk would resolve these segments.
            raise ImageRejected(
                "unsafe_key",
                "the key has '.', '..' or empty path segments, a backslash or a control character",
            )
        key = f"{self.output_prefix}{relative}{suffix}"
        if len(key.encode("utf-8")) > MAX_S3_KEY_BYTES:
            raise ImageRejected(
                "key_too_long",
                f"the result key would be {len(key.encode('utf-8'))} bytes; S3 allows {MAX_S3_KEY_BYTES}",
            )
        return key

    def json_key(self, image_key: str) -> str:
        return self.result_key(image_key, ".json")

    def text_key(self, image_key: str) -> str:
        return self.result_key(image_key, ".txt")

    def image_key_for_result(self, result_key: str) -> str | None:
        """Inverse of result_key: the image a result object belongs to, or None."""
        if not result_key.startswith(self.output_prefix):
            return None
        for suffix in RESULT_SUFFIXES:
            if result_key.endswith(suffix):
                image_key = self.input_prefix + result_key[len(self.output_prefix) : -len(suffix)]
                return image_key if self.is_image_key(image_key) else None  # e.g. "results/.json"
        return None


def is_plain_relative(relative: str) -> bool:
    """True for 'a/b/c.jpg'-like paths: no '.', '..' or empty segments, backslashes or control chars."""
    if not relative or "\\" in relative or any(ord(ch) < 32 or ord(ch) == 127 for ch in relative):
        return False
    return all(segment not in ("", ".", "..") for segment in relative.split("/"))
