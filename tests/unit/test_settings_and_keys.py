"""Settings parsed from the environment, the analysis fingerprint, and the image -> result key layout."""

from __future__ import annotations

from dataclasses import fields, replace
from typing import Any

import pytest
from image_analysis.analysis import analysis_fingerprint
from image_analysis.domain.errors import ImageRejected
from image_analysis.domain.keys import MAX_S3_KEY_BYTES, KeyLayout
from image_analysis.domain.records import result_keys_fit
from image_analysis.settings import DEFAULT_MODEL_ID, Settings, SettingsError, defaults, env_name

from tests.support import LAYOUT

# What the stack sets besides the knobs (embeddings are on by default and need the vector index).
VECTORS: dict[str, Any] = {"vector_bucket": "imgpipe-vectors", "vector_index": "image-embeddings"}
BASE_ENV = {
    "RESULTS_TABLE": "imgpipe-results",
    "VECTOR_BUCKET": "imgpipe-vectors",
    "VECTOR_INDEX": "image-embeddings",
}


def from_env(**overrides: str) -> Settings:
    return Settings.from_env({**BASE_ENV, **overrides})


# --- Settings ----------------------------------------------------------------------------------------


def test_only_the_table_is_required_and_everything_else_has_its_default() -> None:
    settings = Settings.from_env(BASE_ENV)
    assert settings == Settings(results_table="imgpipe-results", **VECTORS)
    assert settings.input_prefix == "images/" and settings.output_prefix == "results/"
    assert settings.bedrock_model_id == DEFAULT_MODEL_ID
    assert settings.enable_location and settings.enable_moderation and not settings.skip_location_if_flagged
    assert (settings.labels_max, settings.labels_min_confidence) == (10, 75.0)
    assert (settings.bedrock_max_edge, settings.rekognition_max_edge) == (1024, 2048)
    assert (settings.max_image_pixels, settings.min_image_edge) == (100_000_000, 16)
    assert {k: getattr(settings, k) for k in defaults()} == defaults() | VECTORS


def test_the_results_table_is_required() -> None:
    with pytest.raises(SettingsError, match="RESULTS_TABLE"):
        Settings.from_env({})
    with pytest.raises(SettingsError, match="RESULTS_TABLE"):
        Settings.from_env({"RESULTS_TABLE": "  "})


def test_unknown_variables_are_ignored() -> None:
    assert Settings.from_env({**BASE_ENV, "PATH": "/usr/bin", "LABELS": "x"}) == Settings(
        "imgpipe-results", **VECTORS
    )


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("true", True),
        ("TRUE", True),
        ("1", True),
        ("yes", True),
        (" on ", True),
        ("false", False),
        ("False", False),
        ("0", False),
        ("no", False),
        ("off", False),
    ],
)
def test_booleans_accept_the_usual_spellings(raw: str, value: bool) -> None:
    assert from_env(ENABLE_TEXT=raw).enable_text is value
    assert from_env(SKIP_LOCATION_IF_FLAGGED=raw).skip_location_if_flagged is value


def test_numbers_are_parsed_to_their_types() -> None:
    settings = from_env(
        LABELS_MAX=" 25 ",
        LABELS_MIN_CONFIDENCE="62.5",
        BEDROCK_TEMPERATURE="0.3",
        MAX_IMAGE_PIXELS="50000000",
        BEDROCK_READ_TIMEOUT_S="90",
        PRICE_BEDROCK_INPUT_MTOK_USD="2.75",
    )
    assert settings.labels_max == 25 and isinstance(settings.labels_max, int)
    assert settings.labels_min_confidence == 62.5
    assert settings.bedrock_temperature == 0.3
    assert settings.max_image_pixels == 50_000_000
    assert settings.bedrock_read_timeout_s == 90.0 and isinstance(settings.bedrock_read_timeout_s, float)
    assert settings.price_bedrock_input_mtok_usd == 2.75


def test_strings_are_trimmed() -> None:
    assert from_env(BEDROCK_MODEL_ID="  my-model  ").bedrock_model_id == "my-model"


