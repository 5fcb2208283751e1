"""Amazon Bedrock adapter for multimodal embeddings (Amazon Titan Multimodal Embeddings G1 by default,
through InvokeModel): an image or a phrase in, one vector in their shared space out.

Images and words land in the same space, so a phrase finds the images that show it and an image finds
the ones like it (`imgpipe search`). The answer is checked here: the requested length, finite numbers.
"""

from __future__ import annotations

import base64
import json
import math
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from ..domain.errors import AnalysisFailed
from .errors import translate

if TYPE_CHECKING:
    from mypy_boto3_bedrock_runtime import BedrockRuntimeClient

# Titan Multimodal Embeddings G1 reads at most 256 text tokens; a search phrase is far shorter, so a
# longer one is cut (about four characters a token) rather than refused.
MAX_TEXT_CHARS = 1000


class Embeddings:
    """A multimodal embedding model on Bedrock, through one bedrock-runtime client."""

    def __init__(self, client: BedrockRuntimeClient) -> None:
        self.client = client

    def embed_image(self, jpeg: bytes, *, model_id: str, dimension: int) -> list[float]:
        """The image's vector (the Bedrock rendition: at most 1568 px, well inside 2048 x 2048)."""
        return self._embed({"inputImage": base64.b64encode(jpeg).decode("ascii")}, model_id, dimension)

    def embed_text(self, text: str, *, model_id: str, dimension: int) -> list[float]:
        """A phrase's vector, in the same space as the images'."""
        phrase = " ".join(text.split())[:MAX_TEXT_CHARS]
        if not phrase:
            raise AnalysisFailed("empty_text", "there is nothing to search for: the phrase is empty")
        return self._embed({"inputText": phrase}, model_id, dimension)

    def _embed(self, body: dict[str, Any], model_id: str, dimension: int) -> list[float]:
        request = body | {"embeddingConfig": {"outputEmbeddingLength": dimension}}
        try:
            response = self.client.invoke_model(
                modelId=model_id,
                body=json.dumps(request).encode(),
                contentType="application/json",
                accept="application/json",
            )
            answer = json.loads(response["body"].read())
        except (ClientError, BotoCoreError) as exc:
            raise translate(exc, "Bedrock InvokeModel (embedding)") from exc
        except ValueError as exc:
            raise AnalysisFailed("bad_embedding", f"the embedding model's answer is not JSON: {exc}") from exc
        return parse_embedding(answer, dimension)


def parse_embedding(answer: Any, dimension: int) -> list[float]:
    """The vector from an InvokeModel answer, or AnalysisFailed saying what is wrong with it."""
    vector = answer.get("embedding") if isinstance(answer, dict) else None
    if not isinstance(vector, list) or len(vector) != dimension:
        got = len(vector) if isinstance(vector, list) else type(vector).__name__
        message = answer.get("message") if isinstance(answer, dict) else None
        raise AnalysisFailed(
            "bad_embedding",
            f"expected an embedding of {dimension} numbers, got {got}" + (f" ({message})" if message else ""),
        )
    try:
        numbers = [float(x) for x in vector]
    except (TypeError, ValueError) as exc:
        raise AnalysisFailed("bad_embedding", "the embedding holds something other than numbers") from exc
    if not all(math.isfinite(x) for x in numbers) or not any(numbers):
        raise AnalysisFailed("bad_embedding", "the embedding is all zeros or holds a NaN or infinity")
    return numbers
