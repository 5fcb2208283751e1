"""SIMULATED faces, not a face model: what the AI services test double (ai_services.py) answers for
Rekognition's face operations, computed from pixels by rules a test can follow.

The rules, on a copy of the image WORK_SIDE px long (or MIN_WORK_SHORT px on its short side):
  * A pixel is "skin" when R > G > B, 0.55 R <= G <= 0.9 R, 0.3 R <= B <= 0.8 R and R >= 90 (light
    to dark beige and brown; no named colour of ai_answers.NAMED_COLOURS is skin).
  * A face is a connected blob of skin pixels (4-neighbours, holes allowed) whose box is at least
    MIN_FACE_SHARE of the shorter side on both sides. Confidence grows with how much of its box the
    blob fills (an ellipse fills 79 %: 99.3 %; a thin diagonal streak stays under 90 %).
  * Non-skin pixels the blob encloses (between its first and last pixel on a row) that are darker
    than DARK (max channel) are features: dark pixels in the upper half of the box are eyes (eyes
    open when any, glasses from 12 % of that half, sunglasses from 25 %), dark pixels in the lower
    third a smile (then HAPPY, else CALM, at 92.5 %).
  * Age: 18 + 40 x (1 - luminance/255) years, a range of 8. Quality: brightness = luminance in %,
    sharpness grows with the face's height in pixels. Pose is frontal; five landmarks sit at fixed
    places in the box.
  * Identity (for IndexFaces/SearchFaces*): the blob's mean colour and its box's aspect ratio. Two faces
    are similar by 100 - 500 x the distance between those vectors (0..1 scale), so the same drawn face
    in two pictures matches (~95+) and a face of another tone does not.
GENDER, BEARD, MUSTACHE, MOUTH_OPEN, FACE_OCCLUDED and EYE_DIRECTION are accepted but not answered.
"""

from __future__ import annotations

import io
import math
from collections import deque
from dataclasses import dataclass
from typing import cast

from PIL import Image, ImageOps

from imgpipe.simulated.ai_answers import BoundingBox, JsonDict

WORK_SIDE = 160
MIN_WORK_SHORT = 48
MIN_FACE_SHARE = 0.06
DARK = 80
MAX_FACES = 100  # DetectFaces and IndexFaces describe the 100 largest faces
EMOTIONS = ("HAPPY", "SAD", "ANGRY", "CONFUSED", "DISGUSTED", "SURPRISED", "CALM", "FEAR")
ATTRIBUTES = frozenset(
    {"DEFAULT", "ALL", "AGE_RANGE", "BEARD", "EMOTIONS", "EYE_DIRECTION", "EYEGLASSES", "EYES_OPEN"}
    | {"GENDER", "MOUTH_OPEN", "MUSTACHE", "FACE_OCCLUDED", "SMILE", "SUNGLASSES"}
)
_LANDMARKS: tuple[tuple[str, float, float], ...] = (
    ("eyeLeft", 0.3, 0.4), ("eyeRight", 0.7, 0.4), ("nose", 0.5, 0.6), ("mouthLeft", 0.35, 0.8),
    ("mouthRight", 0.65, 0.8),
)  # fmt: skip


@dataclass(frozen=True)
class SimulatedFace:
    box: BoundingBox
    confidence: float
    mean_rgb: tuple[float, float, float]
    aspect: float  # the box's width / height in image pixels
    eyes_share: float  # dark share of the box's upper half
    mouth_share: float  # dark share of the box's lower third
    height_px: int  # in the image received

    @property
    def signature(self) -> tuple[float, ...]:
        """The face's simulated identity (see the module docstring)."""
        red, green, blue = (c / 255 for c in self.mean_rgb)
        return (red, green, blue, min(self.aspect, 2.0) / 2)


