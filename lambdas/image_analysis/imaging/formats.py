"""What a file claims to be by its magic numbers, and whether it ends before its structure does.

Pillow names a format only once its header parses, so a JPEG cut after 200 bytes or a PNG with a
damaged header chunk would otherwise be reported as "not an image". Nothing here decodes: it reads
a few bytes and walks chunk and box lengths.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator
from typing import Literal

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_TEXT_CHUNKS = (b"tEXt", b"zTXt", b"iTXt")
_HEIF_BRANDS = (b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs", b"mif1", b"msf1")
_BMP_HEADER_SIZES = (12, 16, 40, 52, 56, 64, 108, 124)


def sniff(data: bytes) -> str | None:
    """The accepted format ("JPEG", "PNG", "GIF", "WebP", "TIFF", "BMP", "HEIF") the bytes start as."""
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if data.startswith(PNG_SIGNATURE):
        return "PNG"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WebP"
    if data[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):  # classic and BigTIFF
        return "TIFF"
    if data[4:8] == b"ftyp" and data[8:12] in _HEIF_BRANDS:
        return "HEIF"
    if data[:2] == b"BM" and (len(data) < 18 or _le32(data, 14) in _BMP_HEADER_SIZES):
        return "BMP"  # "BM" alone is weak: the DIB header size, when present, must be a real one
    return None


def ends_early(data: bytes, fmt: str) -> bool:
    """True when the file stops before the end its own structure announces (a cut upload)."""
    check = _ENDS_EARLY.get(fmt.upper())
    return check(data) if check else False


def png_without_text(data: bytes) -> tuple[bytes, list[bytes]]:
    """The PNG without its tEXt/zTXt/iTXt chunks, and the keywords of the chunks taken out."""
    kept, keywords, end = [data[:8]], [], 8
    for kind, start, end in _png_chunks(data):
        if kind in PNG_TEXT_CHUNKS:
            keywords.append(data[start + 8 : end - 4].split(b"\x00", 1)[0][:79])
        else:
            kept.append(data[start:end])
    kept.append(data[end:])
    return b"".join(kept), keywords


def _png_chunks(data: bytes) -> Iterator[tuple[bytes, int, int]]:
    """(type, start, end) of each chunk up to the data's end; the last may run past it."""
    pos = len(PNG_SIGNATURE)
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        end = pos + 12 + length
        yield kind, pos, end
        if kind == b"IEND" or end > len(data):
            return
        pos = end


def _png_ends_early(data: bytes) -> bool:
    chunks = list(_png_chunks(data))
    return not chunks or chunks[-1][0] != b"IEND" or chunks[-1][2] > len(data)


def _jpeg_ends_early(data: bytes) -> bool:
    return not data.rstrip(b"\x00").endswith(b"\xff\xd9")  # every JPEG ends with the EOI marker


def _gif_ends_early(data: bytes) -> bool:
    return len(data) < 13 or not data.rstrip(b"\x00").endswith(b";")  # the trailer byte, 0x3B


def _webp_ends_early(data: bytes) -> bool:
    return len(data) < 12 or len(data) < 8 + _le32(data, 4)  # RIFF's size field counts from byte 8


def _bmp_ends_early(data: bytes) -> bool:
    return len(data) < 26 or len(data) < _le32(data, 2)  # bfSize: the whole file (0 when unknown)


def _tiff_ends_early(data: bytes) -> bool:
    """The first directory (its entry count, entries and next-directory offset) lies past the end."""
    if len(data) < 16:
        return True
    order: Literal["little", "big"] = "little" if data[:2] == b"II" else "big"
    if data[2:4] in (b"+\x00", b"\x00+"):  # BigTIFF: 8-byte offsets and counts, 20-byte entries
        offset = int.from_bytes(data[8:16], order)
        count_size, entry_size, next_size = 8, 20, 8
    else:
        offset = int.from_bytes(data[4:8], order)
        count_size, entry_size, next_size = 2, 12, 4
    if offset + count_size > len(data):
        return True
    count = int.from_bytes(data[offset : offset + count_size], order)
    return offset + count_size + count * entry_size + next_size > len(data)


def _heif_ends_early(data: bytes) -> bool:
    """Walk the top-level ISO-BMFF boxes (ftyp, meta, mdat...); one running past the end means cut."""
    pos = 0
    while pos + 8 <= len(data):
        size = int.from_bytes(data[pos : pos + 4], "big")
        if size == 1:  # 64-bit size follows the type
            if pos + 16 > len(data):
                return True
            size = int.from_bytes(data[pos + 8 : pos + 16], "big")
        if size == 0:  # the box extends to the end of the file
            return False
        if size < 8:
            return False  # damaged, not cut
        pos += size
    return pos != len(data)


def _le32(data: bytes, offset: int) -> int:
    return int.from_bytes(data[offset : offset + 4], "little")


_ENDS_EARLY: dict[str, Callable[[bytes], bool]] = {
    "JPEG": _jpeg_ends_early,
    "MPO": _jpeg_ends_early,
    "PNG": _png_ends_early,
    "GIF": _gif_ends_early,
    "WEBP": _webp_ends_early,
    "BMP": _bmp_ends_early,
    "TIFF": _tiff_ends_early,
    "HEIF": _heif_ends_early,
}
