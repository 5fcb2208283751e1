"""Argument types: every number and key prefix is checked by argparse before anything is read or sent,
so a bad value is a usage error (exit 2) with a message that says what is allowed."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

from image_analysis.domain.keys import MAX_S3_KEY_BYTES, is_plain_relative


def whole_number(low: int, high: int | None = None) -> Callable[[str], int]:
    """An int in [low, high] (high None: no upper bound)."""

    def parse(text: str) -> int:
        try:
            value = int(text.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"{value} is out of range: {_range(low, high)}")
        return value

    parse.__name__ = "whole number"  # argparse names the type in its "invalid ... value" message
    return parse


def seconds(low: float, high: float) -> Callable[[str], float]:
    """A finite number of seconds above `low` (exclusive) and at most `high`."""

    def parse(text: str) -> float:
        try:
            value = float(text.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
        if not math.isfinite(value) or value <= low or value > high:
            raise argparse.ArgumentTypeError(
                f"{text} is out of range: more than {low:g} and at most {high:g}"
            )
        return value

    parse.__name__ = "seconds"
    return parse


def key_prefix(text: str) -> str:
    """A --prefix as a key prefix below the input prefix: '/'-separated segments, none empty, '.' or
    '..', no backslash or control character, no leading '/'; returned ending in '/' ('' for none).

    The pipeline refuses to write results for such keys (unsafe_key), and tools that mirror keys to disk
    would resolve them outside their folder, so they are refused before anything is uploaded."""
    value = text.strip()
    if value.startswith("/"):
        raise argparse.ArgumentTypeError(
            f"{text!r} starts with '/': give a relative prefix such as trip-2026/"
        )
    cleaned = value.removesuffix("/")
    if not cleaned:
        return ""
    if not is_plain_relative(cleaned):
        raise argparse.ArgumentTypeError(
            f"{text!r} has an empty, '.' or '..' segment, a backslash or a control character; "
            "use plain names separated by '/', e.g. trip-2026/day-1/"
        )
    if len(cleaned.encode("utf-8")) >= MAX_S3_KEY_BYTES:
        raise argparse.ArgumentTypeError(
            f"{text!r} is longer than an S3 key may be ({MAX_S3_KEY_BYTES} bytes)"
        )
    return cleaned + "/"


def _range(low: int, high: int | None) -> str:
    return f"at least {low}" if high is None else f"from {low} to {high}"
