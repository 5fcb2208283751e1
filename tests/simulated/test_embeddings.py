"""The AI services test double's InvokeModel (Titan Multimodal Embeddings G1), through real boto3
clients: the body and limits as Titan documents them, and vectors whose distances mean something
(imgpipe/simulated/embeddings.py), so search tests can prove ranking."""

from __future__ import annotations

import base64
import json
import math
import time
from collections.abc import Iterator
from typing import Any

import pytest
from PIL import Image, ImageDraw

from imgpipe.simulated.ai_answers import fingerprint, hamming
from imgpipe.simulated.ai_services import AiServicesDouble, DoubleConfig
from imgpipe.simulated.embeddings import cosine
from tests.imagegen import BLUE, RED, encode
from tests.simulated.test_ai_services import client_error, make_client

MODEL = "amazon.titan-embed-image-v1"


def picture(
    colour: tuple[int, int, int], corner: tuple[int, int], size: tuple[int, int] = (640, 480)
) -> Image.Image:
    """A flat colour with a white square whose top-left corner is at `corner` (ratios x 100)."""
    image = Image.new("RGB", size, colour)
    left, top = size[0] * corner[0] // 100, size[1] * corner[1] // 100
    ImageDraw.Draw(image).rectangle(
        (left, top, left + size[0] // 5, top + size[1] // 5), fill=(255, 255, 255)
    )
    return image


RED_A = encode(picture(RED, (5, 5)), "PNG")
RED_A_COPY = encode(picture(RED, (5, 5)).resize((320, 240)), "JPEG", quality=70)  # re-encoded, smaller
RED_B = encode(picture(RED, (70, 65)), "PNG")
BLUE_A = encode(picture(BLUE, (5, 5)), "PNG")
BLUE_B = encode(picture(BLUE, (40, 60)), "JPEG", quality=85)
YELLOW = encode(picture((240, 230, 30), (10, 60)), "PNG")  # the double reads a receipt on yellow


@pytest.fixture(scope="module")
def double() -> Iterator[AiServicesDouble]:
    with AiServicesDouble(DoubleConfig(seed=3)) as running:
        yield running


@pytest.fixture(autouse=True)
def clean_double(double: AiServicesDouble) -> None:
    double.configure(**vars(DoubleConfig(seed=3)))
    double.reset()


@pytest.fixture(scope="module")
def bedrock(double: AiServicesDouble) -> Any:
    return make_client("bedrock-runtime", double.endpoint_url)


def invoke(bedrock: Any, body: dict[str, Any], model: str = MODEL) -> dict[str, Any]:
    response = bedrock.invoke_model(
        modelId=model, body=json.dumps(body), contentType="application/json", accept="application/json"
    )
    assert response["contentType"] == "application/json"
    answer: dict[str, Any] = json.loads(response["body"].read())
    return answer


def image_body(data: bytes, length: int = 256) -> dict[str, Any]:
    return {
        "inputImage": base64.b64encode(data).decode(),
        "embeddingConfig": {"outputEmbeddingLength": length},
    }


def embed_image(bedrock: Any, data: bytes, length: int = 256) -> list[float]:
    vector: list[float] = invoke(bedrock, image_body(data, length))["embedding"]
    return vector


def embed_text(bedrock: Any, text: str, length: int = 256) -> list[float]:
    vector: list[float] = invoke(
        bedrock, {"inputText": text, "embeddingConfig": {"outputEmbeddingLength": length}}
    )["embedding"]
    return vector


# --------------------------------------------------------------------------- meaning


def test_a_colour_word_is_nearer_the_pictures_of_that_colour(bedrock: Any) -> None:
    red = embed_text(bedrock, "red")
    reds = [embed_image(bedrock, data) for data in (RED_A, RED_B)]
    blues = [embed_image(bedrock, data) for data in (BLUE_A, BLUE_B)]
    assert min(cosine(red, v) for v in reds) > max(cosine(red, v) for v in blues) + 0.5
    blue = embed_text(bedrock, "a photo of the blue sea")  # synonyms and filler words
    assert min(cosine(blue, v) for v in blues) > max(cosine(blue, v) for v in reds) + 0.3
    crimson = embed_text(bedrock, "Crimson")
    assert cosine(crimson, red) == pytest.approx(1.0)


def test_a_picture_is_nearest_its_re_encoded_copy_then_its_colour(bedrock: Any) -> None:
    assert (
        hamming(fingerprint(RED_A), fingerprint(RED_A_COPY))
        <= 6
        < hamming(fingerprint(RED_A), fingerprint(RED_B))
    )
    query = embed_image(bedrock, RED_A)
    ranked = sorted(
        (("copy", RED_A_COPY), ("same colour", RED_B), ("blue", BLUE_A), ("blue jpeg", BLUE_B)),
        key=lambda item: -cosine(query, embed_image(bedrock, item[1])),
    )
    assert [name for name, _ in ranked][:2] == ["copy", "same colour"]
    copy, same_colour = (cosine(query, embed_image(bedrock, data)) for data in (RED_A_COPY, RED_B))
    assert copy > 0.99 and copy - same_colour > 0.03
    # BLUE_A has RED_A's layout (the same average hash): colour outweighs it
    assert fingerprint(BLUE_A) == fingerprint(RED_A)
    assert same_colour > cosine(query, embed_image(bedrock, BLUE_A)) + 0.3


def test_words_the_double_reads_find_the_picture_that_shows_them(bedrock: Any) -> None:
    card = embed_text(bedrock, "card")  # the yellow receipt says CARD 4111 ...
    assert cosine(card, embed_image(bedrock, YELLOW)) > 0.1 > cosine(card, embed_image(bedrock, RED_A))


def test_vectors_are_deterministic_unit_length_and_of_the_requested_length(
    double: AiServicesDouble, bedrock: Any
) -> None:
    for length in (256, 384, 1024):
        first = embed_image(bedrock, BLUE_B, length)
        assert len(first) == length
        assert math.isclose(math.sqrt(sum(v * v for v in first)), 1.0, rel_tol=1e-9)
        assert embed_image(bedrock, BLUE_B, length) == first
    default = invoke(bedrock, {"inputText": "blue"})
    assert len(default["embedding"]) == 1024  # Titan's default length
    assert default["inputTextTokenCount"] == 1


def test_text_and_image_together_are_the_average(bedrock: Any) -> None:
    both = invoke(bedrock, {"inputText": "red", **image_body(BLUE_A)})["embedding"]
    red, blue = embed_text(bedrock, "red"), embed_image(bedrock, BLUE_A)
    assert cosine(both, red) == pytest.approx(cosine(both, blue))
    assert cosine(both, red) > 0.5


# --------------------------------------------------------------------------- Titan's rules


def png_of(size: tuple[int, int]) -> bytes:
    return encode(Image.new("RGB", size, RED), "PNG")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"inputText": "red", "embeddingConfig": {"outputEmbeddingLength": 512}}, "not a valid enum value"),
        ({"inputText": "red", "embeddingConfig": {"outputEmbeddingLength": "256"}}, "not a valid enum value"),
        ({"inputText": "red", "normalize": True}, "extraneous key [normalize]"),
        ({"embeddingConfig": {"outputEmbeddingLength": 256}}, "at least one of inputText or inputImage"),
        ({"inputText": "   "}, "non-empty string"),
        ({"inputText": "word " * 257}, "257 tokens; the maximum is 256"),
        (image_body(png_of((2049, 100))), "2049x100; the maximum is 2048 x 2048"),
        (image_body(encode(Image.new("RGB", (100, 100)), "GIF")), "PNG or JPEG"),
        (image_body(b"\x89PNG\r\n\x1a\n truncated"), "could not be processed"),
        ({"inputImage": "not base64!"}, "not valid base64"),
    ],
)
def test_requests_titan_refuses_are_validation_errors(
    bedrock: Any, body: dict[str, Any], message: str
) -> None:
    code, status, text = client_error(lambda: invoke(bedrock, body))
    assert (code, status) == ("ValidationException", 400)
    assert message in text


