"""SIMULATED embeddings, not a model: the vectors the AI services test double (ai_services.py) answers
for Amazon Titan Multimodal Embeddings G1 (Bedrock ``InvokeModel``), built by rules a test can follow.

Images and phrases share one space made of CONCEPTS. Each concept is a fixed pseudo-random unit
vector (Gaussian entries seeded by the concept's name and the requested length, then normalised), so
two different concepts are nearly orthogonal and the same concept is the same vector in every
process. A vector is a weighted sum of concept vectors, L2-normalised:

  * An image: what the double "sees" in it (ai_answers.analyse, detect_labels, faces.find_faces):
    its dominant colour (COLOUR_WEIGHT), each label DetectLabels reports ("Red", "Photograph",
    "Object"...) and its parent ("Colour") at LABEL_WEIGHT x confidence/100, "Person" when
    DetectFaces finds a face (LABEL_WEIGHT), each word of the sign it reads (words.sign_lines, not
    the fingerprint line) at WORD_WEIGHT; plus an image-specific part of norm FINGERPRINT_WEIGHT:
    64 fixed vectors, each added or subtracted by one bit of the image's average hash. Two images
    whose hashes differ in d bits share (64 - 2d)/64 of that part, so a re-encoded or resized copy
    (a few bits apart) is nearer than another picture of the same colour (10 to 32 bits apart),
    which is still far nearer than a picture of another colour with the same layout.
  * A phrase: its words (lower-cased letters), each mapped to a concept: a colour name or SYNONYMS
    entry ("crimson" -> Red, "ocean" -> Blue, "photo" -> Photograph, "face" -> Person); any other
    word that is not a STOPWORD is the concept of that word, the same one an image gets when the
    double reads that word on its sign ("card" finds the yellow receipts). A phrase with only
    stopwords keeps them; one without letters is the concept of the whole text.
  * Both (inputText and inputImage): the average of the two normalised vectors, as Titan documents.

So "red" is nearest the red pictures, a picture is nearest its own re-encoded copy, then the other
pictures of its colour. Nothing here understands images or language beyond these rules.
"""

from __future__ import annotations

import functools
import math
import random
import re
from collections.abc import Iterable

from imgpipe.simulated import faces
from imgpipe.simulated.ai_answers import NAMED_COLOURS, ImageFacts, detect_labels
from imgpipe.simulated.words import STOPWORDS, sign_lines

COLOUR_WEIGHT = 1.0
LABEL_WEIGHT = 0.35
WORD_WEIGHT = 0.25
FINGERPRINT_WEIGHT = 0.7
HASH_BITS = 64
SYNONYMS: dict[str, str] = {
    "crimson": "Red", "scarlet": "Red", "ruby": "Red", "cherry": "Red",
    "navy": "Blue", "azure": "Blue", "sea": "Blue", "ocean": "Blue", "sky": "Blue",
    "emerald": "Green", "grass": "Green", "forest": "Green", "lime": "Green",
    "gold": "Yellow", "golden": "Yellow", "lemon": "Yellow",
    "violet": "Purple", "lavender": "Purple", "magenta": "Purple",
    "rose": "Pink", "teal": "Cyan", "turquoise": "Cyan", "aqua": "Cyan",
    "grey": "Gray", "silver": "Gray", "snow": "White", "ivory": "White", "tan": "Brown",
    "chocolate": "Brown", "amber": "Orange", "tangerine": "Orange",
    "photo": "Photograph", "photos": "Photograph", "photograph": "Photograph", "picture": "Photograph",
    "object": "Object", "thing": "Object", "shape": "Object",
    "colour": "Colour", "color": "Colour", "colours": "Colour", "colors": "Colour",
    "person": "Person", "people": "Person", "face": "Person", "faces": "Person", "man": "Person",
    "woman": "Person", "portrait": "Person",
}  # fmt: skip
CONCEPT_WORDS: dict[str, str] = {name.lower(): name for name in NAMED_COLOURS} | SYNONYMS
# English filler of search phrases, and the words.py languages' stopwords.
STOPWORDS_ALL = frozenset(
    {"a", "an", "the", "of", "in", "on", "at", "with", "and", "or", "some", "image", "images", "showing"}
).union(*STOPWORDS.values())
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)
_TOKEN = re.compile(r"\w+|[^\w\s]", re.UNICODE)


