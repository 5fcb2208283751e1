"""The analyses of one prepared image, run concurrently: where a new analysis is wired in (its switch,
its call on an adapter, its outcome), and the fingerprint of the settings that shape them.

An image costs about its slowest call, not the sum. A call that fails permanently leaves the others
standing (the image becomes partial); a transient or configuration failure is re-raised after every
call has finished, so the message is retried as a whole. The embedding's vector is returned beside
the analyses, never in them: it goes to the vector index (embedding.py), not into the document.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import asdict, replace
from typing import Any

from .domain.errors import AnalysisFailed, ConfigurationError, TransientError
from .domain.faces import Face
from .domain.language import TextInsights, document_text, meaningful_chars
from .domain.models import (
    SCHEMA_VERSION,
    Analyses,
    AnalysisOutcome,
    Cost,
    Gps,
    GpsFix,
    Label,
    Location,
    TextLine,
)
from .domain.states import AnalysisStatus
from .embedding import Vector, described, embed
from .imaging import geo
from .imaging.prepare import PreparedImage
from .imaging.renditions import Rendition, box_in_picture
from .runtime import Runtime
from .settings import Settings

REKOGNITION_ANALYSES = ("labels", "text", "moderation", "faces")
# Settings whose names start so (timeouts aside) change what an analysis finds: see analysis_fingerprint.
ANALYSIS_SETTING_PREFIXES = (
    "enable_", "bedrock_", "labels_", "text_", "moderation_", "rekognition_", "faces_", "comprehension_",
    "embedding_",
)  # fmt: skip


def analyse(prepared: PreparedImage, rt: Runtime) -> tuple[Analyses, Vector | None]:
    """The analyses of one image, and its embedding when that is on and succeeded."""
    settings, executor = rt.settings, rt.executor
    gps = _gps(prepared, settings)
    rek_bytes = prepared.rekognition.data
    rek = rt.rekognition
    calls: dict[str, Callable[[], Any]] = {}
    on_picture = prepared.rekognition
    if settings.enable_labels:
        calls["labels"] = lambda: _labels_on_picture(
            rek.detect_labels(rek_bytes, settings.labels_max, settings.labels_min_confidence),
            on_picture,
        )
    if settings.enable_text:
        calls["text"] = lambda: _text_on_picture(
            rek.detect_text(rek_bytes, settings.text_min_confidence), on_picture
        )
    if settings.enable_moderation:
        calls["moderation"] = lambda: rek.detect_moderation(rek_bytes, settings.moderation_min_confidence)
    if settings.enable_faces:
        calls["faces"] = lambda: _faces_on_picture(
            rek.detect_faces(rek_bytes, settings.faces_min_confidence, settings.faces_emotion_min_confidence),
            on_picture,
        )
    if settings.enable_embeddings and rt.embeddings is not None:
        calls["embedding"] = lambda: embed(prepared, rt)
    gate_on_moderation = settings.skip_location_if_flagged and settings.enable_moderation
    if settings.enable_location and not gate_on_moderation:
        calls["location"] = _locate_call(prepared, rt, gps)
    futures = {name: executor.submit(_timed, call) for name, call in calls.items()}
    understanding = _comprehension_call(futures.get("text"), rt)  # waits for the text; the rest runs on
    if not isinstance(understanding, str):
        futures["comprehension"] = executor.submit(_timed, understanding)
    results = {name: _settle(future) for name, future in futures.items()}
    if settings.enable_location and gate_on_moderation:
        moderation = results["moderation"][0]
        if moderation is not None and moderation.flagged:
            results["location"] = (None, AnalysisOutcome(AnalysisStatus.SKIPPED, "flagged by moderation"))
        else:
            futures["location"] = executor.submit(_timed, _locate_call(prepared, rt, gps))
            results["location"] = _settle(futures["location"])
    _raise_retryable(futures)
    outcomes = {name: outcome for name, (_, outcome) in results.items()}
    for name in ("location", *REKOGNITION_ANALYSES, "embedding"):
        outcomes.setdefault(name, AnalysisOutcome(AnalysisStatus.SKIPPED, "switched off"))
    outcomes["gps"] = _gps_outcome(prepared, settings, gps)
    if isinstance(understanding, str):
        outcomes["comprehension"] = AnalysisOutcome(AnalysisStatus.SKIPPED, understanding)
    value = {name: result for name, (result, _) in results.items()}
    vector = value.get("embedding")
    analyses = Analyses(
        location=value.get("location"),
        gps=gps,
        labels=value.get("labels") or [],
        text=value.get("text") or [],
        moderation=value.get("moderation"),
        outcomes=outcomes,
        faces=value.get("faces") or [],
        comprehension=value.get("comprehension"),
        embedding=described(rt) if vector is not None else None,
    )
    return analyses, vector


def analysis_fingerprint(settings: Settings) -> str:
    """Hash of everything that changes an analysis' outcome.

    Results cached by content are reused only under the same fingerprint, and a record made under
    another fingerprint is stale (a model or threshold change), which backfill can find.
    """
    relevant = {
        k: v
        for k, v in asdict(settings).items()
        if (k.startswith(ANALYSIS_SETTING_PREFIXES) or k == "skip_location_if_flagged")
        and not k.endswith("_timeout_s")  # how long a client waits changes no answer
    }
    relevant["schema_version"] = SCHEMA_VERSION
    if settings.simulated_ai:  # simulated answers are never reused for a real analysis (nor the reverse)
        relevant["simulated_ai"] = True
    digest = hashlib.sha256(json.dumps(relevant, sort_keys=True).encode()).hexdigest()
    return digest[:16]


def estimate_cost(analyses: Analyses, settings: Settings) -> Cost:
    """Billable usage of this analysis and its price under the configured per-call prices."""
    billed = sum(1 for name in (*REKOGNITION_ANALYSES, "people") if _ran(analyses, name))
    location: Location | None = analyses.location
    tokens_in = location.input_tokens if location else 0
    tokens_out = location.output_tokens if location else 0
    units = analyses.comprehension.billed_units if analyses.comprehension else 0
    embedded = 1 if _ran(analyses, "embedding") else 0
    usd = (
        billed * settings.price_rekognition_image_usd
        + embedded * settings.price_embedding_image_usd
        + units * settings.price_comprehend_unit_usd
        + tokens_in / 1e6 * settings.price_bedrock_input_mtok_usd
        + tokens_out / 1e6 * settings.price_bedrock_output_mtok_usd
    )
    return Cost(
        rekognition_images=billed,
        input_tokens=tokens_in,
        output_tokens=tokens_out,
        comprehend_units=units,
        embedded_images=embedded,
        estimated_usd=round(usd, 6),
    )


def _ran(analyses: Analyses, name: str) -> bool:
    outcome = analyses.outcomes.get(name)
    return outcome is not None and outcome.status == AnalysisStatus.OK


def _labels_on_picture(labels: list[Label], rendition: Rendition) -> list[Label]:
    """Instance boxes as ratios of the picture, when Rekognition saw it padded (renditions.py)."""
    if rendition.content is None:
        return labels
    return [
        replace(label, instances=[b for b in (box_in_picture(i, rendition) for i in label.instances) if b])
        for label in labels
    ]


def _text_on_picture(lines: list[TextLine], rendition: Rendition) -> list[TextLine]:
    if rendition.content is None:
        return lines
    return [replace(line, box=box_in_picture(line.box, rendition) if line.box else None) for line in lines]


def _faces_on_picture(faces: list[Face], rendition: Rendition) -> list[Face]:
    """A face found only on the padding is dropped."""
    placed = ((face, box_in_picture(face.box, rendition)) for face in faces)
    return [replace(face, box=box) for face, box in placed if box is not None]


def _comprehension_call(
    text: Future[tuple[Any, int]] | None, rt: Runtime
) -> Callable[[], TextInsights] | str:
    """Comprehend's call on the detected text, or why there is none (no call for empty or tiny text)."""
    settings = rt.settings
    if not settings.enable_comprehension:
        return "switched off"
    if text is None:
        return "needs text detection (ENABLE_TEXT)"
    if text.exception() is not None:
        return "text detection failed"
    document = document_text([line.text for line in text.result()[0]])
    found = meaningful_chars(document)
    if found < settings.comprehension_min_chars:
        return f"too little text ({found} letters or digits; at least {settings.comprehension_min_chars})"
    return lambda: rt.comprehend.understand(document, settings.comprehension_min_score, rt.executor)


