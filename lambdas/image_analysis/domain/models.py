"""The result model: one versioned document per image, written as JSON and rendered as text.

Plain dataclasses (no pydantic) keep the Lambda's import time and asset small. `to_dict` gives the
JSON document; `from_dict` reads it back (the CLI and tests use it).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import Enum
from typing import Any

from .boxes import Box as Box
from .faces import Face, IndexedFace, describe_face, face_from_dict, indexed_face_from_dict
from .language import TextInsights, insights_from_dict
from .states import AnalysisStatus, ImageStatus

# Version of the result document and table records (bump on breaking change). 2: faces, text
# understanding (language, entities, key phrases, PII types) and people (see docs/architecture.md).
SCHEMA_VERSION = 2
SIMULATED_NOTICE = (
    "SIMULATED: Bedrock and Rekognition were imgpipe's simulated AI services; these answers are computed "
    "from pixel colours and fingerprints, not by Amazon Bedrock or Amazon Rekognition."
)


@dataclass(frozen=True)
class Label:
    name: str
    confidence: float
    parents: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    instances: list[Box] = field(default_factory=list)


@dataclass(frozen=True)
class TextLine:
    text: str
    confidence: float
    box: Box | None = None


@dataclass(frozen=True)
class ModerationLabel:
    name: str
    parent: str | None
    confidence: float


@dataclass(frozen=True)
class Moderation:
    flagged: bool
    labels: list[ModerationLabel] = field(default_factory=list)


@dataclass(frozen=True)
class Place:
    """A reverse-geocoded place (offline, from the image's EXIF GPS)."""

    city: str | None
    region: str | None
    country: str | None
    country_code: str | None
    distance_km: float | None = None


@dataclass(frozen=True)
class GpsFix:
    """The coordinates a camera or phone wrote into the photo's EXIF (before geocoding)."""

    latitude: float
    longitude: float
    altitude_m: float | None = None


@dataclass(frozen=True)
class Gps:
    latitude: float
    longitude: float
    altitude_m: float | None = None
    place: Place | None = None


@dataclass(frozen=True)
class Location:
    """Where Claude thinks the photo was taken."""

    description: str
    place: str | None
    city: str | None
    region: str | None
    country: str | None
    confidence: float
    model_id: str
    input_tokens: int = 0
    output_tokens: int = 0


@dataclass(frozen=True)
class Embedding:
    """That the image was embedded, and in which space: the vector itself is in the vector index
    (keyed by the image key), never in the document."""

    model_id: str
    dimension: int


@dataclass(frozen=True)
class AnalysisOutcome:
    """How one analysis went: ok, skipped (switched off / gated / reused) or failed."""

    status: AnalysisStatus
    reason: str | None = None
    latency_ms: int | None = None


@dataclass(frozen=True)
class ImageInfo:
    bucket: str
    key: str
    version_id: str | None
    etag: str | None
    size_bytes: int
    sha256: str | None = None
    format: str | None = None
    width: int | None = None
    height: int | None = None


@dataclass(frozen=True)
class Cost:
    rekognition_images: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    estimated_usd: float = 0.0
    comprehend_units: int = 0
    embedded_images: int = 0  # embedding model calls (a vector reused for identical bytes costs none)


@dataclass(frozen=True)
class Analyses:
    """Everything learned from the pixels; cached by content hash and reused for identical bytes."""

    location: Location | None = None
    gps: Gps | None = None
    labels: list[Label] = field(default_factory=list)
    text: list[TextLine] = field(default_factory=list)
    moderation: Moderation | None = None
    outcomes: dict[str, AnalysisOutcome] = field(default_factory=dict)
    faces: list[Face] = field(default_factory=list)
    comprehension: TextInsights | None = None  # Comprehend on the detected text
    people: list[IndexedFace] = field(default_factory=list)  # faces indexed into the collection
    embedding: Embedding | None = None  # the image's vector is in the vector index (search)


@dataclass(frozen=True)
class CachedAnalysis:
    """An earlier analysis of identical bytes (the content cache), reused for an upload under another key."""

    analyses: Analyses
    format: str | None
    width: int | None
    height: int | None
    source_key: str  # the image key it was made for (the result's reused_from)


@dataclass(frozen=True)
class ImageError:
    """Why an image was refused: `code` is stable and machine-readable (e.g. "truncated")."""

    code: str
    message: str


@dataclass(frozen=True)
class ImageResult:
    image: ImageInfo
    status: ImageStatus  # complete | partial | failed
    processed_at: str
    settings_fingerprint: str
    analyses: Analyses = field(default_factory=Analyses)
    error: ImageError | None = None  # when failed
    reused_from: str | None = None  # image key whose analysis was reused (identical bytes)
    cost: Cost = field(default_factory=Cost)
    notes: list[str] = field(default_factory=list)  # e.g. a broken EXIF block that was ignored
    schema_version: int = SCHEMA_VERSION
    # True when Bedrock and Rekognition were imgpipe's simulated AI services (`imgpipe local --simulated-ai`)
    simulated: bool = False

    @property
    def flagged(self) -> bool:
        return bool(self.analyses.moderation and self.analyses.moderation.flagged)

    @property
    def has_pii(self) -> bool:
        return bool(self.analyses.comprehension and self.analyses.comprehension.has_pii)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self, dict_factory=_plain_dict)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ImageResult:
        return cls(
            image=ImageInfo(**data["image"]),
            status=ImageStatus(data["status"]),
            processed_at=data["processed_at"],
            settings_fingerprint=data["settings_fingerprint"],
            analyses=analyses_from_dict(data.get("analyses") or {}),
            error=ImageError(**data["error"]) if data.get("error") else None,
            reused_from=data.get("reused_from"),
            cost=Cost(**(data.get("cost") or {})),
            notes=list(data.get("notes") or []),
            schema_version=data.get("schema_version", SCHEMA_VERSION),
            simulated=bool(data.get("simulated", False)),
        )