def test_the_largest_accepted_inputs(bedrock: Any) -> None:
    assert len(embed_image(bedrock, png_of((2048, 2048)))) == 256
    assert invoke(bedrock, {"inputText": "word " * 256})["inputTextTokenCount"] == 256


def test_images_over_25_mb_are_refused(bedrock: Any) -> None:
    data = encode(Image.new("RGB", (64, 64), RED), "JPEG")
    huge = data + b"\0" * (25 * 1024 * 1024 + 1 - len(data))  # decoders ignore bytes after the image
    code, _, text = client_error(lambda: invoke(bedrock, image_body(huge)))
    assert code == "ValidationException" and "the maximum is 25 MB" in text


def test_other_models_are_not_emulated(bedrock: Any) -> None:
    code, status, text = client_error(lambda: invoke(bedrock, {"inputText": "red"}, "cohere.embed-v4:0"))
    assert (code, status) == ("ValidationException", 400)
    assert "amazon.titan-embed-image-v1 only" in text


# --------------------------------------------------------------------------- faults and call log


def test_fail_next_and_the_call_log(double: AiServicesDouble, bedrock: Any) -> None:
    double.fail_next("InvokeModel", 1, "ThrottlingException")
    code, status, _ = client_error(lambda: embed_image(bedrock, RED_A))
    assert (code, status) == ("ThrottlingException", 429)
    embed_image(bedrock, RED_A)
    embed_text(bedrock, "personal words")
    throttled, image, text = double.calls
    assert (throttled["operation"], throttled["outcome"]) == ("InvokeModel", "ThrottlingException")
    assert (image["operation"], image["outcome"], image["model_id"], image["dimension"]) == (
        "InvokeModel",
        "OK",
        MODEL,
        256,
    )
    assert image["images"][0]["fingerprint"] == fingerprint(RED_A)
    assert text["text_chars"] == len("personal words")
    assert "personal" not in json.dumps(text)  # a phrase's length only, never its words


def test_error_rate_and_latency_apply(double: AiServicesDouble, bedrock: Any) -> None:
    double.configure(error_rate=1.0)
    code, status, _ = client_error(lambda: embed_text(bedrock, "red"))
    assert status >= 500 and code != "ThrottlingException"
    double.configure(error_rate=0.0, latency_embedding=0.2)
    started = time.monotonic()
    embed_text(bedrock, "red")
    assert time.monotonic() - started >= 0.2