def _locate_call(prepared: PreparedImage, rt: Runtime, gps: Gps | None) -> Callable[[], Location]:
    settings = rt.settings
    return lambda: rt.bedrock.locate(
        prepared.bedrock,
        model_id=settings.bedrock_model_id,
        max_tokens=settings.bedrock_max_tokens,
        temperature=settings.bedrock_temperature,
        gps_place=gps.place if gps else None,
    )


def _gps(prepared: PreparedImage, settings: Settings) -> Gps | None:
    return placed_gps(prepared.gps, settings)


def placed_gps(fix: GpsFix | None, settings: Settings) -> Gps | None:
    """The EXIF fix with its reverse-geocoded place (offline), or None (no fix, or GPS switched off)."""
    if not settings.enable_gps or fix is None:
        return None
    place = geo.reverse_geocode(fix.latitude, fix.longitude)
    return Gps(latitude=fix.latitude, longitude=fix.longitude, altitude_m=fix.altitude_m, place=place)


def _gps_outcome(prepared: PreparedImage, settings: Settings, gps: Gps | None) -> AnalysisOutcome:
    if not settings.enable_gps:
        return AnalysisOutcome(AnalysisStatus.SKIPPED, "switched off")
    if gps is None:
        return AnalysisOutcome(AnalysisStatus.SKIPPED, "no GPS in the image's EXIF")
    if gps.place is None:
        return AnalysisOutcome(AnalysisStatus.OK, "no town within range of the coordinates")
    return AnalysisOutcome(AnalysisStatus.OK)


def _timed(call: Callable[[], Any]) -> tuple[Any, int]:
    start = time.perf_counter()
    value = call()
    return value, round((time.perf_counter() - start) * 1000)


def _settle(future: Future[tuple[Any, int]]) -> tuple[Any, AnalysisOutcome]:
    """Wait for one call; a permanent failure becomes a failed outcome, anything else propagates later."""
    try:
        value, latency_ms = future.result()
    except AnalysisFailed as exc:
        return None, AnalysisOutcome(AnalysisStatus.FAILED, exc.message)
    except (TransientError, ConfigurationError):
        return None, AnalysisOutcome(AnalysisStatus.FAILED, "retryable")
    return value, AnalysisOutcome(AnalysisStatus.OK, latency_ms=latency_ms)


def _raise_retryable(futures: dict[str, Future[tuple[Any, int]]]) -> None:
    """Configuration errors first (they are louder), then transient ones."""
    errors = [f.exception() for f in futures.values() if f.exception() is not None]
    for kind in (ConfigurationError, TransientError):
        for error in errors:
            if isinstance(error, kind):
                raise error
