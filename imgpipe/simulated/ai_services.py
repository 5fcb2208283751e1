"""SIMULATED, not AWS (a test double shipped with the CLI): a local HTTP server speaking the wire
protocols of Amazon Bedrock Runtime ``Converse`` and ``InvokeModel`` (Amazon Titan Multimodal
Embeddings G1 only; the vectors are embeddings.py's rules, not a model), Amazon Rekognition
``DetectLabels``, ``DetectText``, ``DetectModerationLabels``, ``DetectFaces`` and the face-collection
operations (face_collections.py), and Amazon Comprehend's ``DetectDominantLanguage``,
``DetectEntities``, ``DetectKeyPhrases`` and ``DetectPiiEntities`` (words.py: rules on the text).

Real boto3/botocore clients reach it through ``AWS_ENDPOINT_URL_BEDROCK_RUNTIME`` and
``AWS_ENDPOINT_URL_REKOGNITION`` (see ``AiServicesDouble.env()``) or ``endpoint_url=``. It is meant for
end-to-end tests and benchmarks of the image pipeline, and for `imgpipe demo --simulated-ai`.

What it emulates:
  * Bedrock restJson1 ``POST /model/{modelId}/converse`` (any model or inference-profile id, URL-encoded)
    and ``POST /model/{modelId}/invoke`` (a Titan Multimodal Embeddings G1 id; its body and limits),
    and Rekognition awsJson1_1 ``POST /`` with ``X-Amz-Target: RekognitionService.<Operation>``,
    including each protocol's error encoding, so boto3 raises ``ClientError`` with the modelled code.
  * The documented input limits (image bytes, pixel sizes, formats checked by magic bytes, parameter
    ranges), so a pipeline sending a bad rendition fails here as it would in AWS.
  * Answers computed from the received pixels (see imgpipe/simulated/ai_answers.py, and faces.py for
    the face rules): deterministic, and
    recomputable by a test from the image it uploaded, so image mix-ups are caught.
  * Fault injection (latency, throttling, 5xx, a fail-next queue) and a call log (per call: operation,
    outcome, images with their fingerprints; for Converse, the prompt that reached it; for
    InvokeModel, the embedding length and the text's length, never its words).

What it does NOT emulate: real vision or language models (answers are fingerprints, colours and
boxes; a forced tool's input describes the first image only; maxTokens truncates text answers only),
SigV4 verification (any credentials pass), S3 image sources, ConverseStream, InvokeModel of any
other model (and InvokeModelWithResponseStream), documents/video/audio blocks, guardrails, prompt
management, Rekognition IMAGE_PROPERTIES, label filters, custom moderation adapters, human loops and
every other operation, real quotas and account-level throttling (faults are injected only as
configured).

Control API, under ``/_double/`` (a path no Bedrock Runtime or Rekognition operation produces: theirs
are ``/model/...`` and ``/``): ``GET calls``, ``GET|POST config`` (JSON of ``DoubleConfig`` fields),
``POST fail_next`` ``{"operation", "n", "code"}``, ``POST reset``, ``GET health``.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import copy
import dataclasses
import functools
import json
import random
import re
import signal
import sys
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast
from urllib.parse import unquote, urlsplit

from imgpipe.simulated import ai_answers as answers
from imgpipe.simulated import embeddings, face_collections, faces, words
from imgpipe.simulated.ai_answers import ImageFacts, JsonDict, OversizedImageError, UndecodableImageError

CONTROL_PREFIX = "/_double/"
COLLECTION_OPERATIONS = ("CreateCollection", "SearchFaces", "DeleteFaces", "ListFaces")  # no image
REKOGNITION_OPERATIONS = (
    "DetectLabels", "DetectText", "DetectModerationLabels", "DetectFaces", "IndexFaces", "SearchFacesByImage",
    *COLLECTION_OPERATIONS,
)  # fmt: skip
COMPREHEND_OPERATIONS = ("DetectDominantLanguage", "DetectEntities", "DetectKeyPhrases", "DetectPiiEntities")
COMPREHEND_TARGET = "Comprehend_20171127."
REKOGNITION_MAX_BYTES = 5_242_880
REKOGNITION_MIN_SIDE = 80
REKOGNITION_MAX_SIDE = 10_000  # DetectLabels and DetectModerationLabels only
BEDROCK_MAX_IMAGES = 20  # per message
BEDROCK_MAX_IMAGE_BYTES = 3_932_160  # 3.75 MB
BEDROCK_MAX_SIDE = 8000
BEDROCK_FORMATS = ("png", "jpeg", "gif", "webp")
# Amazon Titan Multimodal Embeddings G1 (InvokeModel), as documented
EMBEDDING_MODEL = re.compile(r"(?:[a-z]{2,4}\.)?amazon\.titan-embed-image-v1(?::\d+)?")
EMBEDDING_LENGTHS = (256, 384, 1024)
EMBEDDING_MAX_IMAGE_BYTES = 25 * 1024 * 1024
EMBEDDING_MAX_SIDE = 2048
EMBEDDING_MAX_TEXT_TOKENS = 256
EMBEDDING_FORMATS = ("png", "jpeg")
_CONVERSE_PATH = re.compile(r"/model/([^/]+)/converse")
_INVOKE_PATH = re.compile(r"/model/([^/]+)/invoke")
_CONTENT_BLOCKS = frozenset({"text", "image", "toolUse", "toolResult", "cachePoint", "reasoningContent"})

# HTTP status per error code. Bedrock's come from the botocore model; Rekognition's model has none, so
# these follow the Rekognition API reference (note ThrottlingException is a 500 there, a 429 in Bedrock).
BEDROCK_ERRORS: dict[str, int] = {
    "ValidationException": 400,
    "AccessDeniedException": 403,
    "ResourceNotFoundException": 404,
    "ModelTimeoutException": 408,
    "ModelErrorException": 424,
    "ThrottlingException": 429,
    "ModelNotReadyException": 429,
    "InternalServerException": 500,
    "ServiceUnavailableException": 503,
    "UnknownOperationException": 404,
}
REKOGNITION_ERRORS: dict[str, int] = {
    "InvalidParameterException": 400,
    "InvalidImageFormatException": 400,
    "ImageTooLargeException": 400,
    "AccessDeniedException": 400,
    "InvalidS3ObjectException": 400,
    "ProvisionedThroughputExceededException": 400,
    "UnknownOperationException": 400,
    "ThrottlingException": 500,
    "InternalServerError": 500,
    "ResourceNotFoundException": 400,
    "ResourceAlreadyExistsException": 400,
    "InvalidPaginationTokenException": 400,
    "ServiceQuotaExceededException": 400,
}
# Comprehend's model gives every error 400 but InternalServerException (500).
COMPREHEND_ERRORS: dict[str, int] = {
    "InvalidRequestException": 400,
    "TextSizeLimitExceededException": 400,
    "UnsupportedLanguageException": 400,
    "ResourceUnavailableException": 400,
    "TooManyRequestsException": 400,
    "ThrottlingException": 400,
    "AccessDeniedException": 400,
    "UnknownOperationException": 400,
    "InternalServerException": 500,
}


@dataclasses.dataclass(frozen=True)
class DoubleConfig:
    """Behaviour switches; change them at runtime with ``AiServicesDouble.configure(**changes)``.

    Order of effects per request: fail_next queue, throttle_rate (both before validation, like a
    front-door throttle), validation, latency (+ jitter), error_rate (a failure during inference).
    """

    latency_bedrock: float = 0.0  # seconds per Converse that passes validation
    latency_embedding: float = 0.0  # seconds per InvokeModel (embedding) that passes validation
    latency_rekognition: float = 0.0  # seconds per Rekognition call that passes validation
    jitter: float = 0.0  # extra uniform(0, jitter) seconds on either latency; never shortens it
    throttle_rate: float = 0.0  # probability of ThrottlingException
    error_rate: float = 0.0  # probability of a 5xx
    seed: int | None = 0  # seeds the random.Random behind rates and jitter
    oversize_output: bool = False  # hostile tool input: huge text, unknown keys, out-of-range number
    # Forced-tool input fields answered as given instead of filled from the image, e.g. {"country": "Italy"}:
    # a test's stand-in for a model that names a place (the double recognises none). Applied before
    # oversize_output.
    tool_answers: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        for name in ("latency_bedrock", "latency_rekognition", "latency_embedding", "jitter"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0")
        for name in ("throttle_rate", "error_rate"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be within [0, 1]")


class ServiceError(Exception):
    """An error answer, encoded by the protocol of the service that raised it."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclasses.dataclass
