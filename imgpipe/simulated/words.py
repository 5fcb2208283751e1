"""SIMULATED words, not a language model: the extra text the AI services test double "reads" in some
pictures (DetectText), and its Amazon Comprehend answers on text, computed by rules a test can follow.

Signs (added to DetectText's fingerprint line, by the picture's mean colour, ai_answers.NAMED_COLOURS):
  * Yellow: a receipt in English, with a name, a card number and an address (SIGNS["Yellow"]).
  * Purple: a station sign in French.
Comprehend (DetectDominantLanguage, DetectEntities, DetectKeyPhrases, DetectPiiEntities):
  * Language: the one with most of its STOPWORDS among the words (ties: en, es, fr, de), scored
    0.5 + half the share of words that are its stopwords; text without a letter has none.
  * Entities: PERSON (two capitalised words after BY, TO, NAME, Mr, Ms or Dr), LOCATION (a street
    address: number, name, Street/Road/Avenue, optional ", Town"; or "rue ..."), DATE (2026-05-01,
    1/5/2026), OTHER (a card number), all at 0.99.
  * Key phrases: every run of two or more words made of letters only, at 0.95.
  * PII (English and Spanish only): CREDIT_DEBIT_NUMBER (four groups of four digits), SSN
    (123-45-6789), EMAIL, PHONE (+1 206 555 0100), NAME and ADDRESS (as PERSON and LOCATION),
    DATE_TIME, at 0.999, by character offsets.
"""

from __future__ import annotations

import re
from typing import Any

JsonDict = dict[str, Any]

SIGNS: dict[str, list[str]] = {
    "Yellow": ["PAID BY Jane Doe", "CARD 4111 1111 1111 1111", "12 Main Street, Springfield"],
    "Purple": ["Défense de fumer dans la gare", "Sortie rue de la Paix"],
}
STOPWORDS: dict[str, frozenset[str]] = {
    "en": frozenset({"the", "and", "of", "to", "by", "in", "is", "for", "with", "paid", "card", "street"}),
    "es": frozenset({"el", "los", "las", "del", "y", "en", "calle", "salida", "con"}),
    "fr": frozenset({"le", "la", "les", "de", "des", "du", "dans", "et", "rue", "sortie"}),
    "de": frozenset({"der", "die", "das", "und", "straße", "ausgang", "nicht", "mit"}),
}
ENTITY_LANGUAGES = frozenset({"en", "es", "fr", "de", "it", "pt", "ar", "hi", "ja", "ko", "zh", "zh-TW"})
PII_LANGUAGES = frozenset({"en", "es"})
MAX_TEXT_BYTES = 100_000  # each single-document Detect* operation

_NAME = re.compile(r"\b(?:BY|TO|NAME|Mr\.?|Ms\.?|Dr\.?)\s+([A-Z][a-z]+ [A-Z][a-z]+)")
_ADDRESS = re.compile(
    r"\b\d+ [A-Z][a-z]+ (?:Street|St|Road|Rd|Avenue|Ave)\b(?:, [A-Z][a-z]+)?"
    r"|\brue (?:de la |du |des )?[A-Z][a-z]+"
)
_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b|\b\d{1,2}/\d{1,2}/\d{2,4}\b")
_CARD = re.compile(r"\b(?:\d{4}[ -]?){3}\d{4}\b")
_PII_ONLY = {
    "SSN": re.compile(r"\b\d{3}-\d{2}-\d{4}\b"),
    "EMAIL": re.compile(r"\b[\w.+-]+@[\w-]+\.[\w.-]+\b"),
    "PHONE": re.compile(r"\+\d{1,3}[ .-]\d{3}[ .-]\d{3}[ .-]\d{4}\b"),
}
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)


def sign_lines(colour: str) -> list[str]:
    return list(SIGNS.get(colour, []))


def dominant_language(text: str) -> JsonDict:
    words = [w.lower() for w in _WORD.findall(text)]
    if not words:
        return {"Languages": []}
    hits = {code: sum(1 for w in words if w in stop) for code, stop in STOPWORDS.items()}
    code = max(hits, key=lambda c: hits[c])  # dicts keep order: ties go to en, es, fr, de
    return {"Languages": [{"LanguageCode": code, "Score": round(0.5 + 0.5 * hits[code] / len(words), 3)}]}


def entities(text: str) -> JsonDict:
    found = [("PERSON", m.start(1), m.end(1)) for m in _NAME.finditer(text)]
    found += [("LOCATION", m.start(), m.end()) for m in _ADDRESS.finditer(text)]
    found += [("DATE", m.start(), m.end()) for m in _DATE.finditer(text)]
    found += [("OTHER", m.start(), m.end()) for m in _CARD.finditer(text)]
    return {
        "Entities": [
            {"Score": 0.99, "Type": kind, "Text": text[begin:end], "BeginOffset": begin, "EndOffset": end}
            for kind, begin, end in sorted(found, key=lambda f: f[1])
        ]
    }


def key_phrases(text: str) -> JsonDict:
    runs: list[list[re.Match[str]]] = [[]]
    for token in re.finditer(r"\S+", text):
        previous = runs[-1][-1] if runs[-1] else None
        same_line = previous is None or "\n" not in text[previous.end() : token.start()]
        if _WORD.fullmatch(token.group()) and same_line:
            runs[-1].append(token)
        else:
            runs.append([token] if _WORD.fullmatch(token.group()) else [])
    return {
        "KeyPhrases": [
            {
                "Score": 0.95,
                "Text": text[run[0].start() : run[-1].end()],
                "BeginOffset": run[0].start(),
                "EndOffset": run[-1].end(),
            }
            for run in runs
            if len(run) >= 2
        ]
    }


def pii_entities(text: str) -> JsonDict:
    found = [("NAME", m.start(1), m.end(1)) for m in _NAME.finditer(text)]
    found += [("ADDRESS", m.start(), m.end()) for m in _ADDRESS.finditer(text)]
    found += [("DATE_TIME", m.start(), m.end()) for m in _DATE.finditer(text)]
    found += [("CREDIT_DEBIT_NUMBER", m.start(), m.end()) for m in _CARD.finditer(text)]
    for kind, pattern in _PII_ONLY.items():
        found += [(kind, m.start(), m.end()) for m in pattern.finditer(text)]
    return {
        "Entities": [
            {"Score": 0.999, "Type": kind, "BeginOffset": begin, "EndOffset": end}
            for kind, begin, end in sorted(found, key=lambda f: f[1])
        ]
    }
