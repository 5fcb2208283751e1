"""Amazon Comprehend adapter: language, entities, key phrases and PII of the text read in an image."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor, Future, wait
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from ..domain.language import (
    ENTITY_LANGUAGES,
    PII_LANGUAGES,
    Entity,
    PiiEntity,
    TextInsights,
    billed_units,
    within_request_limit,
)
from .errors import translate

if TYPE_CHECKING:
    from mypy_boto3_comprehend import ComprehendClient


class Comprehend:
    """Comprehend's single-document Detect* operations, through one client."""

    def __init__(self, client: ComprehendClient) -> None:
        self.client = client

    def understand(self, text: str, min_score: float, executor: Executor) -> TextInsights:
        """The dominant language first; then entities, key phrases and PII at once on `executor`, where
        Comprehend supports that language (the skipped calls say why). Text over the request limit is
        cut. The first failure is raised once all three have finished."""
        text = within_request_limit(text)
        languages = _call(self.client.detect_dominant_language, "DetectDominantLanguage", Text=text)
        best = max(languages.get("Languages", []), key=lambda lang: float(lang.get("Score", 0)), default=None)
        units = billed_units(text)
        if best is None:
            return TextInsights(language=None, skipped=["no language recognised"], billed_units=units)
        language, score = str(best["LanguageCode"]), round(float(best.get("Score", 0)), 3)
        skipped = []
        calls: dict[str, Future[Any]] = {}
        if language in ENTITY_LANGUAGES:
            calls["entities"] = executor.submit(self._entities, text, language, min_score)
            calls["phrases"] = executor.submit(self._key_phrases, text, language, min_score)
        else:
            skipped.append(f"entities and key phrases: Comprehend does not support language {language!r}")
        if language in PII_LANGUAGES:
            calls["pii"] = executor.submit(self._pii, text, language, min_score)
        else:
            skipped.append(f"PII: Comprehend detects it in English and Spanish only, not {language!r}")
        wait(calls.values())
        for call in calls.values():
            if call.exception() is not None:
                raise call.exception()  # type: ignore[misc]
        found = {name: call.result() for name, call in calls.items()}
        entities: list[Entity] = found.get("entities", [])
        phrases: list[str] = found.get("phrases", [])
        pii: list[PiiEntity] = found.get("pii", [])
        return TextInsights(language, score, entities, phrases, pii, skipped, (1 + len(calls)) * units)

    def _entities(self, text: str, language: str, min_score: float) -> list[Entity]:
        response = _call(self.client.detect_entities, "DetectEntities", Text=text, LanguageCode=language)
        return [
            Entity(type=str(e["Type"]), text=str(e["Text"]), score=round(float(e["Score"]), 3))
            for e in response.get("Entities", [])
            if float(e.get("Score", 0)) >= min_score
        ]

    def _key_phrases(self, text: str, language: str, min_score: float) -> list[str]:
        response = _call(self.client.detect_key_phrases, "DetectKeyPhrases", Text=text, LanguageCode=language)
        return [
            str(p["Text"]) for p in response.get("KeyPhrases", []) if float(p.get("Score", 0)) >= min_score
        ]

    def _pii(self, text: str, language: str, min_score: float) -> list[PiiEntity]:
        response = _call(
            self.client.detect_pii_entities, "DetectPiiEntities", Text=text, LanguageCode=language
        )
        return [
            PiiEntity(
                type=str(p["Type"]),
                score=round(float(p["Score"]), 3),
                begin=int(p["BeginOffset"]),
                end=int(p["EndOffset"]),
            )
            for p in response.get("Entities", [])
            if float(p.get("Score", 0)) >= min_score
        ]


def _call(method: Callable[..., Any], operation: str, **params: Any) -> dict[str, Any]:
    try:
        return dict(method(**params))
    except (ClientError, BotoCoreError) as exc:
        raise translate(exc, f"Comprehend {operation}") from exc
