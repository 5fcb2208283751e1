"""One upload's result, before it is stored: refused (with what was read before the refusal), reused
from identical bytes analysed before (with their vector), refreshed over this key's earlier result
(only the analyses whose settings changed run again: fingerprints.py), or analysed in full.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace

from .analysis import analyse, estimate_cost, merge, placed_gps
from .domain.errors import AnalysisFailed, ImageRejected, ObjectMissing
from .domain.models import Analyses, AnalysisOutcome, CachedAnalysis, Cost, ImageError, ImageInfo, ImageResult
from .domain.records import result_keys_fit
from .domain.states import AnalysisStatus, ImageStatus
from .embedding import Vector, described, embed, reusable
from .fingerprints import analysis_fingerprint, analysis_fingerprints, changed_analyses
from .imaging.prepare import Limits, prepare
from .people import index_people
from .runtime import Runtime
from .settings import Settings

MAX_RESULT_BYTES = 8 * 1024 * 1024  # a result document is a few kilobytes; anything larger is not ours


def build_result(
    info: ImageInfo, data: bytes | None, rt: Runtime, use_cache: bool, refresh: bool = False
) -> tuple[ImageResult, Vector | None]:
    """The image's result, and its vector for the index (None: no embedding). With `use_cache`,
    identical bytes reuse an earlier analysis; with `refresh`, only the analyses whose settings changed
    since this key's result document run again."""
    settings = rt.settings
    fingerprint = analysis_fingerprint(settings)
    base = ImageResult(
        image=info,
        status=ImageStatus.FAILED,
        processed_at=rt.now_iso(),
        settings_fingerprint=fingerprint,
        simulated=settings.simulated_ai,
        analysis_fingerprints=analysis_fingerprints(settings),
    )
    if data is None:
        limit = settings.max_image_bytes / 1e6
        too_large = ImageRejected(
            "too_large",
            f"the file is {info.size_bytes / 1e6:.1f} MB; the limit is {limit:.0f} MB (MAX_IMAGE_BYTES)",
        )
        return _rejected(base, too_large, settings), None
    try:
        rt.layout.json_key(info.key)
    except ImageRejected as exc:
        return _rejected(base, exc, settings), None
    sha = hashlib.sha256(data).hexdigest()
    base = replace(base, image=replace(info, sha256=sha))
    # With people on, every key indexes its own faces: identical bytes are analysed again.
    use_cache = use_cache and not settings.enable_people
    cached = rt.cache.lookup(sha, fingerprint) if use_cache else None
    if cached is not None:
        return _reused(base, cached, data, rt)
    try:
        prepared = prepare(data, limits_of(settings))
    except ImageRejected as exc:
        return _rejected(base, exc, settings), None
    earlier = _earlier_result(base.image, rt) if refresh else None
    only = changed_analyses(earlier.analysis_fingerprints, settings) if earlier else None
    fresh, vector = analyse(prepared, rt, only, earlier.analyses if earlier else None)
    if only is None or "people" in only:
        fresh = index_people(prepared, info.key, fresh, rt)
    analyses = fresh
    if earlier is not None and only is not None:
        analyses = merge(earlier.analyses, fresh)
        if "embedding" not in only and analyses.embedding is not None:
            analyses, vector = _kept_vector(analyses, info.key, sha, data, rt)
    image = replace(
        base.image,
        format=prepared.source_format,
        width=prepared.width,
        height=prepared.height,
        phash=prepared.phash,
    )
    status = _status(analyses)
    if status == ImageStatus.COMPLETE and not settings.enable_people:
        expires = int(rt.clock()) + settings.content_cache_days * 86400
        cache_entry = CachedAnalysis(
            analyses, image.format, image.width, image.height, source_key=info.key, phash=image.phash
        )
        rt.cache.store(sha, fingerprint, cache_entry, expires)
    result = replace(
        base,
        image=image,
        status=status,
        analyses=analyses,
        cost=estimate_cost(fresh, settings),  # what this run's calls cost
        notes=list(prepared.notes),
    )
    return result, vector