class Reply:
    status: int
    body: bytes
    headers: dict[str, str]


@dataclasses.dataclass(frozen=True)
class _Protocol:
    service: str
    operations: tuple[str, ...]
    errors: dict[str, int]
    content_type: str
    internal_error: str
    rest_json: bool  # restJson1 (code in a header) vs awsJson1_1 (code in the body's __type)

    def ok(self, payload: JsonDict) -> Reply:
        return Reply(200, json.dumps(payload).encode(), self._headers())

    def error(self, err: ServiceError) -> Reply:
        headers = self._headers()
        if self.rest_json:
            headers["x-amzn-ErrorType"] = err.code
            body: JsonDict = {"message": err.message}
        else:
            body = {"__type": err.code, "Message": err.message}
        return Reply(self.errors.get(err.code, 400), json.dumps(body).encode(), headers)

    def _headers(self) -> dict[str, str]:
        return {"Content-Type": self.content_type, "x-amzn-RequestId": _request_id()}


BEDROCK = _Protocol(
    "bedrock-runtime",
    ("Converse", "InvokeModel"),
    BEDROCK_ERRORS,
    "application/json",
    "InternalServerException",
    True,
)
REKOGNITION = _Protocol(
    "rekognition",
    REKOGNITION_OPERATIONS,
    REKOGNITION_ERRORS,
    "application/x-amz-json-1.1",
    "InternalServerError",
    False,
)

