"""Unit tests of the 25 IFEval instruction checkers and the strict/loose modes, written from the
official rules (instruction_following_eval, Zhou et al. 2023): one positive and one negative case
per instruction type at least, plus the rule quirks published numbers depend on."""

from __future__ import annotations

import pytest

from rayeval.scoring.instructions import follows_instructions
from rayeval.scoring.instructions.checkers import BUILDERS, build_check
from rayeval.scoring.instructions.following import loose_variants

ENGLISH = "The weather today is lovely and the children are playing happily in the park near the river."

# (instruction id, kwargs, response, expected strict verdict)
CASES = [
    # keywords
    ("keywords:existence", {"keywords": ["dog", "Park"]}, "My DOG runs in the park.", True),
    ("keywords:existence", {"keywords": ["dog"]}, "We saw hotdogs.", True),  # substring, as a regex
    ("keywords:existence", {"keywords": ["dog", "cat"]}, "My dog runs.", False),
    ("keywords:frequency", {"keyword": "fun", "frequency": 2, "relation": "at least"}, "Fun is fun.", True),
    ("keywords:frequency", {"keyword": " fun ", "frequency": 3, "relation": "at least"}, "Fun is fun.", False),
    ("keywords:frequency", {"keyword": "fun", "frequency": 2, "relation": "less than"}, "Fun is funny.", False),
    ("keywords:frequency", {"keyword": "fun", "frequency": 2, "relation": "less than"}, "It is fun.", True),
    ("keywords:forbidden_words", {"forbidden_words": ["cat"]}, "A category of dogs.", True),
    ("keywords:forbidden_words", {"forbidden_words": ["cat", "dog"]}, "My CAT sleeps.", False),
    ("keywords:letter_frequency", {"letter": "A", "let_frequency": 3, "let_relation": "at least"}, "Aardvark", True),
    ("keywords:letter_frequency", {"letter": "a", "let_frequency": 3, "let_relation": "less than"}, "Aardvark", False),
    ("keywords:letter_frequency", {"letter": "z", "let_frequency": 1, "let_relation": "less than"}, "Aardvark", True),
    # a non-letter (IFEval keys 1122, 1129) is counted as given: deterministic
    ("keywords:letter_frequency", {"letter": "!", "let_frequency": 3, "let_relation": "at least"}, "Wow! Yes! Go!", True),
    ("keywords:letter_frequency", {"letter": "#", "let_frequency": 2, "let_relation": "at least"}, "# Title only", False),
    # language
    ("language:response_language", {"language": "en"}, ENGLISH, True),
    ("language:response_language", {"language": "fr"}, ENGLISH, False),
    (
        "language:response_language",
        {"language": "fr"},
        "Le temps est magnifique aujourd'hui et les enfants jouent dans le parc.",
        True,
    ),
    ("language:response_language", {"language": "fr"}, "12345 67890", True),  # undetectable: followed
    # length constraints
    ("length_constraints:number_sentences", {"num_sentences": 3, "relation": "at least"}, "One. Two. Three.", True),
    ("length_constraints:number_sentences", {"num_sentences": 3, "relation": "less than"}, "One. Two. Three.", False),
    # Punkt knows "Mr." is an abbreviation: two sentences, not three
    ("length_constraints:number_sentences", {"num_sentences": 3, "relation": "less than"}, "Mr. Smith left. He slept.", True),
    ("length_constraints:number_paragraphs", {"num_paragraphs": 3}, "One\n***\nTwo\n***\nThree", True),
    ("length_constraints:number_paragraphs", {"num_paragraphs": 2}, "***\nOne\n***\nTwo\n***", True),  # blank ends ignored
    ("length_constraints:number_paragraphs", {"num_paragraphs": 2}, "One\n***\n***\nTwo", False),  # blank inside fails
    ("length_constraints:number_paragraphs", {"num_paragraphs": 2}, "One\n\nTwo", False),
    ("length_constraints:number_words", {"num_words": 4, "relation": "at least"}, "Hello, world! It's", True),  # 4 \w+ runs
    ("length_constraints:number_words", {"num_words": 4, "relation": "less than"}, "Hello, world! It's", False),
    (
        "length_constraints:nth_paragraph_first_word",
        {"num_paragraphs": 2, "nth_paragraph": 2, "first_word": "Weekend"},
        'Intro.\n\n"Weekend," he said.',
        True,
    ),
    (
        "length_constraints:nth_paragraph_first_word",
        {"num_paragraphs": 3, "nth_paragraph": 2, "first_word": "weekend"},
        "Intro.\n\nWeekend plans.",
        False,  # two paragraphs, three asked for
    ),
    (
        "length_constraints:nth_paragraph_first_word",
        {"num_paragraphs": 2, "nth_paragraph": 2, "first_word": "weekend"},
        "Intro.\n\nweekends are fun.",
        False,
    ),
    (
        # paragraphs are counted without empty parts but indexed in the raw split
        "length_constraints:nth_paragraph_first_word",
        {"num_paragraphs": 2, "nth_paragraph": 2, "first_word": "two"},
        "One\n\n\n\nTwo",
        False,
    ),
    # detectable content
    ("detectable_content:number_placeholders", {"num_placeholders": 2}, "Dear [name], at [address].", True),
    ("detectable_content:number_placeholders", {"num_placeholders": 3}, "Dear [name], at [address].", False),
    ("detectable_content:postscript", {"postscript_marker": "P.S."}, "Hello.\n\np. s. see you", True),
    ("detectable_content:postscript", {"postscript_marker": "P.S."}, "Hello. PS see you", False),
    ("detectable_content:postscript", {"postscript_marker": "P.P.S"}, "Hi.\nP.P.S. More.", True),
    ("detectable_content:postscript", {"postscript_marker": "P.P.S"}, "Hi.\nP.S. More.", False),
    ("detectable_content:postscript", {"postscript_marker": "Note:"}, "Hi.\nNOTE: more", True),
    # detectable format
    ("detectable_format:number_bullet_lists", {"num_bullets": 3}, "* one\n* two\n- three", True),
    ("detectable_format:number_bullet_lists", {"num_bullets": 2}, "**Bold**\n* one\n* two", True),  # `**` is no bullet
    ("detectable_format:number_bullet_lists", {"num_bullets": 2}, "* one\n---\n* two", False),  # `---` counts
    ("detectable_format:constrained_response", {}, "I think so. My answer is yes.", True),
    ("detectable_format:constrained_response", {}, "My answer is Yes", False),
    ("detectable_format:number_highlighted_sections", {"num_highlights": 2}, "*one* and **two**", True),
    ("detectable_format:number_highlighted_sections", {"num_highlights": 2}, "**bold** and * *", False),
    ("detectable_format:number_highlighted_sections", {"num_highlights": 1}, "*across\nlines*", False),
    ("detectable_format:multiple_sections", {"section_spliter": "Section", "num_sections": 2}, "Section 1\na\nSection 2\nb", True),
    ("detectable_format:multiple_sections", {"section_spliter": "Section", "num_sections": 2}, "SECTION 1\na\nSECTION 2\nb", False),
    ("detectable_format:json_format", {}, '```json\n{"a": [1, 2]}\n```', True),
    ("detectable_format:json_format", {}, '```JSON\n{"a": 1}\n```', True),
    ("detectable_format:json_format", {}, 'Here it is: {"a": 1}', False),
    ("detectable_format:title", {}, "<<Poem of Joy>>\nLine one.", True),
    ("detectable_format:title", {}, "<<  >> and <<a\nb>>", False),
    # combination
    ("combination:two_responses", {}, "First answer.\n******\nSecond answer.", True),
    ("combination:two_responses", {}, "Same.\n******\nSame.", False),
    ("combination:two_responses", {}, "A\n******\n******\nB", False),
    ("combination:two_responses", {}, "******\nA\n******\nB\n******", True),
    ("combination:repeat_prompt", {"prompt_to_repeat": "Write a poem."}, "write a poem. Roses are red.", True),
    ("combination:repeat_prompt", {"prompt_to_repeat": "Write a poem."}, "Sure! Write a poem.", False),
    # start / end
    ("startend:end_checker", {"end_phrase": "Any other questions?"}, 'Done. any other questions?"', True),
    ("startend:end_checker", {"end_phrase": "Any other questions?"}, "Any other questions? Bye.", False),
    ("startend:quotation", {}, '  "Quoted answer."  ', True),
    ("startend:quotation", {}, '"', False),
    ("startend:quotation", {}, 'Unquoted "part".', False),
    # change case
    ("change_case:capital_word_frequency", {"capital_frequency": 3, "capital_relation": "at least"}, "THE cat SAW a BIG dog", True),
    ("change_case:capital_word_frequency", {"capital_frequency": 3, "capital_relation": "less than"}, "THE cat SAW a BIG dog", False),
    ("change_case:capital_word_frequency", {"capital_frequency": 1, "capital_relation": "less than"}, "A cat.", False),  # "A" counts
    ("change_case:english_capital", {}, ENGLISH.upper(), True),
    ("change_case:english_capital", {}, ENGLISH, False),
    ("change_case:english_capital", {}, "LE TEMPS EST MAGNIFIQUE AUJOURD'HUI ET LES ENFANTS JOUENT DANS LE PARC.", False),
    ("change_case:english_lowercase", {}, ENGLISH.lower(), True),
    ("change_case:english_lowercase", {}, ENGLISH, False),
    # punctuation
    ("punctuation:no_comma", {}, "No commas here; none at all.", True),
    ("punctuation:no_comma", {}, "One, two.", False),
]