def analyses_to_dict(analyses: Analyses) -> dict[str, Any]:
    return asdict(analyses, dict_factory=_plain_dict)


def _plain_dict(items: list[tuple[str, Any]]) -> dict[str, Any]:
    """asdict's dict factory: states become their plain strings, so the document is plain JSON types."""
    return {key: value.value if isinstance(value, Enum) else value for key, value in items}


def analyses_from_dict(data: dict[str, Any]) -> Analyses:
    gps = data.get("gps")
    moderation = data.get("moderation")
    return Analyses(
        location=Location(**data["location"]) if data.get("location") else None,
        gps=Gps(
            latitude=gps["latitude"],
            longitude=gps["longitude"],
            altitude_m=gps.get("altitude_m"),
            place=Place(**gps["place"]) if gps.get("place") else None,
        )
        if gps
        else None,
        labels=[
            Label(
                name=item["name"],
                confidence=item["confidence"],
                parents=list(item.get("parents", [])),
                categories=list(item.get("categories", [])),
                instances=[Box(**box) for box in item.get("instances", [])],
            )
            for item in data.get("labels", [])
        ],
        text=[
            TextLine(
                text=t["text"], confidence=t["confidence"], box=Box(**t["box"]) if t.get("box") else None
            )
            for t in data.get("text", [])
        ],
        moderation=Moderation(
            flagged=moderation["flagged"],
            labels=[ModerationLabel(**label) for label in moderation.get("labels", [])],
        )
        if moderation
        else None,
        outcomes={
            name: AnalysisOutcome(**(o | {"status": AnalysisStatus(o["status"])}))
            for name, o in (data.get("outcomes") or {}).items()
        },
        faces=[face_from_dict(face) for face in data.get("faces", [])],
        comprehension=insights_from_dict(data["comprehension"]) if data.get("comprehension") else None,
        people=[indexed_face_from_dict(face) for face in data.get("people", [])],
        embedding=Embedding(**data["embedding"]) if data.get("embedding") else None,
    )