COMPREHEND = _Protocol(
    "comprehend",
    COMPREHEND_OPERATIONS,
    COMPREHEND_ERRORS,
    "application/x-amz-json-1.1",
    "InternalServerException",
    False,
)


def _request_id() -> str:
    return f"{random.getrandbits(128):032x}"  # not from the seeded RNG: ids must not shift fault rolls


def _json_reply(status: int, payload: Any) -> Reply:
    return Reply(status, json.dumps(payload).encode(), {"Content-Type": "application/json"})


# --------------------------------------------------------------------------- request validation helpers


def _parse_body(body: bytes, code: str) -> JsonDict:
    try:
        request = json.loads(body or b"{}")
    except ValueError as exc:
        raise ServiceError(code, f"request body is not valid JSON: {exc}") from exc
    if not isinstance(request, dict):
        raise ServiceError(code, "request body must be a JSON object")
    return request


def _b64(value: Any, code: str, where: str) -> bytes:
    if not isinstance(value, str) or not value:
        raise ServiceError(code, f"{where} must be non-empty base64 image bytes")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ServiceError(code, f"{where} is not valid base64") from exc


def _number_in(request: JsonDict, key: str, low: float, high: float, code: str, default: float) -> float:
    value = request.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise ServiceError(code, f"{key} must be a number within [{low:g}, {high:g}], got {value!r}")
    return float(value)


def _image_record(data: bytes, declared: str | None) -> JsonDict:
    fmt = answers.sniff_format(data)
    return {
        "fingerprint": None,
        "declared_format": declared,
        "format": fmt,
        "bytes": len(data),
        "width": None,
        "height": None,
    }


# --------------------------------------------------------------------------- Rekognition


def _rekognition_bytes(request: JsonDict) -> bytes:
    image = request.get("Image")
    if not isinstance(image, dict):
        raise ServiceError("InvalidParameterException", "Request has invalid parameters: Image is required")
    if "S3Object" in image:
        raise ServiceError(
            "InvalidParameterException",
            "Image.S3Object is not supported by the AI services test double; send Image.Bytes",
        )
    return _b64(image.get("Bytes"), "InvalidParameterException", "Image.Bytes")


def _rekognition_facts(operation: str, data: bytes, record: JsonDict) -> ImageFacts:
    if len(data) > REKOGNITION_MAX_BYTES:
        raise ServiceError("ImageTooLargeException", f"Image size is too large: {len(data)} > 5242880 bytes")
    if record["format"] not in ("png", "jpeg"):
        raise ServiceError(
            "InvalidImageFormatException", "Request has invalid image format: JPEG or PNG only"
        )
    try:
        record["width"], record["height"] = width, height = answers.probe_size(data)
        if min(width, height) < REKOGNITION_MIN_SIDE:
            raise ServiceError(
                "InvalidParameterException", f"Image is {width}x{height}; each side must be >= 80"
            )
        if operation != "DetectText" and max(width, height) > REKOGNITION_MAX_SIDE:
            raise ServiceError("ImageTooLargeException", f"Image is {width}x{height}; max 10000 px per side")
        facts = answers.analyse(data)
    except UndecodableImageError as exc:
        raise ServiceError("InvalidImageFormatException", f"Request has invalid image format: {exc}") from exc
    except OversizedImageError as exc:
        raise ServiceError("ImageTooLargeException", f"Image resolution is too large: {exc}") from exc
    record["fingerprint"] = facts.fingerprint
    return facts


def _rekognition_answer(operation: str, request: JsonDict, facts: ImageFacts) -> JsonDict:
    bad = "InvalidParameterException"
    if operation == "DetectLabels":
        max_labels = request.get("MaxLabels")
        if max_labels is not None and (
            isinstance(max_labels, bool) or not isinstance(max_labels, int) or max_labels < 0
        ):
            raise ServiceError(bad, f"MaxLabels must be an integer >= 0, got {max_labels!r}")
        return answers.detect_labels(facts, max_labels, _number_in(request, "MinConfidence", 0, 100, bad, 55))
    if operation == "DetectText":
        filters = request.get("Filters") or {}
        word_filter = filters.get("WordFilter") or {}
        for key in ("MinBoundingBoxHeight", "MinBoundingBoxWidth"):
            _number_in(word_filter, key, 0, 1, bad, 0)
        if len(filters.get("RegionsOfInterest") or []) > 10:
            raise ServiceError(bad, "RegionsOfInterest accepts at most 10 regions")
        return answers.detect_text(facts, _number_in(word_filter, "MinConfidence", 0, 100, bad, 80))
    for unsupported in ("HumanLoopConfig", "ProjectVersion"):
        if unsupported in request:
            raise ServiceError(bad, f"{unsupported} is not supported by the AI services test double")
    return answers.detect_moderation_labels(facts, _number_in(request, "MinConfidence", 0, 100, bad, 50))