@pytest.mark.parametrize(
    ("name", "raw"),
    [
        ("ENABLE_LABELS", "maybe"),
        ("ENABLE_LABELS", ""),
        ("LABELS_MAX", "ten"),
        ("LABELS_MAX", "2.5"),
        ("LABELS_MIN_CONFIDENCE", "high"),
        ("MAX_IMAGE_PIXELS", ""),
        ("BEDROCK_TEMPERATURE", "warm"),
    ],
)
def test_an_unparseable_value_names_the_variable(name: str, raw: str) -> None:
    with pytest.raises(SettingsError, match=name):
        from_env(**{name: raw})


@pytest.mark.parametrize(
    ("name", "raw"),
    [
        ("LABELS_MAX", "0"),
        ("LABELS_MAX", "51"),
        ("LABELS_MIN_CONFIDENCE", "101"),
        ("TEXT_MIN_CONFIDENCE", "-1"),
        ("MODERATION_MIN_CONFIDENCE", "nan"),
        ("BEDROCK_TEMPERATURE", "1.5"),
        ("BEDROCK_MAX_TOKENS", "10"),
        ("BEDROCK_MAX_EDGE", "4096"),
        ("REKOGNITION_MAX_EDGE", "8000"),
        ("MIN_IMAGE_EDGE", "0"),
        ("MAX_IMAGE_PIXELS", "0"),
        ("MAX_IMAGE_BYTES", "-5"),
        ("MAX_ATTEMPTS", "0"),
        ("CLAIM_TIMEOUT_S", "5"),
        ("BEDROCK_MODEL_ID", ""),
    ],
)
def test_an_out_of_range_value_names_the_variable(name: str, raw: str) -> None:
    with pytest.raises(SettingsError, match=name):
        from_env(**{name: raw})


@pytest.mark.parametrize(
    ("variable", "prefix"),
    [
        ("INPUT_PREFIX", "images"),
        ("INPUT_PREFIX", "/images/"),
        ("INPUT_PREFIX", "/"),
        ("INPUT_PREFIX", ""),
        ("OUTPUT_PREFIX", "results"),
    ],
)
def test_prefixes_must_be_key_prefixes_ending_in_a_slash(variable: str, prefix: str) -> None:
    with pytest.raises(SettingsError, match=variable):
        from_env(**{variable: prefix})


@pytest.mark.parametrize(
    ("input_prefix", "output_prefix"),
    [("images/", "images/results/"), ("data/images/", "data/"), ("same/", "same/")],
    ids=["output-inside-input", "input-inside-output", "identical"],
)
def test_input_and_output_prefixes_must_not_contain_each_other(input_prefix: str, output_prefix: str) -> None:
    # Results written under the input prefix would trigger the pipeline on its own output.
    with pytest.raises(SettingsError, match="must not contain each other"):
        from_env(INPUT_PREFIX=input_prefix, OUTPUT_PREFIX=output_prefix)


def test_sibling_prefixes_sharing_a_beginning_are_allowed() -> None:
    settings = from_env(INPUT_PREFIX="images/", OUTPUT_PREFIX="images-results/")
    assert settings.output_prefix == "images-results/"


def test_to_env_round_trips_through_from_env() -> None:
    custom = Settings(
        results_table="t",
        input_prefix="in/",
        output_prefix="out/",
        enable_text=False,
        skip_location_if_flagged=True,
        bedrock_model_id="eu.anthropic.claude-x",
        bedrock_temperature=0.25,
        labels_max=33,
        labels_min_confidence=55.5,
        connect_timeout_s=1.5,
        price_rekognition_image_usd=0.00075,
        embedding_dimension=384,
        **VECTORS,
    )
    env = custom.to_env()
    assert set(env) == {env_name(f.name) for f in fields(Settings)}
    assert all(isinstance(value, str) for value in env.values())
    assert env["ENABLE_TEXT"] == "false" and env["SKIP_LOCATION_IF_FLAGGED"] == "true"
    assert Settings.from_env(env) == custom
    assert Settings.from_env(Settings("t", **VECTORS).to_env()) == Settings("t", **VECTORS)


def test_embeddings_need_the_stacks_vector_index_unless_switched_off() -> None:
    with pytest.raises(SettingsError, match="ENABLE_EMBEDDINGS needs VECTOR_BUCKET and VECTOR_INDEX"):
        Settings(results_table="t")
    assert Settings(results_table="t", enable_embeddings=False).vector_bucket == ""