def image_vector(facts: ImageFacts, data: bytes, length: int) -> list[float]:
    """The simulated embedding of an image the double decoded (`facts`) from `data`."""
    weights: dict[str, float] = {facts.colour: COLOUR_WEIGHT}
    for label in detect_labels(facts, None, 0)["Labels"]:
        for name in (label["Name"], *(parent["Name"] for parent in label["Parents"])):
            _add(weights, name, LABEL_WEIGHT * label["Confidence"] / 100)
    if faces.find_faces(data):
        _add(weights, "Person", LABEL_WEIGHT)
    for line in sign_lines(facts.colour):
        for word in _WORD.findall(line.lower()):
            _add(weights, f"word:{word}", WORD_WEIGHT)
    vector = _weighted(weights, length)
    bits = f"{int(facts.fingerprint, 16):0{HASH_BITS}b}"
    share = FINGERPRINT_WEIGHT / math.sqrt(HASH_BITS)  # the part's norm is FINGERPRINT_WEIGHT
    for index, bit in enumerate(bits):
        sign = share if bit == "1" else -share
        vector = [v + sign * c for v, c in zip(vector, concept(f"hash-bit:{index}", length), strict=True)]
    return normalised(vector)


def text_vector(text: str, length: int) -> list[float]:
    """The simulated embedding of a phrase, in the images' space (see the module docstring)."""
    words = _WORD.findall(text.lower())
    meaningful = [w for w in words if w in CONCEPT_WORDS or w not in STOPWORDS_ALL] or words
    weights: dict[str, float] = {}
    for word in meaningful:
        _add(weights, CONCEPT_WORDS.get(word, f"word:{word}"), 1.0)
    if not weights:
        weights = {f"text:{text.strip().lower()}": 1.0}
    return normalised(_weighted(weights, length))


def count_tokens(text: str) -> int:
    """Titan's inputTextTokenCount by a fixed formula (no tokenizer): words and punctuation marks."""
    return len(_TOKEN.findall(text))


def combined(vectors: Iterable[list[float]]) -> list[float]:
    """Titan's embedding of text and image together: the average of both, normalised."""
    summed = [sum(values) for values in zip(*vectors, strict=True)]
    return normalised(summed)


def cosine(a: list[float], b: list[float]) -> float:
    """Cosine similarity of two vectors (1 = same direction)."""
    return sum(x * y for x, y in zip(a, b, strict=True)) / (_norm(a) * _norm(b))


@functools.lru_cache(maxsize=4096)
def concept(name: str, length: int) -> tuple[float, ...]:
    """The fixed unit vector of a concept (str seeds hash with SHA-512: the same in every process)."""
    rng = random.Random(f"imgpipe-simulated-embedding|{name}|{length}")
    return tuple(normalised([rng.gauss(0.0, 1.0) for _ in range(length)]))


def normalised(vector: list[float]) -> list[float]:
    norm = _norm(vector)
    return [v / norm for v in vector]


def _norm(vector: list[float]) -> float:
    return math.sqrt(sum(v * v for v in vector)) or 1.0


def _add(weights: dict[str, float], name: str, weight: float) -> None:
    weights[name] = weights.get(name, 0.0) + weight


def _weighted(weights: dict[str, float], length: int) -> list[float]:
    vector = [0.0] * length
    for name, weight in sorted(weights.items()):
        vector = [v + weight * c for v, c in zip(vector, concept(name, length), strict=True)]
    return vector