def _face_attributes(request: JsonDict, key: str) -> set[str]:
    attributes = request.get(key) or ["DEFAULT"]
    unknown = [a for a in attributes if a not in faces.ATTRIBUTES] if isinstance(attributes, list) else [1]
    if unknown:
        raise ServiceError("InvalidParameterException", f"Request has invalid parameters: {key} {unknown}")
    return set(attributes)


def _detect_faces_answer(request: JsonDict, data: bytes) -> JsonDict:
    attributes = _face_attributes(request, "Attributes")
    return {"FaceDetails": [faces.face_detail(face, attributes) for face in faces.find_faces(data)]}


# --------------------------------------------------------------------------- Comprehend


def _comprehend_answer(operation: str, request: JsonDict, call: JsonDict) -> JsonDict:
    """Limits as the service checks them, then the answer by the rules of imgpipe/simulated/words.py.
    The call log keeps the text's length only: text read in images may be personal."""
    bad = "InvalidRequestException"
    text = request.get("Text")
    if not isinstance(text, str) or not text:
        raise ServiceError(bad, "Text is required and must be a non-empty string")
    call["text_bytes"] = size = len(text.encode("utf-8"))
    if size > words.MAX_TEXT_BYTES:
        raise ServiceError(
            "TextSizeLimitExceededException",
            f"Input text size exceeds limit. Max length: 100000 bytes ({size})",
        )
    for unsupported in ("EndpointArn", "Bytes", "DocumentReaderConfig"):
        if unsupported in request:
            raise ServiceError(bad, f"{unsupported} is not supported by the AI services test double")
    if operation == "DetectDominantLanguage":
        return words.dominant_language(text)
    language = request.get("LanguageCode")
    supported = words.PII_LANGUAGES if operation == "DetectPiiEntities" else words.ENTITY_LANGUAGES
    if language not in supported:
        raise ServiceError(
            "UnsupportedLanguageException", f"{operation} does not support language {language!r}"
        )
    answer = {"DetectEntities": words.entities, "DetectKeyPhrases": words.key_phrases}.get(operation)
    return (answer or words.pii_entities)(text)


# --------------------------------------------------------------------------- Bedrock InvokeModel


def _embedding_answer(model_id: str, request: JsonDict, call: JsonDict) -> JsonDict:
    """Titan Multimodal Embeddings G1's body checked as Bedrock checks it, then embeddings.py's vector.
    The call log keeps the text's length only (a search phrase is the user's), and the image's record."""
    if not EMBEDDING_MODEL.fullmatch(model_id):
        raise ServiceError(
            "ValidationException",
            f"The provided model identifier is invalid ({model_id}): the AI services test double serves "
            "InvokeModel for amazon.titan-embed-image-v1 only",
        )
    extra = sorted(set(request) - {"inputText", "inputImage", "embeddingConfig"})
    if extra:
        raise _malformed("#", f"extraneous key [{extra[0]}] is not permitted")
    length = _embedding_length(request.get("embeddingConfig"))
    call["dimension"] = length
    text, image = request.get("inputText"), request.get("inputImage")
    if text is None and image is None:
        raise _malformed("#", "at least one of inputText or inputImage is required")
    vectors, tokens = [], 0
    if text is not None:
        if not isinstance(text, str) or not text.strip():
            raise _malformed("#/inputText", "expected a non-empty string")
        call["text_chars"], tokens = len(text), embeddings.count_tokens(text)
        if tokens > EMBEDDING_MAX_TEXT_TOKENS:
            raise ServiceError(
                "ValidationException",
                f"Input text has {tokens} tokens; the maximum is {EMBEDDING_MAX_TEXT_TOKENS}",
            )
        vectors.append(embeddings.text_vector(text, length))
    if image is not None:
        data = _b64(image, "ValidationException", "inputImage")
        vectors.append(embeddings.image_vector(_embedding_facts(data, call), data, length))
    return {"embedding": embeddings.combined(vectors), "inputTextTokenCount": tokens, "message": None}


def _malformed(where: str, problem: str) -> ServiceError:
    return ServiceError(
        "ValidationException",
        f"Malformed input request: {where}: {problem}, please reformat your input and try again.",
    )


def _embedding_length(config: Any) -> int:
    if config is None:
        return 1024  # Titan's default
    if not isinstance(config, dict) or set(config) - {"outputEmbeddingLength"}:
        raise _malformed("#/embeddingConfig", "only outputEmbeddingLength is permitted")
    length = config.get("outputEmbeddingLength", 1024)
    if isinstance(length, bool) or length not in EMBEDDING_LENGTHS:
        raise _malformed(
            "#/embeddingConfig/outputEmbeddingLength",
            f"{length!r} is not a valid enum value (256, 384, 1024)",
        )
    return int(length)


