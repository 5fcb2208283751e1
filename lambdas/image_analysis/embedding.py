"""The embedding analysis (ENABLE_EMBEDDINGS): the image's vector from the multimodal model, kept in
the stack's S3 Vectors index under the image key, reused for identical bytes, deleted with the image.

The vector is written before the record commits and only while our claim still holds (a consistent
read just before the write), so a slow analysis whose key was taken over by a newer upload or a
removal never overwrites the newer vector. S3 Vectors has no conditional write, so the metadata
carries the object version (version_tag) and the bytes' hash: a search drops a hit whose record is
gone or describes another version, and the strays we can see (a lost claim, a failed commit) are
deleted here.
"""

from __future__ import annotations

from dataclasses import replace

from .domain.errors import AnalysisFailed
from .domain.models import AnalysisOutcome, Embedding, ImageResult
from .domain.records import vector_metadata
from .domain.states import FINAL_STATUSES, AnalysisStatus, ImageStatus
from .imaging.prepare import PreparedImage
from .observability import logger
from .runtime import Runtime

Vector = list[float]


def embed(prepared: PreparedImage, rt: Runtime) -> Vector:
    """The image's vector, from the Bedrock rendition (at most 1568 px; Titan takes 2048 x 2048)."""
    if rt.embeddings is None:
        raise AnalysisFailed("switched_off", "embeddings are switched off in this runtime")
    settings = rt.settings
    return rt.embeddings.embed_image(
        prepared.bedrock.data, model_id=settings.embedding_model_id, dimension=settings.embedding_dimension
    )


def described(rt: Runtime) -> Embedding:
    """What the result says of its vector: the model and the length (the vector is in the index)."""
    return Embedding(rt.settings.embedding_model_id, rt.settings.embedding_dimension)


def reusable(source_key: str, sha256: str, rt: Runtime) -> Vector | None:
    """The vector stored for `source_key` if it is of these bytes and this length, else None (gone,
    or the key has been uploaded over with other bytes since)."""
    if rt.vectors is None:
        return None
    stored = rt.vectors.get(source_key)
    if stored is None:
        return None
    vector, metadata = stored
    if metadata.get("sha256") != sha256 or len(vector) != rt.settings.embedding_dimension:
        return None
    return vector


def store_vector(
    result: ImageResult, vector: Vector | None, claim_token: str, version_tag: str, rt: Runtime
) -> tuple[ImageResult, bool]:
    """Put the result's vector under its key (or delete the key's earlier one when this result has
    none), while our claim holds. Returns the result (partial if the index refused the vector) and
    whether a vector of ours is now in the index. Transient failures propagate."""
    key = result.image.key
    if rt.vectors is None or not _claim_holds(key, claim_token, rt):
        return result, False  # no index; or the key is someone else's now: finish will say so
    if vector is None:
        rt.vectors.delete([key])  # an earlier version's vector must not outlive its record
        return result, False
    try:
        rt.vectors.put(key, vector, vector_metadata(result, version_tag))
    except AnalysisFailed as exc:
        rt.vectors.delete([key])
        return _not_embedded(result, f"the vector index refused the vector: {exc.message}"), False
    return result, True


def delete_stray_vector(key: str, version_tag: str, rt: Runtime) -> None:
    """After a lost claim: delete the vector we put, unless this version's record stands (a duplicate
    delivery finished it, and the vector is of the same bytes) or another write replaced ours."""
    if rt.vectors is None:
        return
    record = rt.claims.get(key)
    if record and record.get("status") in FINAL_STATUSES and record.get("version_tag") == version_tag:
        return
    stored = rt.vectors.get(key)
    if stored is not None and stored[1].get("version_tag") == version_tag:
        rt.vectors.delete([key])


def delete_vector_quietly(key: str, rt: Runtime) -> None:
    """Delete the vector we put while another failure is on its way up (the retry puts it again)."""
    try:
        if rt.vectors is not None:
            rt.vectors.delete([key])
    except Exception as exc:  # the first failure matters; a stray vector is dropped by searches
        logger.error("could not delete the image's vector", error=str(exc))


def delete_vector(key: str, rt: Runtime) -> None:
    """A removal: the image's vector leaves the index (a key without one is no error)."""
    if rt.vectors is not None:
        rt.vectors.delete([key])


def _claim_holds(key: str, claim_token: str, rt: Runtime) -> bool:
    record = rt.claims.get(key)
    return bool(
        record and record.get("claim_token") == claim_token and record.get("status") == ImageStatus.PROCESSING
    )


def _not_embedded(result: ImageResult, reason: str) -> ImageResult:
    outcomes = {**result.analyses.outcomes, "embedding": AnalysisOutcome(AnalysisStatus.FAILED, reason)}
    analyses = replace(result.analyses, outcomes=outcomes, embedding=None)
    status = ImageStatus.PARTIAL if result.status == ImageStatus.COMPLETE else result.status
    return replace(result, analyses=analyses, status=status)