def _reused(
    base: ImageResult, cached: CachedAnalysis, data: bytes, rt: Runtime
) -> tuple[ImageResult, Vector | None]:
    """Identical bytes analysed before: their analysis, and their vector copied from the key it was
    made for; if that vector is gone (removed, or the key holds other bytes now), embedded afresh."""
    image = replace(
        base.image, format=cached.format, width=cached.width, height=cached.height, phash=cached.phash
    )
    result = replace(base, image=image, analyses=cached.analyses, reused_from=cached.source_key)
    vector, cost = None, Cost()
    if cached.analyses.embedding is not None and rt.settings.enable_embeddings:
        vector = reusable(cached.source_key, image.sha256 or "", rt)
        outcome = AnalysisOutcome(AnalysisStatus.OK, f"the vector of {cached.source_key} (same bytes)")
        if vector is None:
            vector, outcome = _embed_again(data, rt)
            cost = _embedding_cost(rt.settings) if vector is not None else cost
        outcomes = {**result.analyses.outcomes, "embedding": outcome}
        embedding = described(rt) if vector is not None else None
        result = replace(result, analyses=replace(result.analyses, outcomes=outcomes, embedding=embedding))
    return replace(result, status=_status(result.analyses), cost=cost), vector


def _kept_vector(
    analyses: Analyses, key: str, sha256: str, data: bytes, rt: Runtime
) -> tuple[Analyses, Vector | None]:
    """A refresh that leaves the embedding as it was: the key's stored vector, put again with the
    refreshed metadata; embedded again if it has gone from the index meanwhile."""
    vector = reusable(key, sha256, rt)
    if vector is not None:
        return analyses, vector
    vector, outcome = _embed_again(data, rt)
    embedding = described(rt) if vector is not None else None
    return replace(
        analyses, outcomes={**analyses.outcomes, "embedding": outcome}, embedding=embedding
    ), vector


def _embed_again(data: bytes, rt: Runtime) -> tuple[Vector | None, AnalysisOutcome]:
    """Embed identical bytes whose earlier vector is gone; a permanent failure is the outcome."""
    try:
        return embed(prepare(data, limits_of(rt.settings)), rt), AnalysisOutcome(AnalysisStatus.OK)
    except (AnalysisFailed, ImageRejected) as exc:
        return None, AnalysisOutcome(AnalysisStatus.FAILED, exc.message)


def _embedding_cost(settings: Settings) -> Cost:
    usd = round(settings.price_embedding_image_usd, 6)
    return Cost(embedded_images=1, estimated_usd=usd)


def _earlier_result(image: ImageInfo, rt: Runtime) -> ImageResult | None:
    """This key's result document, when a refresh can build on it: an analysis of the same bytes."""
    if not result_keys_fit(rt.layout, image.key):
        return None  # it never had one
    try:
        _, data = rt.s3.read(image.bucket, rt.layout.json_key(image.key), MAX_RESULT_BYTES)
        earlier = ImageResult.from_dict(json.loads(data or b"null"))
    except ObjectMissing:
        return None
    except (ValueError, KeyError, TypeError, AttributeError):
        return None  # unreadable (edited by hand, or too old): analysed afresh
    usable = earlier.image.sha256 == image.sha256 and earlier.status != ImageStatus.FAILED
    return earlier if usable else None


def _rejected(base: ImageResult, exc: ImageRejected, settings: Settings) -> ImageResult:
    """A refusal, with what was read before it (format, size, notes, the GPS place), if anything."""
    # No AI service saw a refused image, so nothing in it is simulated.
    failed = replace(
        base, status=ImageStatus.FAILED, error=ImageError(exc.code, exc.message), simulated=False
    )
    seen = exc.seen
    if seen is None:
        return failed
    image = replace(base.image, format=seen.format, width=seen.width, height=seen.height)
    gps = placed_gps(seen.gps, settings)
    return replace(failed, image=image, analyses=Analyses(gps=gps), notes=list(seen.notes))


def _status(analyses: Analyses) -> ImageStatus:
    failed = any(outcome.status == AnalysisStatus.FAILED for outcome in analyses.outcomes.values())
    return ImageStatus.PARTIAL if failed else ImageStatus.COMPLETE


def limits_of(settings: Settings) -> Limits:
    """The preparation limits the settings give (the benchmarks prepare with the same)."""
    return Limits(
        max_pixels=settings.max_image_pixels,
        min_edge=settings.min_image_edge,
        bedrock_max_edge=settings.bedrock_max_edge,
        rekognition_max_edge=settings.rekognition_max_edge,
    )
