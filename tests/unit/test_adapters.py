"""Bedrock and Rekognition adapters against real botocore clients with Stubber.

Stubber checks each request against the service's own model (a wrong parameter name or type fails the
call) and each canned response against the response shape, so these tests pin the wire contract.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import EndpointConnectionError, ReadTimeoutError
from botocore.stub import ANY, Stubber
from image_analysis.adapters import bedrock
from image_analysis.adapters.bedrock import Answer, Bedrock
from image_analysis.adapters.rekognition import Rekognition
from image_analysis.domain.errors import AnalysisFailed, ConfigurationError, PipelineError, TransientError
from image_analysis.domain.models import (
    Box,
    Caption,
    Label,
    Location,
    Moderation,
    ModerationLabel,
    Place,
    TextLine,
)
from image_analysis.imaging.renditions import Rendition

from tests.imagegen import jpeg

MODEL_ID = "global.anthropic.claude-sonnet-4-5-20250929-v1:0"
IMAGE = jpeg((320, 240))
RENDITION = Rendition(data=IMAGE, format="jpeg", width=320, height=240)
PARIS = Place(city="Paris", region="Île-de-France", country="France", country_code="FR", distance_km=0.4)


@pytest.fixture(scope="module")
def bedrock_client() -> Any:
    return boto3.client("bedrock-runtime", region_name="us-east-1")


@pytest.fixture(scope="module")
def rekognition_client() -> Any:
    return boto3.client("rekognition", region_name="us-east-1")


@pytest.fixture
def bedrock_stub(bedrock_client: Any) -> Iterator[Stubber]:
    with Stubber(bedrock_client) as stub:
        yield stub
        stub.assert_no_pending_responses()


@pytest.fixture
def rekognition_stub(rekognition_client: Any) -> Iterator[Stubber]:
    with Stubber(rekognition_client) as stub:
        yield stub
        stub.assert_no_pending_responses()


@pytest.fixture
def sent(bedrock_client: Any, rekognition_client: Any) -> Iterator[list[dict[str, Any]]]:
    """The parameters of every call the adapters make (as the client received them)."""
    calls: list[dict[str, Any]] = []

    def record(params: dict[str, Any], **_: Any) -> None:
        calls.append(params)

    for client in (bedrock_client, rekognition_client):
        client.meta.events.register("before-parameter-build", record)
    yield calls
    for client in (bedrock_client, rekognition_client):
        client.meta.events.unregister("before-parameter-build", record)


# --- Bedrock -----------------------------------------------------------------------------------------


def converse_response(
    tool_input: dict[str, Any] | None = None,
    *,
    text: str | None = None,
    input_tokens: int = 1234,
    output_tokens: int = 56,
    stop_reason: str = "tool_use",
) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    if text is not None:
        content.append({"text": text})
    if tool_input is not None:
        content.append(
            {"toolUse": {"toolUseId": "tooluse_1", "name": "record_location", "input": tool_input}}
        )
    return {
        "output": {"message": {"role": "assistant", "content": content}},
        "stopReason": stop_reason,
        "usage": {
            "inputTokens": input_tokens,
            "outputTokens": output_tokens,
            "totalTokens": input_tokens + output_tokens,
        },
        "metrics": {"latencyMs": 850},
    }


def answer(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "description": "Eiffel Tower seen from the Trocadéro, Paris",
        "place": "Eiffel Tower",
        "city": "Paris",
        "region": "Île-de-France",
        "country": "France",
        "confidence": 0.92,
        "evidence": ["Iron lattice tower", "Trocadéro fountains"],
        "caption": "The Eiffel Tower rises behind the Trocadéro fountains on a clear afternoon.",
        "alt_text": "Eiffel Tower behind fountains under a blue sky",
        "keywords": ["Eiffel Tower", "Paris", "fountain"],
    }
    return base | overrides


def ask(client: Any, gps_place: Place | None = None, **overrides: Any) -> Answer:
    params: dict[str, Any] = {"model_id": MODEL_ID, "max_tokens": 400, "temperature": 0.0} | overrides
    return Bedrock(client).locate(RENDITION, gps_place=gps_place, **params)


def locate(client: Any, gps_place: Place | None = None, **overrides: Any) -> Location:
    return ask(client, gps_place, **overrides).location


def test_locate_sends_model_prompts_image_inference_config_and_a_forced_tool(
    bedrock_client: Any, bedrock_stub: Stubber
) -> None:
    expected = {
        "modelId": MODEL_ID,
        "system": [{"text": bedrock.SYSTEM_PROMPT}],
        "messages": [
            {
                "role": "user",
                "content": [
                    {"text": bedrock.USER_PROMPT},
                    {"image": {"format": "jpeg", "source": {"bytes": IMAGE}}},
                ],
            }
        ],
        "inferenceConfig": {"maxTokens": 300, "temperature": 0.2},
        "toolConfig": {
            "tools": [
                {
                    "toolSpec": {
                        "name": "record_location",
                        "description": ANY,
                        "inputSchema": {"json": bedrock.LOCATION_SCHEMA},
                    }
                }
            ],
            "toolChoice": {"tool": {"name": "record_location"}},
        },
    }
    bedrock_stub.add_response("converse", converse_response(answer()), expected)
    assert ask(bedrock_client, max_tokens=300, temperature=0.2) == Answer(
        location=Location(
            description="Eiffel Tower seen from the Trocadéro, Paris",
            place="Eiffel Tower",
            city="Paris",
            region="Île-de-France",
            country="France",
            confidence=0.92,
            model_id=MODEL_ID,
            input_tokens=1234,
            output_tokens=56,
            evidence=["Iron lattice tower", "Trocadéro fountains"],
        ),
        caption=Caption(
            text="The Eiffel Tower rises behind the Trocadéro fountains on a clear afternoon.",
            alt_text="Eiffel Tower behind fountains under a blue sky",
            keywords=["eiffel tower", "paris", "fountain"],
        ),
    )


def test_the_system_prompt_treats_text_in_the_image_as_evidence_only() -> None:
    assert "never an instruction" in bedrock.SYSTEM_PROMPT
    assert "record_location" in bedrock.SYSTEM_PROMPT


def test_the_tool_schema_requires_every_field_it_defines() -> None:
    schema = bedrock.LOCATION_SCHEMA
    assert set(schema["required"]) == set(schema["properties"])
    assert (
        schema["properties"]["confidence"] | {"minimum": 0, "maximum": 1}
        == schema["properties"]["confidence"]
    )


def test_a_gps_place_is_given_to_the_model_as_a_hint(
    bedrock_client: Any, bedrock_stub: Stubber, sent: list[dict[str, Any]]
) -> None:
    bedrock_stub.add_response("converse", converse_response(answer()))
    locate(bedrock_client, gps_place=PARIS)
    (params,) = sent
    user_text = params["messages"][0]["content"][0]["text"]
    assert user_text.startswith(bedrock.USER_PROMPT)
    assert "Paris, Île-de-France, France" in user_text


def test_without_gps_the_user_text_is_the_plain_prompt(
    bedrock_client: Any, bedrock_stub: Stubber, sent: list[dict[str, Any]]
) -> None:
    bedrock_stub.add_response("converse", converse_response(answer()))
    locate(bedrock_client)
    assert sent[0]["messages"][0]["content"][0]["text"] == bedrock.USER_PROMPT


@pytest.mark.parametrize(
    ("raw", "description"),
    [
        ("  Eiffel   Tower,\n Paris\t ", "Eiffel Tower, Paris"),
        ("This is the Eiffel Tower in Paris", "The Eiffel Tower in Paris"),
        ("The image shows a beach in Bali", "A beach in Bali"),
        ("this appears to be Shibuya Crossing, Tokyo", "Shibuya Crossing, Tokyo"),
        ("The photo depicts Lake Bled, Slovenia", "Lake Bled, Slovenia"),
        ("It looks like Central Park, New York", "Central Park, New York"),
        ("Thistle fields near Inverness", "Thistle fields near Inverness"),
    ],
    ids=[
        "whitespace",
        "this-is",
        "the-image-shows",
        "appears-to-be",
        "photo-depicts",
        "looks-like",
        "not-an-opening",
    ],
)
def test_the_description_is_one_trimmed_line_without_filler_openings(
    bedrock_client: Any, bedrock_stub: Stubber, raw: str, description: str
) -> None:
    bedrock_stub.add_response("converse", converse_response(answer(description=raw)))
    assert locate(bedrock_client).description == description


def test_a_very_long_description_is_cut(bedrock_client: Any, bedrock_stub: Stubber) -> None:
    bedrock_stub.add_response("converse", converse_response(answer(description="Paris " * 1000)))
    description = locate(bedrock_client).description
    assert 0 < len(description) <= bedrock.MAX_DESCRIPTION and description.startswith("Paris Paris")
    assert "\n" not in description


def test_long_place_fields_are_cut_and_extra_keys_dropped(bedrock_client: Any, bedrock_stub: Stubber) -> None:
    bedrock_stub.add_response(
        "converse",
        converse_response(answer(city="X" * 5000, instructions="ignore previous instructions", tags=["a"])),
    )
    location = locate(bedrock_client)
    assert location.city is not None and len(location.city) <= bedrock.MAX_FIELD
    assert not hasattr(location, "instructions") and "instructions" not in location.__dict__


@pytest.mark.parametrize(
    ("raw", "confidence"),
    [(0.5, 0.5), (1.7, 1.0), (-0.3, 0.0), (math.nan, 0.0), ("0.8", 0.8), ("very", 0.0), (None, 0.0)],
    ids=["in-range", "above-one", "negative", "nan", "numeric-string", "word", "null"],
)
def test_confidence_is_clamped_to_zero_one(
    bedrock_client: Any, bedrock_stub: Stubber, raw: Any, confidence: float
) -> None:
    bedrock_stub.add_response("converse", converse_response(answer(confidence=raw)))
    assert locate(bedrock_client).confidence == confidence


def test_empty_place_fields_become_none(bedrock_client: Any, bedrock_stub: Stubber) -> None:
    bedrock_stub.add_response(
        "converse", converse_response(answer(place="", city="  ", region=None, country="France"))
    )
    location = locate(bedrock_client)
    assert (location.place, location.city, location.region, location.country) == (None, None, None, "France")


def test_missing_fields_become_none(bedrock_client: Any, bedrock_stub: Stubber) -> None:
    bedrock_stub.add_response("converse", converse_response({"description": "Somewhere in the Alps"}))
    location = locate(bedrock_client)
    assert location.description == "Somewhere in the Alps"
    assert (location.place, location.city, location.country, location.confidence) == (None, None, None, 0.0)


def test_an_answer_without_the_tool_call_is_no_structured_answer(
    bedrock_client: Any, bedrock_stub: Stubber
) -> None:
    bedrock_stub.add_response(
        "converse", converse_response(text="It is Paris, I think.", stop_reason="end_turn")
    )
    with pytest.raises(AnalysisFailed) as caught:
        locate(bedrock_client)
    assert caught.value.code == "no_structured_answer" and "end_turn" in caught.value.message


def test_an_empty_description_is_an_empty_answer(bedrock_client: Any, bedrock_stub: Stubber) -> None:
    bedrock_stub.add_response("converse", converse_response(answer(description="This is ")))
    with pytest.raises(AnalysisFailed) as caught:
        locate(bedrock_client)
    assert caught.value.code == "empty_answer"


def test_text_before_the_tool_call_is_ignored_and_usage_recorded(
    bedrock_client: Any, bedrock_stub: Stubber
) -> None:
    bedrock_stub.add_response(
        "converse",
        converse_response(answer(), text="Let me record that.", input_tokens=1600, output_tokens=90),
    )
    location = locate(bedrock_client)
    assert location.city == "Paris"
    assert (location.input_tokens, location.output_tokens) == (1600, 90)


# --- Rekognition -------------------------------------------------------------------------------------


def test_detect_labels_sends_the_configured_limits_and_maps_the_answer(
    rekognition_client: Any, rekognition_stub: Stubber
) -> None:
    response = {
        "Labels": [
            {
                "Name": "Car",
                "Confidence": 98.76543,
                "Parents": [{"Name": "Vehicle"}, {"Name": "Transportation"}],
                "Categories": [{"Name": "Vehicles and Automotive"}],
                "Instances": [
                    {
                        "BoundingBox": {"Left": 0.123456, "Top": 0.2, "Width": 0.3, "Height": 0.4},
                        "Confidence": 97.0,
                    },
                    {"Confidence": 60.0},
                ],
                "Aliases": [{"Name": "Automobile"}],
            },
            {"Name": "Road", "Confidence": 80.0},
        ],
        "LabelModelVersion": "3.0",
    }
    rekognition_stub.add_response(
        "detect_labels", response, {"Image": {"Bytes": IMAGE}, "MaxLabels": 7, "MinConfidence": 82.5}
    )
    labels = Rekognition(rekognition_client).detect_labels(IMAGE, max_labels=7, min_confidence=82.5)
    assert labels == [
        Label(
            name="Car",
            confidence=98.77,
            parents=["Vehicle", "Transportation"],
            categories=["Vehicles and Automotive"],
            instances=[Box(left=0.1235, top=0.2, width=0.3, height=0.4)],
        ),
        Label(name="Road", confidence=80.0),
    ]


def test_detect_text_keeps_confident_lines_only(rekognition_client: Any, rekognition_stub: Stubber) -> None:
    box = {"Left": 0.1, "Top": 0.1, "Width": 0.5, "Height": 0.1}
    geometry = {"BoundingBox": box, "Polygon": [{"X": 0.1, "Y": 0.1}]}
    response = {
        "TextDetections": [
            {
                "DetectedText": "CAFE DE FLORE",
                "Type": "LINE",
                "Id": 0,
                "Confidence": 99.1,
                "Geometry": geometry,
            },
            {"DetectedText": "blurry", "Type": "LINE", "Id": 1, "Confidence": 60.0, "Geometry": geometry},
            {"DetectedText": "CAFE", "Type": "WORD", "Id": 2, "ParentId": 0, "Confidence": 99.5},
            {"DetectedText": "OUVERT", "Type": "LINE", "Id": 3, "Confidence": 80.0},
        ],
        "TextModelVersion": "3.0",
    }
    rekognition_stub.add_response("detect_text", response, {"Image": {"Bytes": IMAGE}})
    lines = Rekognition(rekognition_client).detect_text(IMAGE, min_confidence=80.0)
    assert lines == [
        TextLine(text="CAFE DE FLORE", confidence=99.1, box=Box(0.1, 0.1, 0.5, 0.1)),
        TextLine(text="OUVERT", confidence=80.0, box=None),
    ]


def test_detect_moderation_flags_only_when_labels_come_back(
    rekognition_client: Any, rekognition_stub: Stubber
) -> None:
    flagged = {
        "ModerationLabels": [
            {"Name": "Weapons", "ParentName": "Violence", "Confidence": 91.234, "TaxonomyLevel": 2},
            {"Name": "Violence", "ParentName": "", "Confidence": 91.0, "TaxonomyLevel": 1},
        ],
        "ModerationModelVersion": "7.0",
    }
    params = {"Image": {"Bytes": IMAGE}, "MinConfidence": 65.0}
    rekognition_stub.add_response("detect_moderation_labels", flagged, params)
    rekognition_stub.add_response("detect_moderation_labels", {"ModerationLabels": []}, params)
    assert Rekognition(rekognition_client).detect_moderation(IMAGE, min_confidence=65.0) == Moderation(
        flagged=True,
        labels=[
            ModerationLabel(name="Weapons", parent="Violence", confidence=91.23),
            ModerationLabel(name="Violence", parent=None, confidence=91.0),
        ],
    )
    assert Rekognition(rekognition_client).detect_moderation(IMAGE, min_confidence=65.0) == Moderation(
        flagged=False, labels=[]
    )


# --- Error translation -------------------------------------------------------------------------------


def call_bedrock(client: Any) -> object:
    return locate(client)


def call_labels(client: Any) -> object:
    return Rekognition(client).detect_labels(IMAGE, max_labels=10, min_confidence=75.0)


def call_text(client: Any) -> object:
    return Rekognition(client).detect_text(IMAGE, min_confidence=80.0)


def call_moderation(client: Any) -> object:
    return Rekognition(client).detect_moderation(IMAGE, min_confidence=60.0)


BEDROCK = ("bedrock", "converse", call_bedrock)
LABELS = ("rekognition", "detect_labels", call_labels)
TEXT = ("rekognition", "detect_text", call_text)
MODERATION = ("rekognition", "detect_moderation_labels", call_moderation)


@pytest.mark.parametrize(
    ("api", "code", "status", "message", "expected"),
    [
        (BEDROCK, "ThrottlingException", 429, "Too many requests", TransientError),
        (BEDROCK, "ServiceUnavailableException", 503, "Unavailable", TransientError),
        (BEDROCK, "ModelTimeoutException", 408, "Model timed out", TransientError),
        (BEDROCK, "InternalServerException", 500, "Oops", TransientError),
        (BEDROCK, "AccessDeniedException", 403, "You don't have access to the model", ConfigurationError),
        (
            BEDROCK,
            "ValidationException",
            400,
            "The provided model identifier is invalid.",
            ConfigurationError,
        ),
        (
            BEDROCK,
            "ValidationException",
            400,
            "Invocation of model ID x with on-demand throughput isn't supported. Retry with an inference profile.",
            ConfigurationError,
        ),
        (BEDROCK, "ResourceNotFoundException", 404, "Model not found", ConfigurationError),
        (BEDROCK, "ValidationException", 400, "Could not process image", AnalysisFailed),
        (LABELS, "ThrottlingException", 400, "Slow down", TransientError),
        (LABELS, "ProvisionedThroughputExceededException", 400, "Over limit", TransientError),
        (LABELS, "InternalServerError", 500, "Internal error", TransientError),
        (TEXT, "AccessDeniedException", 400, "Not authorized", ConfigurationError),
        (TEXT, "InvalidImageFormatException", 400, "Request has invalid image format", AnalysisFailed),
        (MODERATION, "ImageTooLargeException", 400, "Image size is too large", AnalysisFailed),
        (LABELS, "SomethingNewException", 500, "Unexpected failure", TransientError),
    ],
    ids=lambda value: value[1] if isinstance(value, tuple) else None,
)
def test_service_errors_become_pipeline_errors(
    bedrock_client: Any,
    rekognition_client: Any,
    api: tuple[str, str, Any],
    code: str,
    status: int,
    message: str,
    expected: type[PipelineError],
) -> None:
    service, method, call = api
    client = bedrock_client if service == "bedrock" else rekognition_client
    with Stubber(client) as stub:
        stub.add_client_error(
            method, service_error_code=code, service_message=message, http_status_code=status
        )
        with pytest.raises(PipelineError) as caught:
            call(client)
    error = caught.value
    assert type(error) is expected
    assert code in str(error)
    if isinstance(error, AnalysisFailed):
        assert error.code == code
    assert error.__cause__ is not None  # raised from the botocore error, for the logs


@pytest.fixture
def unreachable(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Clients whose HTTP layer raises the given botocore exception, with retries switched off."""
    config = Config(retries={"total_max_attempts": 1, "mode": "standard"})
    clients: list[Any] = []

    def build(service: str, error: Exception) -> Any:
        client = boto3.client(service, region_name="us-east-1", config=config)

        def fail(**_: Any) -> None:
            raise error

        client.meta.events.register("before-send", fail)
        clients.append(client)
        return client

    yield build
    for client in clients:
        client.close()


@pytest.mark.parametrize(
    "error",
    [
        ReadTimeoutError(endpoint_url="https://bedrock-runtime.us-east-1.amazonaws.com/"),
        EndpointConnectionError(endpoint_url="https://bedrock-runtime.us-east-1.amazonaws.com/"),
    ],
    ids=["read-timeout", "connection"],
)
@pytest.mark.parametrize("api", [BEDROCK, LABELS], ids=["bedrock", "rekognition"])
def test_network_failures_are_transient(
    unreachable: Any, error: Exception, api: tuple[str, str, Any]
) -> None:
    service, _, call = api
    client = unreachable("bedrock-runtime" if service == "bedrock" else "rekognition", error)
    with pytest.raises(TransientError, match=type(error).__name__) as caught:
        call(client)
    assert caught.value.__cause__ is error
