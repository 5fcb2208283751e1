"""Text understanding (Amazon Comprehend) of the text read in an image: its dominant language, named
entities, key phrases, and the types of personal information (PII) it shows.

PII is kept as types and positions in the text only; the values are never copied into the record,
a log line or a metric (the text itself stays in the result document, as it did before).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Comprehend's single-document Detect* operations take at most 100 KB of UTF-8 text.
COMPREHEND_MAX_BYTES = 100_000
# Languages Comprehend's built-in entity and key-phrase models support; PII detection only two.
ENTITY_LANGUAGES = frozenset({"en", "es", "fr", "de", "it", "pt", "ar", "hi", "ja", "ko", "zh", "zh-TW"})
PII_LANGUAGES = frozenset({"en", "es"})


@dataclass(frozen=True)
class Entity:
    type: str  # e.g. PERSON, LOCATION, ORGANIZATION, DATE
    text: str
    score: float


@dataclass(frozen=True)
class PiiEntity:
    """Where personal information is in the text (character offsets), never its value."""

    type: str  # e.g. CREDIT_DEBIT_NUMBER, NAME, ADDRESS, SSN
    score: float
    begin: int
    end: int


@dataclass(frozen=True)
class TextInsights:
    language: str | None  # e.g. "en"; None when Comprehend named none
    language_score: float | None = None
    entities: list[Entity] = field(default_factory=list)
    key_phrases: list[str] = field(default_factory=list)
    pii: list[PiiEntity] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # calls not made, and why (e.g. language)
    billed_units: int = 0  # Comprehend's units (100 characters, at least 3 per request) of every call

    @property
    def has_pii(self) -> bool:
        return bool(self.pii)

    @property
    def pii_types(self) -> list[str]:
        return sorted({p.type for p in self.pii})


def insights_from_dict(data: dict[str, Any]) -> TextInsights:
    return TextInsights(
        language=data.get("language"),
        language_score=data.get("language_score"),
        entities=[Entity(**e) for e in data.get("entities", [])],
        key_phrases=list(data.get("key_phrases", [])),
        pii=[PiiEntity(**p) for p in data.get("pii", [])],
        skipped=list(data.get("skipped", [])),
        billed_units=int(data.get("billed_units", 0)),
    )


def document_text(lines: list[str]) -> str:
    """The text Comprehend reads: the detected lines, one per line."""
    return "\n".join(line.strip() for line in lines if line.strip())


def meaningful_chars(text: str) -> int:
    """Letters and digits: what decides whether there is enough text to understand."""
    return sum(1 for ch in text if ch.isalnum())


def within_request_limit(text: str, max_bytes: int = COMPREHEND_MAX_BYTES) -> str:
    """Cut to Comprehend's per-request UTF-8 size, never inside a character."""
    encoded = text.encode("utf-8")
    if len(encoded) <= max_bytes:
        return text
    return encoded[:max_bytes].decode("utf-8", errors="ignore")


def billed_units(text: str) -> int:
    """Comprehend bills a request in units of 100 characters, at least 3 units."""
    return max(3, -(-len(text) // 100))
