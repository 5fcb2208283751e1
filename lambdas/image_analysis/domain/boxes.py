"""Bounding boxes, shared by every analysis that finds things in a picture (labels, text, faces)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Box:
    """A bounding box as ratios of the image's width and height (Rekognition's convention)."""

    left: float
    top: float
    width: float
    height: float