@pytest.mark.parametrize(("instruction_id", "kwargs", "response", "expected"), CASES)
def test_checker(instruction_id: str, kwargs: dict, response: str, expected: bool) -> None:
    assert build_check(instruction_id, kwargs)(response) is expected


def test_every_instruction_type_has_a_positive_and_a_negative_case() -> None:
    assert len(BUILDERS) == 25
    for instruction_id in BUILDERS:
        verdicts = {expected for case_id, _, _, expected in CASES if case_id == instruction_id}
        assert verdicts == {True, False}, instruction_id


def test_none_kwargs_are_dropped_and_bad_arguments_rejected() -> None:
    assert follows_instructions("p", "* a\n* b", ["detectable_format:number_bullet_lists"], [{"num_bullets": 2, "keywords": None}]) == [
        True
    ]
    with pytest.raises(ValueError, match="unknown IFEval instruction"):
        build_check("keywords:nonsense", {})
    with pytest.raises(ValueError, match="num_bullets"):
        build_check("detectable_format:number_bullet_lists", {})
    with pytest.raises(ValueError, match="relation"):
        build_check("length_constraints:number_words", {"num_words": 3, "relation": "at most"})
    with pytest.raises(ValueError, match="letter"):
        build_check("keywords:letter_frequency", {"letter": "ab", "let_frequency": 1, "let_relation": "at least"})
    with pytest.raises(ValueError, match="unexpected"):
        build_check("punctuation:no_comma", {"num_words": 3})