def render_text(result: ImageResult) -> str:
    """The human-readable .txt: the one-line location first, then labels, then text lines."""
    analyses = result.analyses
    lines = [_headline(result)]
    if analyses.gps:
        gps = analyses.gps
        where = _place_name(gps.place) if gps.place else "unknown place"
        lines.append(f"GPS: {gps.latitude:.5f}, {gps.longitude:.5f} ({where})")
    if analyses.labels:
        lines.append("Labels: " + ", ".join(f"{lb.name} ({lb.confidence:.0f}%)" for lb in analyses.labels))
    elif _ran(analyses, "labels"):
        lines.append("Labels: none found")
    if analyses.text:
        lines.append("Text:")
        lines.extend(f"  {t.text}" for t in analyses.text)
    elif _ran(analyses, "text"):
        lines.append("Text: none found")
    if analyses.faces:
        lines.append(f"Faces: {len(analyses.faces)}")
        lines.extend(f"  {describe_face(face)}" for face in analyses.faces)
    if analyses.comprehension:
        lines.extend(_understanding_lines(analyses.comprehension))
    if analyses.people:
        lines.append(f"People: {len(analyses.people)} face(s) indexed for `imgpipe people`")
    if analyses.moderation:
        mod = analyses.moderation
        names = ", ".join(m.name for m in mod.labels)
        lines.append(f"Moderation: flagged ({names})" if mod.flagged else "Moderation: nothing unsafe found")
    for name, outcome in sorted(analyses.outcomes.items()):
        if outcome.status != AnalysisStatus.OK:
            lines.append(f"{name}: {outcome.status}" + (f" ({outcome.reason})" if outcome.reason else ""))
    if result.reused_from:
        lines.append(f"Same bytes as {result.reused_from}; its analysis was reused.")
    if result.simulated:
        lines.append(SIMULATED_NOTICE)
    return "\n".join(lines) + "\n"


def _understanding_lines(insights: TextInsights) -> list[str]:
    lines = [f"Language: {insights.language or 'unknown'}"]
    if insights.entities:
        lines.append("Entities: " + ", ".join(f"{e.text} ({e.type})" for e in insights.entities))
    if insights.key_phrases:
        lines.append("Key phrases: " + ", ".join(insights.key_phrases))
    if insights.has_pii:
        lines.append("Personal information: " + ", ".join(insights.pii_types))
    return lines


def not_analysed(outcome: AnalysisOutcome | None) -> str | None:
    """Why an analysis has no answer: a skip's reason ("switched off"), "failed: <reason>", "not run";
    None when it ran, so an empty answer then means it found nothing."""
    if outcome is None:
        return "not run"
    if outcome.status == AnalysisStatus.OK:
        return None
    if outcome.status == AnalysisStatus.SKIPPED:
        return outcome.reason or "skipped"
    return f"failed: {outcome.reason}" if outcome.reason else "failed"


def _ran(analyses: Analyses, name: str) -> bool:
    outcome = analyses.outcomes.get(name)
    return outcome is not None and outcome.status == AnalysisStatus.OK


def _headline(result: ImageResult) -> str:
    marker = "SIMULATED AI: " if result.simulated else ""
    if result.status == ImageStatus.FAILED and result.error:
        return f"Not analysed: {result.error.message}"
    location = result.analyses.location
    if location:
        return marker + location.description
    gps = result.analyses.gps
    if gps and gps.place:
        return f"Taken near {_place_name(gps.place)} (from the photo's GPS)"
    why = not_analysed(result.analyses.outcomes.get("location"))
    if why and "location" in result.analyses.outcomes:
        return f"Location not analysed ({why})"
    return marker + "Location unknown"


def _place_name(place: Place) -> str:
    return ", ".join(part for part in (place.city, place.region, place.country) if part) or "unknown place"