def _embedding_facts(data: bytes, call: JsonDict) -> ImageFacts:
    record = _image_record(data, None)
    call["images"].append(record)
    bad = "ValidationException"
    if len(data) > EMBEDDING_MAX_IMAGE_BYTES:
        raise ServiceError(bad, f"inputImage is {len(data)} bytes; the maximum is 25 MB")
    if record["format"] not in EMBEDDING_FORMATS:
        raise ServiceError(bad, "inputImage must be a PNG or JPEG image")
    try:
        record["width"], record["height"] = width, height = answers.probe_size(data)
        if max(width, height) > EMBEDDING_MAX_SIDE:
            raise ServiceError(bad, f"inputImage is {width}x{height}; the maximum is 2048 x 2048 pixels")
        facts = answers.analyse(data)
    except (UndecodableImageError, OversizedImageError) as exc:
        raise ServiceError(bad, f"inputImage could not be processed: {exc}") from exc
    record["fingerprint"] = facts.fingerprint
    return facts


# --------------------------------------------------------------------------- Bedrock Converse


def _check_inference_config(config: Any) -> int | None:
    """Validate inferenceConfig; returns maxTokens (or None)."""
    if config is None:
        return None
    bad = "ValidationException"
    if not isinstance(config, dict):
        raise ServiceError(bad, "inferenceConfig must be an object")
    for key in ("temperature", "topP"):
        if key in config:
            _number_in(config, key, 0, 1, bad, 0)
    max_tokens = config.get("maxTokens")
    if max_tokens is not None and (
        isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1
    ):
        raise ServiceError(bad, f"inferenceConfig.maxTokens must be an integer >= 1, got {max_tokens!r}")
    return max_tokens


def _image_blocks(messages: Any) -> list[tuple[str, JsonDict]]:
    """Check the conversation's structure; return (path, image block) for every image in it."""
    bad = "ValidationException"
    if not isinstance(messages, list) or not messages:
        raise ServiceError(bad, "messages must contain at least one message")
    if not isinstance(messages[0], dict) or messages[0].get("role") != "user":
        raise ServiceError(bad, "A conversation must start with a user message.")
    found: list[tuple[str, JsonDict]] = []
    for m, message in enumerate(messages):
        content = message.get("content") if isinstance(message, dict) else None
        role = message.get("role") if isinstance(message, dict) else None
        if role not in ("user", "assistant") or not isinstance(content, list) or not content:
            raise ServiceError(bad, f"messages.{m}: needs role user|assistant and non-empty content")
        _check_blocks(m, content)
        images = [(f"messages.{m}.content.{c}.image", b) for c, b in enumerate(content) if "image" in b]
        if images and role != "user":
            raise ServiceError(bad, f"messages.{m}: images are only allowed in user messages")
        if len(images) > BEDROCK_MAX_IMAGES:
            raise ServiceError(bad, f"messages.{m}: {len(images)} images; at most 20 per message")
        found += [(path, block["image"]) for path, block in images]
    return found


def _check_blocks(m: int, content: list[Any]) -> None:
    for c, block in enumerate(content):
        kinds = set(block) if isinstance(block, dict) else set()
        if len(kinds) != 1 or not kinds <= _CONTENT_BLOCKS:
            raise ServiceError(
                "ValidationException",
                f"messages.{m}.content.{c}: block {sorted(kinds)} is not supported by the test double",
            )


def _bedrock_facts(image: Any, where: str, record_image: Callable[[JsonDict], None]) -> ImageFacts:
    bad = "ValidationException"
    declared = image.get("format") if isinstance(image, dict) else None
    source = image.get("source") if isinstance(image, dict) else None
    if declared not in BEDROCK_FORMATS:
        raise ServiceError(bad, f"{where}.format: {declared!r} is not one of png, jpeg, gif, webp")
    if not isinstance(source, dict) or "bytes" not in source:
        raise ServiceError(bad, f"{where}.source: only bytes are supported by the AI services test double")
    data = _b64(source["bytes"], bad, f"{where}.source.bytes")
    record = _image_record(data, declared)
    record_image(record)
    if len(data) > BEDROCK_MAX_IMAGE_BYTES:
        raise ServiceError(
            bad, f"{where}: image is {len(data)} bytes; the maximum is 3.75 MB (3932160 bytes)"
        )
    if record["format"] != declared:
        raise ServiceError(
            bad, f"{where}: image format mismatch: declared {declared} but the bytes are {record['format']}"
        )
    try:
        record["width"], record["height"] = width, height = answers.probe_size(data)
        if max(width, height) > BEDROCK_MAX_SIDE:
            raise ServiceError(bad, f"{where}: image is {width}x{height}; max 8000 px per side")
        facts = answers.analyse(data)
    except (UndecodableImageError, OversizedImageError) as exc:
        raise ServiceError(bad, f"{where}: Could not process image: {exc}") from exc
    record["fingerprint"] = facts.fingerprint
    return facts