def similarity(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    return round(max(0.0, 100 - 500 * math.dist(a, b)), 3)


def is_skin(red: int, green: int, blue: int) -> bool:
    return (
        red >= 90
        and red > green > blue
        and 0.55 * red <= green <= 0.9 * red
        and 0.3 * red <= blue <= 0.8 * red
    )


def find_faces(data: bytes) -> list[SimulatedFace]:
    """Faces in the image by the rules above, largest first (at most MAX_FACES)."""
    with Image.open(io.BytesIO(data)) as raw:
        size = raw.size
        work = ImageOps.exif_transpose(raw).convert("RGB")
    # WORK_SIDE on the long side, but at least MIN_WORK_SHORT on the short side (thin panoramas).
    scale = min(1.0, max(WORK_SIDE / max(work.size), MIN_WORK_SHORT / min(work.size)))
    work = work.resize(
        (max(1, round(work.width * scale)), max(1, round(work.height * scale))), Image.Resampling.BOX
    )
    width, height = work.size
    pixels = cast(list[tuple[int, int, int]], list(work.get_flattened_data()))
    skin = [is_skin(*p) for p in pixels]
    seen = [False] * len(pixels)
    faces = []
    min_side = max(2, round(MIN_FACE_SHARE * min(width, height)))
    for start in range(len(pixels)):
        if skin[start] and not seen[start]:
            blob = _blob(start, skin, seen, width, height)
            xs, ys = [i % width for i in blob], [i // width for i in blob]
            left, top, right, bottom = min(xs), min(ys), max(xs) + 1, max(ys) + 1
            if right - left >= min_side and bottom - top >= min_side:
                faces.append(_face(blob, (left, top, right, bottom), pixels, skin, work.size, size))
    faces.sort(key=lambda f: -f.box.width * f.box.height)
    return faces[:MAX_FACES]


def _blob(start: int, skin: list[bool], seen: list[bool], width: int, height: int) -> list[int]:
    queue, blob = deque([start]), []
    seen[start] = True
    while queue:
        index = queue.popleft()
        blob.append(index)
        x, y = index % width, index // width
        for nx, ny in ((x - 1, y), (x + 1, y), (x, y - 1), (x, y + 1)):
            neighbour = ny * width + nx
            if 0 <= nx < width and 0 <= ny < height and skin[neighbour] and not seen[neighbour]:
                seen[neighbour] = True
                queue.append(neighbour)
    return blob


def _face(
    blob: list[int],
    bounds: tuple[int, int, int, int],
    pixels: list[tuple[int, int, int]],
    skin: list[bool],
    work_size: tuple[int, int],
    size: tuple[int, int],
) -> SimulatedFace:
    left, top, right, bottom = bounds
    width, height = work_size
    fill = len(blob) / ((right - left) * (bottom - top))
    mean = tuple(sum(pixels[i][c] for i in blob) / len(blob) for c in range(3))

    spans: dict[int, tuple[int, int]] = {}  # row -> the blob's first and last column: what it encloses
    for i in blob:
        x, y = i % width, i // width
        first, last = spans.get(y, (x, x))
        spans[y] = (min(first, x), max(last, x))

    def dark_share(y0: int, y1: int) -> float:
        cells = [
            y * width + x for y in range(y0, y1) if y in spans for x in range(spans[y][0], spans[y][1] + 1)
        ]
        dark = sum(1 for i in cells if not skin[i] and max(pixels[i]) < DARK)
        return dark / max(1, len(cells))

    middle, lower = top + (bottom - top) // 2, bottom - (bottom - top) // 3
    box = BoundingBox(
        left=round(left / width, 6),
        top=round(top / height, 6),
        width=round((right - left) / width, 6),
        height=round((bottom - top) / height, 6),
    )
    return SimulatedFace(
        box=box,
        confidence=round(min(99.9, 60 + 50 * fill), 3),
        mean_rgb=(mean[0], mean[1], mean[2]),
        aspect=(box.width * size[0]) / (box.height * size[1]),
        eyes_share=dark_share(top, middle),
        mouth_share=dark_share(lower, bottom),
        height_px=round(box.height * size[1]),
    )


def face_detail(face: SimulatedFace, attributes: set[str]) -> JsonDict:
    """A FaceDetail with DEFAULT's fields and those of the requested attributes that are simulated."""
    every = "ALL" in attributes
    red, green, blue = face.mean_rgb
    luminance = 0.299 * red + 0.587 * green + 0.114 * blue
    smiling = face.mouth_share > 0.02
    box = face.box
    detail: JsonDict = {
        "BoundingBox": box.to_wire(),
        "Landmarks": [
            {"Type": name, "X": round(box.left + x * box.width, 6), "Y": round(box.top + y * box.height, 6)}
            for name, x, y in _LANDMARKS
        ],
        "Pose": {"Roll": 0.0, "Yaw": 0.0, "Pitch": 0.0},
        "Quality": {
            "Brightness": round(luminance / 2.55, 3),
            "Sharpness": round(min(99.0, 30 + face.height_px / 4), 3),
        },
        "Confidence": face.confidence,
    }
    wanted = {name for name in ATTRIBUTES if every or name in attributes}
    if "AGE_RANGE" in wanted:
        low = 18 + round(40 * (1 - luminance / 255))
        detail["AgeRange"] = {"Low": low, "High": low + 8}
    if "SMILE" in wanted:
        detail["Smile"] = {"Value": smiling, "Confidence": 95.0}
    if "EMOTIONS" in wanted:
        main = "HAPPY" if smiling else "CALM"
        others = [e for e in EMOTIONS if e != main]
        detail["Emotions"] = [{"Type": main, "Confidence": 92.5}] + [
            {"Type": e, "Confidence": round(7.5 / len(others), 3)} for e in others
        ]
    for name, key, value in (
        ("EYES_OPEN", "EyesOpen", face.eyes_share > 0),
        ("EYEGLASSES", "Eyeglasses", face.eyes_share >= 0.12),
        ("SUNGLASSES", "Sunglasses", face.eyes_share >= 0.25),
    ):
        if name in wanted:
            detail[key] = {"Value": value, "Confidence": 95.0}
    return detail