def test_empty_response_follows_nothing_in_either_mode() -> None:
    ids = ["punctuation:no_comma", "keywords:forbidden_words"]
    kwargs = [{}, {"forbidden_words": ["x"]}]
    for loose in (False, True):
        assert follows_instructions("p", "", ids, kwargs, loose=loose) == [False, False]
        assert follows_instructions("p", " \n ", ids, kwargs, loose=loose) == [False, False]


def test_loose_mode_drops_first_or_last_line_and_asterisks() -> None:
    ids = ["detectable_format:json_format", "startend:quotation", "startend:end_checker"]
    kwargs = [{}, {}, {"end_phrase": "Bye."}]
    intro_json = 'Sure, here is the JSON:\n{"a": 1}'
    assert follows_instructions("p", intro_json, ids[:1], kwargs[:1]) == [False]
    assert follows_instructions("p", intro_json, ids[:1], kwargs[:1], loose=True) == [True]
    bold_quote = '**"All of it."**'
    assert follows_instructions("p", bold_quote, ids[1:2], kwargs[1:2]) == [False]
    assert follows_instructions("p", bold_quote, ids[1:2], kwargs[1:2], loose=True) == [True]
    trailer = "Text. Bye.\nLet me know if you need more."
    assert follows_instructions("p", trailer, ids[2:], kwargs[2:]) == [False]
    assert follows_instructions("p", trailer, ids[2:], kwargs[2:], loose=True) == [True]


def test_loose_variants_order_and_dedup() -> None:
    assert loose_variants("a\n*b*\nc") == ["a\n*b*\nc", "a\nb\nc", "*b*\nc", "a\n*b*", "*b*", "b\nc", "a\nb", "b"]
    assert loose_variants("plain") == ["plain", ""]


def test_follows_instructions_rejects_misaligned_kwargs() -> None:
    with pytest.raises(ValueError, match="kwargs"):
        follows_instructions("p", "r", ["punctuation:no_comma"], [])
