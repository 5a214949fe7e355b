"""Answer extraction shared by the LiveBench scorers: the official `\\boxed{...}` rules.

LiveBench's scorers locate the *last* `\\boxed{...}` (or `\\fbox{...}`) of an answer with a
brace counter and unwrap it; several quirks of that procedure decide verdicts, so they are kept:

- a `\\boxed ` (with a space) anywhere wins: the text after the last such marker up to the next
  `$` is taken, without brace matching;
- the brace counter starts at the marker and only stops when a `}` brings the count back to
  exactly zero (a stray `}` before the first `{` makes it negative, and a later `{` does not stop);
- `$` signs inside the box are dropped and `fbox` becomes `boxed`;
- unwrapping a box that does not start with `\\boxed{` and end with `}` is an error (the official
  code asserts), which our callers record as a scoring error.
"""

from __future__ import annotations

import re

BOXED = "\\boxed"
BOXED_SPACE = "\\boxed "
BOXED_BRACE = "\\boxed{"


def last_boxed(text: str) -> str | None:
    """The last boxed expression of `text`, marker included, or None when there is none."""
    if BOXED_SPACE in text:
        return BOXED_SPACE + text.split(BOXED_SPACE)[-1].split("$")[0]
    start = text.rfind(BOXED)
    if start < 0:
        start = text.rfind("\\fbox")
        if start < 0:
            return None
    depth = 0
    for pos in range(start, len(text)):
        char = text[pos]
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return text[start : pos + 1].replace("$", "").replace("fbox", "boxed")
    return None


def unbox(boxed: str) -> str:
    """The content of a box returned by `last_boxed`; ValueError when it is malformed."""
    if BOXED_SPACE in boxed:
        if not boxed.startswith(BOXED_SPACE):
            raise ValueError(f"malformed box {boxed[:40]!r}")
        return boxed[len(BOXED_SPACE) :]
    if not (boxed.startswith(BOXED_BRACE) and boxed.endswith("}")):
        raise ValueError(f"malformed box {boxed[:40]!r}")
    return boxed[len(BOXED_BRACE) : -1]


def boxed_content(text: str) -> str | None:
    """The unwrapped content of the last box of `text`, or None when there is no box."""
    boxed = last_boxed(text)
    return None if boxed is None else unbox(boxed)


def solution_tags(text: str) -> list[str]:
    """Contents of every single-line `<solution>...</solution>` span, in order."""
    return re.findall(r"<solution>(.*?)</solution>", text)