def test_the_embedding_counts_in_the_worst_case_as_one_more_concurrent_call() -> None:
    base = Settings(results_table="t", max_attempts=1, connect_timeout_s=1.0, **VECTORS)
    quick = replace(base, embedding_read_timeout_s=5.0)
    assert quick.worst_case_image_s == replace(base, enable_embeddings=False).worst_case_image_s
    slow = replace(base, embedding_read_timeout_s=200.0)
    assert slow.worst_case_image_s == 201.0 + 10.0  # the slowest call, not the sum, plus storage


def test_settings_are_validated_when_built_directly_too() -> None:
    with pytest.raises(SettingsError, match="LABELS_MAX"):
        Settings(results_table="t", labels_max=0)
    with pytest.raises(SettingsError, match="RESULTS_TABLE"):
        Settings(results_table="")


BASE = Settings(results_table="imgpipe-results", **VECTORS)


@pytest.mark.parametrize(
    "change",
    [
        {"bedrock_model_id": "eu.anthropic.claude-other"},
        {"labels_min_confidence": 80.0},
        {"text_min_confidence": 90.0},
        {"moderation_min_confidence": 50.0},
        {"labels_max": 20},
        {"bedrock_max_edge": 1568},
        {"rekognition_max_edge": 1024},
        {"bedrock_temperature": 0.5},
        {"enable_text": False},
        {"skip_location_if_flagged": True},
        {"enable_embeddings": False},
        {"embedding_model_id": "amazon.titan-embed-image-v2"},
        {"embedding_dimension": 256},
    ],
    ids=lambda change: next(iter(change)),
)
def test_the_fingerprint_changes_with_what_changes_an_analysis(change: dict[str, Any]) -> None:
    assert analysis_fingerprint(replace(BASE, **change)) != analysis_fingerprint(BASE)


@pytest.mark.parametrize(
    "change",
    [
        {"results_table": "another-table"},
        {"price_rekognition_image_usd": 0.5},
        {"price_bedrock_input_mtok_usd": 1.0},
        {"price_bedrock_output_mtok_usd": 1.0},
        {"max_attempts": 9},
        {"connect_timeout_s": 10.0},
        {"bedrock_read_timeout_s": 120.0},
        {"rekognition_read_timeout_s": 30.0},
        {"claim_timeout_s": 900},
        {"content_cache_days": 7},
        {"input_prefix": "photos/", "output_prefix": "analysis/"},
        {"price_embedding_image_usd": 0.5},
        {"embedding_read_timeout_s": 30.0},
        {"vector_bucket": "another-bucket", "vector_index": "another-index"},
    ],
    ids=lambda change: next(iter(change)),
)
def test_the_fingerprint_ignores_names_prices_and_client_behaviour(change: dict[str, Any]) -> None:
    # Changing these must not make every stored result stale (backfill would redo them all).
    assert analysis_fingerprint(replace(BASE, **change)) == analysis_fingerprint(BASE)


def test_the_fingerprint_is_a_stable_short_hex_digest() -> None:
    fingerprint = analysis_fingerprint(BASE)
    assert len(fingerprint) == 16 and int(fingerprint, 16) >= 0
    assert analysis_fingerprint(Settings(results_table="x", **VECTORS)) == fingerprint


# --- Key layout --------------------------------------------------------------------------------------


def test_results_sit_beside_each_other_under_the_output_prefix() -> None:
    assert LAYOUT.json_key("images/trip/a.jpg") == "results/trip/a.jpg.json"
    assert LAYOUT.text_key("images/trip/a.jpg") == "results/trip/a.jpg.txt"
    assert LAYOUT.json_key("images/a b/é.jpg") == "results/a b/é.jpg.json"


def test_images_differing_only_by_extension_never_share_results() -> None:
    keys = {LAYOUT.json_key("images/a.jpg"), LAYOUT.json_key("images/a.png"), LAYOUT.json_key("images/a")}
    keys |= {LAYOUT.text_key("images/a.jpg"), LAYOUT.text_key("images/a.png"), LAYOUT.text_key("images/a")}
    assert len(keys) == 6