def _prompt_summary(request: JsonDict) -> JsonDict:
    """What a Converse request asked, for the call log: system texts, each message's role and blocks
    (text verbatim, an image as its declared format only), and the tool choice. Never image bytes."""

    def block(item: Any) -> JsonDict:
        if not isinstance(item, dict):
            return {"kind": type(item).__name__}
        if "text" in item:
            return {"kind": "text", "text": str(item["text"])}
        if "image" in item:
            image = item["image"] if isinstance(item["image"], dict) else {}
            return {"kind": "image", "format": image.get("format")}
        return {"kind": next(iter(item), "empty")}

    system, messages = _as_list(request.get("system")), _as_list(request.get("messages"))
    tool_config = request.get("toolConfig")
    tool_config = tool_config if isinstance(tool_config, dict) else {}
    return {
        "system": [str(s.get("text")) for s in system if isinstance(s, dict) and "text" in s],
        "messages": [
            {
                "role": m.get("role") if isinstance(m, dict) else None,
                "content": [block(b) for b in _as_list(m.get("content") if isinstance(m, dict) else None)],
            }
            for m in messages
        ],
        "tool_choice": tool_config.get("toolChoice"),
    }


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _chosen_tool(tool_config: Any) -> JsonDict | None:
    """The toolSpec the request forces (toolChoice.tool or toolChoice.any), else None (text answer)."""
    if tool_config is None:
        return None
    if not isinstance(tool_config, dict):
        raise ServiceError("ValidationException", "toolConfig must be an object")
    tools = [
        t["toolSpec"] for t in (tool_config.get("tools") or []) if isinstance(t, dict) and "toolSpec" in t
    ]
    if not tools:
        raise ServiceError("ValidationException", "toolConfig.tools must contain at least one toolSpec")
    choice = tool_config.get("toolChoice") or {}
    if "tool" in choice:
        name = choice["tool"].get("name")
        spec: JsonDict | None = next((t for t in tools if t.get("name") == name), None)
        if spec is None:
            raise ServiceError(
                "ValidationException", f"toolChoice.tool.name {name!r} is not in toolConfig.tools"
            )
        return spec
    return tools[0] if "any" in choice else None


def _converse_answer(
    request: JsonDict, images: list[ImageFacts], hostile: bool, given: JsonDict | None = None
) -> JsonDict:
    max_tokens = _check_inference_config(request.get("inferenceConfig"))
    tool = _chosen_tool(request.get("toolConfig"))
    if tool is not None:
        content, stop = [answers.tool_use_block(tool, images, hostile, given)], "tool_use"
    else:
        text, stop = answers.text_answer(images), "end_turn"
        if max_tokens is not None and len(text) // 4 > max_tokens:
            text, stop = text[: max_tokens * 4], "max_tokens"  # only text answers are truncated
        content = [{"text": text}]
    output = {"message": {"role": "assistant", "content": content}}
    usage = answers.count_tokens(request, images, output)
    return {"output": output, "stopReason": stop, "usage": usage, "metrics": {"latencyMs": 0}}


# --------------------------------------------------------------------------- the double


