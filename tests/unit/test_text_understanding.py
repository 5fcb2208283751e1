"""Text understanding without a server: the request-size and billing rules, the Comprehend adapter
against botocore's Stubber (the service model's shapes), and the AI double's rules on text."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from image_analysis.adapters.comprehend import Comprehend
from image_analysis.domain.errors import AnalysisFailed
from image_analysis.domain.language import (
    COMPREHEND_MAX_BYTES,
    PiiEntity,
    billed_units,
    document_text,
    meaningful_chars,
    within_request_limit,
)

from imgpipe.simulated import words

RECEIPT = "PAID BY Jane Doe\nCARD 4111 1111 1111 1111\n12 Main Street, Springfield"


class InlineExecutor(Executor):
    """Runs each call as it is submitted, in order: Stubber answers calls in the order it was given."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except Exception as exc:
            future.set_exception(exc)
        return future


EXECUTOR = InlineExecutor()


@pytest.fixture
def stub() -> Iterator[tuple[Comprehend, Stubber]]:
    client = boto3.client("comprehend", region_name="us-east-1")
    with Stubber(client) as stubber:
        yield Comprehend(client), stubber
        stubber.assert_no_pending_responses()


def language(stubber: Stubber, text: str, code: str) -> None:
    stubber.add_response(
        "detect_dominant_language", {"Languages": [{"LanguageCode": code, "Score": 0.97}]}, {"Text": text}
    )


def test_the_request_limit_is_bytes_and_never_splits_a_character() -> None:
    text = "a" + "é" * COMPREHEND_MAX_BYTES  # two bytes each
    cut = within_request_limit(text)
    assert len(cut.encode("utf-8")) <= COMPREHEND_MAX_BYTES and text.startswith(cut)
    assert len(cut.encode("utf-8")) >= COMPREHEND_MAX_BYTES - 1
    assert within_request_limit(RECEIPT) == RECEIPT


def test_units_and_what_counts_as_text() -> None:
    assert billed_units("x") == 3 and billed_units("x" * 301) == 4  # 100 characters a unit, at least 3
    assert document_text(["  PAID BY Jane Doe ", "", "CARD"]) == "PAID BY Jane Doe\nCARD"
    assert meaningful_chars("FP 0f3c5a77aa00ff11") == 18  # the double's fingerprint line: under 20


def test_english_gets_every_call_and_pii_as_types_and_offsets(stub: tuple[Comprehend, Stubber]) -> None:
    comprehend, stubber = stub
    language(stubber, RECEIPT, "en")
    params = {"Text": RECEIPT, "LanguageCode": "en"}
    stubber.add_response(
        "detect_entities",
        {
            "Entities": [
                {"Type": "PERSON", "Text": "Jane Doe", "Score": 0.99, "BeginOffset": 8, "EndOffset": 16},
                {"Type": "DATE", "Text": "today", "Score": 0.4, "BeginOffset": 0, "EndOffset": 5},
            ]
        },
        params,
    )
    stubber.add_response(
        "detect_key_phrases", {"KeyPhrases": [{"Text": "PAID BY Jane Doe", "Score": 0.95}]}, params
    )
    stubber.add_response(
        "detect_pii_entities",
        {"Entities": [{"Type": "CREDIT_DEBIT_NUMBER", "Score": 0.999, "BeginOffset": 22, "EndOffset": 41}]},
        params,
    )
    insights = comprehend.understand(RECEIPT, min_score=0.8, executor=EXECUTOR)
    assert (insights.language, insights.language_score) == ("en", 0.97)
    assert [(e.type, e.text) for e in insights.entities] == [("PERSON", "Jane Doe")]  # 0.4 is under 0.8
    assert insights.key_phrases == ["PAID BY Jane Doe"]
    assert insights.pii == [PiiEntity("CREDIT_DEBIT_NUMBER", 0.999, 22, 41)] and insights.has_pii
    assert insights.billed_units == 4 * 3  # four requests of under 300 characters


def test_only_the_calls_comprehend_supports_for_the_language_are_made(
    stub: tuple[Comprehend, Stubber],
) -> None:
    comprehend, stubber = stub
    text = "Défense de fumer dans la gare"
    language(stubber, text, "fr")
    stubber.add_response("detect_entities", {"Entities": []}, {"Text": text, "LanguageCode": "fr"})
    stubber.add_response("detect_key_phrases", {"KeyPhrases": []}, {"Text": text, "LanguageCode": "fr"})
    french = comprehend.understand(text, 0.8, EXECUTOR)
    assert french.language == "fr" and not french.has_pii
    assert french.skipped == ["PII: Comprehend detects it in English and Spanish only, not 'fr'"]
    language(stubber, "Выход на улицу", "ru")
    russian = comprehend.understand("Выход на улицу", 0.8, EXECUTOR)  # no entity, phrase or PII model
    assert russian.language == "ru" and len(russian.skipped) == 2 and russian.billed_units == 3


def test_text_over_the_limit_is_cut_before_it_is_sent(stub: tuple[Comprehend, Stubber]) -> None:
    comprehend, stubber = stub
    huge = "word " * 30_000  # 150 KB
    language(stubber, within_request_limit(huge), "zz")
    assert comprehend.understand(huge, 0.8, EXECUTOR).language == "zz"


def test_a_refusal_is_an_analysis_failure(stub: tuple[Comprehend, Stubber]) -> None:
    comprehend, stubber = stub
    stubber.add_client_error("detect_dominant_language", "TextSizeLimitExceededException", "too big")
    with pytest.raises(AnalysisFailed, match="Comprehend DetectDominantLanguage"):
        comprehend.understand(RECEIPT, 0.8, EXECUTOR)
    language(stubber, RECEIPT, "en")
    stubber.add_response("detect_entities", {"Entities": []})
    stubber.add_client_error("detect_key_phrases", "ResourceUnavailableException", "busy")
    stubber.add_response("detect_pii_entities", {"Entities": []})  # still made: the three run at once
    with pytest.raises(AnalysisFailed, match="Comprehend DetectKeyPhrases"):
        comprehend.understand(RECEIPT, 0.8, EXECUTOR)


# --------------------------------------------------------------------------- the double's rules


def types(answer: dict[str, Any]) -> list[str]:
    return [e["Type"] for e in answer["Entities"]]


def test_simulated_comprehend_rules() -> None:
    assert words.dominant_language(RECEIPT)["Languages"][0]["LanguageCode"] == "en"
    assert words.dominant_language(" ".join(words.SIGNS["Purple"]))["Languages"][0]["LanguageCode"] == "fr"
    assert words.dominant_language("4111 1111")["Languages"] == []
    assert types(words.entities(RECEIPT)) == ["PERSON", "OTHER", "LOCATION"]
    assert types(words.pii_entities(RECEIPT)) == ["NAME", "CREDIT_DEBIT_NUMBER", "ADDRESS"]
    pii = words.pii_entities("SSN 123-45-6789, mail jane@example.com, call +1 206 555 0100")
    assert types(pii) == ["SSN", "EMAIL", "PHONE"]
    card = words.pii_entities(RECEIPT)["Entities"][1]
    assert RECEIPT[card["BeginOffset"] : card["EndOffset"]] == "4111 1111 1111 1111"
    assert [p["Text"] for p in words.key_phrases(RECEIPT)["KeyPhrases"]] == ["PAID BY Jane Doe"]