@pytest.mark.parametrize(
    ("key", "is_image"),
    [
        ("images/a.jpg", True),
        ("images/trip/day 1/a.HEIC", True),
        ("images/", False),
        ("images/trip/", True),  # accounted for: an empty folder marker is ignored when read
        ("results/a.jpg.json", False),
        ("other/a.jpg", False),
        ("imagesX/a.jpg", False),
        ("a.jpg", False),
    ],
)
def test_which_keys_are_images(key: str, is_image: bool) -> None:
    assert LAYOUT.is_image_key(key) is is_image


def test_output_keys_inside_the_input_prefix_are_never_images() -> None:
    # A layout built without Settings' validation still never analyses its own output.
    nested = KeyLayout("data/", "data/results/")
    assert nested.is_image_key("data/a.jpg")
    assert not nested.is_image_key("data/results/a.jpg.json")


def test_result_keys_refuse_keys_that_are_not_images() -> None:
    for key in ("other/a.jpg", "images/", "results/a.jpg"):
        with pytest.raises(ValueError, match="not under the input prefix"):
            LAYOUT.json_key(key)
    with pytest.raises(ValueError, match="suffix"):
        LAYOUT.result_key("images/a.jpg", ".xml")


def test_a_result_key_over_the_s3_limit_is_refused() -> None:
    # Given image keys within S3's 1,024-byte limit whose result keys would not be
    long_layout = KeyLayout("images/", "results/" + "r" * 32 + "/")
    thousand_bytes = "images/" + "k" * (1000 - len("images/"))
    assert len(thousand_bytes.encode()) == 1000
    near_limit = "images/" + "k" * (1020 - len("images/"))
    multibyte = "images/" + "é" * 508  # 1,023 bytes in 515 characters: bytes count, not characters
    # Then the result key is refused with a stable code rather than failing at PutObject
    for layout, key in ((long_layout, thousand_bytes), (LAYOUT, near_limit), (LAYOUT, multibyte)):
        with pytest.raises(ImageRejected) as caught:
            layout.json_key(key)
        assert caught.value.code == "key_too_long"
    # and a 1,000-byte key with the default prefixes still fits (1,006 bytes)
    assert len(LAYOUT.json_key(thousand_bytes).encode()) == 1006 <= MAX_S3_KEY_BYTES


def test_the_longest_image_key_that_fits_is_accepted() -> None:
    longest = "images/" + "k" * (MAX_S3_KEY_BYTES - len("results/") - len(".json"))
    assert len(LAYOUT.json_key(longest).encode()) == MAX_S3_KEY_BYTES
    with pytest.raises(ImageRejected):
        LAYOUT.json_key(longest + "k")


@pytest.mark.parametrize(
    "image_key",
    ["images/a.jpg", "images/trip/a.png", "images/a b/é東京.heic", "images/x.json", "images/y.txt"],
)
def test_image_key_for_result_inverts_result_key(image_key: str) -> None:
    assert LAYOUT.image_key_for_result(LAYOUT.json_key(image_key)) == image_key
    assert LAYOUT.image_key_for_result(LAYOUT.text_key(image_key)) == image_key


@pytest.mark.parametrize(
    "key",
    ["images/a.jpg", "other/a.jpg.json", "results/a.jpg", "results/a.jpg.xml", "results/", "results/.json"],
)
def test_objects_that_are_not_results_have_no_image(key: str) -> None:
    assert LAYOUT.image_key_for_result(key) is None


@pytest.mark.parametrize(
    "relative", ["../escape.jpg", "a/../../b.jpg", "a//b.jpg", "./a.jpg", "a\\b.jpg", "tab\there.jpg", "a/.."]
)
def test_keys_whose_results_could_leave_the_prefix_are_refused(relative: str) -> None:
    # S3 stores '../' literally, but anything mirroring results to disk would resolve it.
    with pytest.raises(ImageRejected) as refused:
        LAYOUT.json_key("images/" + relative)
    assert refused.value.code == "unsafe_key"


def test_an_unsafe_key_is_recorded_as_failed_without_result_objects() -> None:
    layout = LAYOUT
    assert not result_keys_fit(layout, "images/../x.jpg")
    assert result_keys_fit(layout, "images/日本/x+y %.jpg")