class AiServicesDouble:
    """Runs the double in a daemon thread; ``with AiServicesDouble(cfg) as double: double.endpoint_url``."""

    def __init__(self, config: DoubleConfig | None = None, host: str = "127.0.0.1", port: int = 0) -> None:
        self._config = config or DoubleConfig()
        self._lock = threading.Lock()  # guards config, rng, calls and the fail-next queue
        self._rng = random.Random(self._config.seed)
        self._calls: list[JsonDict] = []
        self._fail_queue: dict[str, deque[str]] = {}
        self._address = (host, port)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.collections = face_collections.FaceCollections()  # Rekognition face collections

    # ----------------------------------------------------------------- lifecycle

    def start(self) -> AiServicesDouble:
        if self._server is None:
            self._server = _Server(self._address, self)
            serve = functools.partial(self._server.serve_forever, poll_interval=0.05)  # fast stop()
            self._thread = threading.Thread(target=serve, name="ai-double", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> AiServicesDouble:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def endpoint_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the double is not running; use start() or a with-block")
        host, port = self._server.server_address[:2]
        host = "127.0.0.1" if host in ("0.0.0.0", "") else host  # noqa: S104 (a comparison, not a bind)
        return f"http://{host!s}:{port}"

    def env(self) -> dict[str, str]:
        """Environment variables that point boto3 clients (in this or a child process) at the double."""
        return {
            "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": self.endpoint_url,
            "AWS_ENDPOINT_URL_REKOGNITION": self.endpoint_url,
            "AWS_ENDPOINT_URL_COMPREHEND": self.endpoint_url,
        }

    # ----------------------------------------------------------------- control

    @property
    def config(self) -> DoubleConfig:
        with self._lock:
            return self._config

    def configure(self, **changes: Any) -> DoubleConfig:
        """Change config fields at runtime (unknown names raise TypeError); a new seed reseeds."""
        with self._lock:
            self._config = dataclasses.replace(self._config, **changes)
            if "seed" in changes:
                self._rng.seed(self._config.seed)
            return self._config

    def fail_next(self, operation: str, n: int = 1, code: str = "ThrottlingException") -> None:
        """Make the next n calls of operation (e.g. 'Converse', 'DetectLabels') fail with code."""
        protocol = _protocol_of(operation)
        if code not in protocol.errors:
            raise ValueError(f"{code} is not an error of {protocol.service}: {sorted(protocol.errors)}")
        with self._lock:
            self._fail_queue.setdefault(operation, deque()).extend([code] * n)

    @property
    def calls(self) -> list[JsonDict]:
        with self._lock:
            return copy.deepcopy(self._calls)

    def reset(self) -> None:
        """Clear the call log, fail-next queue and face collections and reseed the random source
        (config is kept)."""
        with self._lock:
            self._calls.clear()
            self._fail_queue.clear()
            self._rng.seed(self._config.seed)
        self.collections.reset()

    # ----------------------------------------------------------------- request handling

    def handle(self, method: str, raw_path: str, target: str | None, body: bytes) -> Reply:
        path = urlsplit(raw_path).path
        if path.startswith(CONTROL_PREFIX):
            return self._control(method, path[len(CONTROL_PREFIX) :], body)
        match = _CONVERSE_PATH.fullmatch(path)
        if method == "POST" and match:
            return self._serve(BEDROCK, "Converse", unquote(match[1]), body)
        match = _INVOKE_PATH.fullmatch(path)
        if method == "POST" and match:
            return self._serve(BEDROCK, "InvokeModel", unquote(match[1]), body)
        if method == "POST" and path == "/" and target and target.startswith(COMPREHEND_TARGET):
            return self._serve(COMPREHEND, target.removeprefix(COMPREHEND_TARGET), None, body)
        if method == "POST" and path == "/" and target:
            operation = target.removeprefix("RekognitionService.")
            return self._serve(REKOGNITION, operation, None, body)
        protocol = REKOGNITION if target else BEDROCK
        return protocol.error(ServiceError("UnknownOperationException", f"{method} {path} is not emulated"))

    def _serve(self, protocol: _Protocol, operation: str, model_id: str | None, body: bytes) -> Reply:
        started = time.time()
        config = self.config
        call: JsonDict = {
            "service": protocol.service,
            "operation": operation,
            "model_id": model_id,
            "images": [],
            "timestamp": started,
        }
        try:
            payload = self._answer(protocol, operation, body, call, config)
            reply, call["outcome"] = protocol.ok(payload), "OK"
        except ServiceError as err:
            reply, call["outcome"] = protocol.error(err), err.code
        except Exception as exc:  # a bug in the double must still look like a service error, and be visible
            traceback.print_exc()
            reply = protocol.error(
                ServiceError(protocol.internal_error, f"AI services test double bug: {exc!r}")
            )
            call["outcome"] = protocol.internal_error
        call["status"], call["duration_s"] = reply.status, time.time() - started
        with self._lock:
            self._calls.append(call)
        return reply

    def _answer(
        self, protocol: _Protocol, operation: str, body: bytes, call: JsonDict, config: DoubleConfig
    ) -> JsonDict:
        if operation not in protocol.operations:
            raise ServiceError("UnknownOperationException", f"{operation} is not emulated by the test double")
        self._early_faults(operation, config)
        if operation == "InvokeModel":
            payload = self._invoke_model(body, call, config)
        elif protocol is BEDROCK:
            payload = self._converse(body, call, config)
        elif protocol is COMPREHEND:
            payload = _comprehend_answer(operation, _parse_body(body, "InvalidRequestException"), call)
        else:
            payload = self._rekognition(operation, body, call, config)
        if self._roll(config.error_rate):
            raise self._server_error(protocol)
        return payload

    def _converse(self, body: bytes, call: JsonDict, config: DoubleConfig) -> JsonDict:
        request = _parse_body(body, "ValidationException")
        call["prompt"] = _prompt_summary(request)
        blocks = _image_blocks(request.get("messages"))
        images = [_bedrock_facts(image, where, call["images"].append) for where, image in blocks]
        payload = _converse_answer(request, images, config.oversize_output, config.tool_answers)
        latency = self._inject_latency(config.latency_bedrock, config)
        payload["metrics"]["latencyMs"] = round(latency * 1000)
        return payload

    def _invoke_model(self, body: bytes, call: JsonDict, config: DoubleConfig) -> JsonDict:
        payload = _embedding_answer(call["model_id"], _parse_body(body, "ValidationException"), call)
        self._inject_latency(config.latency_embedding, config)
        return payload

    def _rekognition(self, operation: str, body: bytes, call: JsonDict, config: DoubleConfig) -> JsonDict:
        request = _parse_body(body, "InvalidParameterException")
        try:
            if operation in COLLECTION_OPERATIONS:
                return self.collections.answer(operation, request, None)
            data = _rekognition_bytes(request)
            record = _image_record(data, None)
            call["images"].append(record)
            facts = _rekognition_facts(operation, data, record)
            if operation in ("IndexFaces", "SearchFacesByImage"):
                payload = self.collections.answer(operation, request, data)
            elif operation == "DetectFaces":
                payload = _detect_faces_answer(request, data)
            else:
                payload = _rekognition_answer(operation, request, facts)
        except face_collections.CollectionError as exc:
            raise ServiceError(exc.code, exc.message) from exc
        self._inject_latency(config.latency_rekognition, config)
        return payload

    def _early_faults(self, operation: str, config: DoubleConfig) -> None:
        with self._lock:
            queue = self._fail_queue.get(operation)
            code = queue.popleft() if queue else None
        if code is not None:
            raise ServiceError(code, f"injected by fail_next({operation!r}) in the AI services test double")
        if self._roll(config.throttle_rate):
            raise ServiceError(
                "ThrottlingException", "Rate exceeded (injected by the AI services test double)"
            )

    def _roll(self, rate: float) -> bool:
        if rate <= 0:
            return False  # draws nothing, so enabling one fault does not reshuffle another's sequence
        with self._lock:
            return self._rng.random() < rate

    def _server_error(self, protocol: _Protocol) -> ServiceError:
        codes = [
            code
            for code, status in protocol.errors.items()
            if status >= 500 and code != "ThrottlingException"
        ]
        with self._lock:
            code = self._rng.choice(sorted(codes))
        return ServiceError(code, "injected server error (AI services test double)")

    def _inject_latency(self, latency: float, config: DoubleConfig) -> float:
        if config.jitter > 0:
            with self._lock:
                latency += self._rng.uniform(0, config.jitter)
        if latency > 0:
            time.sleep(latency)
        return latency

    def _control(self, method: str, action: str, body: bytes) -> Reply:
        try:
            payload = json.loads(body) if body else {}
            if method == "GET" and action == "calls":
                return _json_reply(200, self.calls)
            if action == "config" and method in ("GET", "POST"):
                config = self.configure(**payload) if method == "POST" else self.config
                return _json_reply(200, dataclasses.asdict(config))
            if method == "POST" and action == "fail_next":
                self.fail_next(
                    payload["operation"], int(payload.get("n", 1)), payload.get("code", "ThrottlingException")
                )
            elif method == "POST" and action == "reset":
                self.reset()
            elif not (method == "GET" and action == "health"):
                return _json_reply(
                    404, {"error": f"unknown control action {method} {CONTROL_PREFIX}{action}"}
                )
            return _json_reply(200, {"ok": True})
        except (TypeError, ValueError, KeyError) as exc:
            return _json_reply(400, {"error": f"{type(exc).__name__}: {exc}"})


def _protocol_of(operation: str) -> _Protocol:
    for protocol in (BEDROCK, REKOGNITION, COMPREHEND):
        if operation in protocol.operations:
            return protocol
    raise ValueError(
        f"unknown operation {operation!r}; use Converse, InvokeModel or one of {REKOGNITION_OPERATIONS}"
    )


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], double: AiServicesDouble) -> None:
        super().__init__(address, _Handler)
        self.double = double


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive like the real endpoints; botocore pools connections
    timeout = 60  # an idle keep-alive connection must not pin a thread forever
    server_version = "AiServicesDouble/1.0"

    def do_GET(self) -> None:
        self._respond("GET")

    def do_POST(self) -> None:
        self._respond("POST")

    def _respond(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        double = cast(_Server, self.server).double
        reply = double.handle(method, self.path, self.headers.get("X-Amz-Target"), body)
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        self.wfile.write(reply.body)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: a benchmark makes thousands of calls; the call log has the details


# --------------------------------------------------------------------------- CLI


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Run the Bedrock/Rekognition test double (NOT AWS).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--latency-bedrock", type=float, default=0.0, help="seconds per Converse")
    parser.add_argument("--latency-rekognition", type=float, default=0.0, help="seconds per Rekognition call")
    parser.add_argument("--latency-embedding", type=float, default=0.0, help="seconds per InvokeModel")
    parser.add_argument("--jitter", type=float, default=0.0, help="extra uniform(0, J) seconds")
    parser.add_argument("--throttle-rate", type=float, default=0.0)
    parser.add_argument("--error-rate", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--oversize-output", action="store_true", help="hostile Converse tool input")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    config = DoubleConfig(
        latency_bedrock=args.latency_bedrock,
        latency_rekognition=args.latency_rekognition,
        latency_embedding=args.latency_embedding,
        jitter=args.jitter,
        throttle_rate=args.throttle_rate,
        error_rate=args.error_rate,
        seed=args.seed,
        oversize_output=args.oversize_output,
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    with AiServicesDouble(config, args.host, args.port) as double:
        print(double.endpoint_url, flush=True)  # first stdout line: the parent reads the URL from here
        while not stop.wait(0.5):
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
