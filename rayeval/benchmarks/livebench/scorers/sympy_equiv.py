"""Exact-verdict, fast LaTeX equivalence: the official AMPS_Hard check without its slow cases.

The official check parses both sides with sympy's LaTeX parser (lark backend, then lark with
doubled backslashes halved, then the ANTLR backend; a parse that fails everywhere makes the
answer wrong), and the answer is right when, for some pair of parses (lark returns every parse of
an ambiguous input), ``simplify(truth - answer) == 0`` or ``Abs(simplify(truth - answer)) < 0.001``.
A full `simplify` can take many minutes, so we decide most pairs without it, only in ways that
cannot change the verdict:

1. a difference that sympy already reduced to 0 simplifies to 0;
2. a difference without symbols is a number: clearly below 0.001 in magnitude is equivalent,
   clearly above is not (simplify keeps the value);
3. a difference with symbols that is clearly non-zero at some point with positive real
   coordinates is not the zero function, so simplify cannot return 0, and since it then has
   symbols (or is a constant of magnitude > 0.001) the `< 0.001` comparison is undecidable or false
   (undefined function calls, which the lark parser makes of `x (...)`, are evaluated as one
   fixed function: simplify's identities hold for every function);
4. a difference whose rational normal form (`cancel`, the first rewrite simplify itself tries) is 0
   simplifies to 0.

(4) is tried as soon as the difference first vanishes at a probe point; without a proof the
remaining points are still probed for a clear difference (3). Only differences that neither
decides (vanishing but not proved zero, near the 0.001 boundary, or not evaluable) run the full
official `simplify`; the caller bounds it with a timeout.

Two shortcuts come before parsing (the lark parser takes up to seconds per expression): answers
that `latex_value` reads and finds clearly different are wrong, and an answer identical to the
ground truth is right as soon as the parser chain can read it. In the chain, the second lark
attempt is skipped when the text has no doubled backslash: it would parse the same text again.
"""

from __future__ import annotations

import warnings
from typing import Any

_PROBE_VALUES = ("0.7318", "1.2913", "2.0377", "0.4451", "1.6789", "2.9021", "0.9157", "1.4603")
_DIGITS = 30
_POINTS = 3
_BOUND = 0.001
_MARGIN = 1e-6
_NUMERIC_ZERO = 1e-20


def parse_candidates(latex: str) -> list[Any]:
    """Every sympy reading of `latex` the official parser chain yields ([] when none)."""
    import lark
    from sympy.parsing.latex import parse_latex

    halved = latex.replace("\\\\", "\\")
    attempts = [lambda: parse_latex(latex, backend="lark")]
    if halved != latex:  # the same text again would fail the same way (up to seconds of lark)
        attempts.append(lambda: parse_latex(halved, backend="lark"))
    attempts.append(lambda: parse_latex(latex))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parsed = None
        for attempt in attempts:
            try:
                parsed = attempt()
                break
            except Exception:  # the official chain falls through on any parser failure
                continue
        else:
            return []
    return list(parsed.children) if isinstance(parsed, lark.Tree) else [parsed]


def latex_equivalent(truth: str, answer: str) -> bool:
    """Whether the official check judges LaTeX `answer` equivalent to `truth`."""
    from rayeval.benchmarks.livebench.scorers.latex_value import clearly_different

    if not answer.strip() or clearly_different(truth, answer):
        return False  # no parser reads an empty string
    if truth.strip() == answer.strip() and _antlr_reads(truth):
        # the official chain parses it (ANTLR is its last resort) and a reading minus itself is 0
        return True
    truths = parse_candidates(truth)
    answers = parse_candidates(answer) if truths else []  # an unreadable side fails either way
    differences = []
    for left in truths:
        for right in answers:
            try:
                differences.append(left - right)
            except Exception:  # e.g. a matrix minus a number: this pair cannot match
                continue
    undecided = []
    for difference in differences:
        verdict = quick_verdict(difference)
        if verdict:
            return True
        if verdict is None:
            undecided.append(difference)
    return any(simplify_verdict(difference) for difference in undecided)


def _antlr_reads(latex: str) -> bool:
    """Whether sympy's ANTLR LaTeX backend reads `latex` as a finite expression (it is much
    faster than the lark backend the official chain tries first)."""
    import sympy
    from sympy.parsing.latex import parse_latex

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            parsed = parse_latex(latex)
    except Exception:
        return False
    return isinstance(parsed, sympy.Expr) and not parsed.has(*_NON_FINITE())


def simplify_verdict(difference: Any) -> bool:
    """The official test on one difference: simplify to 0, or to something of magnitude < 0.001."""
    import sympy

    try:
        simplified = sympy.simplify(difference)
    except Exception:
        return False
    if simplified == 0:
        return True
    try:
        return bool(sympy.Abs(simplified) < _BOUND)
    except Exception:  # a comparison with free symbols has no truth value
        return False


def quick_verdict(difference: Any) -> bool | None:
    """True/False when the verdict is certain without `simplify`, else None."""
    import sympy

    if not isinstance(difference, sympy.Expr):
        return None
    if difference == 0:
        return True
    symbols = sorted(difference.free_symbols, key=str)
    if not symbols:
        return _constant_verdict(difference)
    proof_tried = False
    for shift in range(_POINTS):
        value = _value_at(difference, symbols, shift)
        if value is not None and value > 2 * _BOUND:
            return False
        if value is not None and value < _NUMERIC_ZERO and not proof_tried:
            # zero here, so likely everywhere: try the proof now, as more points would each cost an
            # evalf of zero (it raises its precision to the limit, ~0.3 s for a long expression)
            if _cancels(difference):
                return True
            proof_tried = True  # no proof: the other points may still show a clear difference
    return None


def _constant_verdict(difference: Any) -> bool | None:
    magnitude = _magnitude(difference, {})
    if magnitude is None:
        return None
    if magnitude < _BOUND - _MARGIN:
        return True
    if magnitude > _BOUND + _MARGIN:
        return False
    return None


def _value_at(difference: Any, symbols: list[Any], shift: int) -> float | None:
    """|difference| at a point with positive real coordinates (None when not a finite number)."""
    import sympy

    point = {symbol: sympy.Float(_PROBE_VALUES[(index + 3 * shift) % len(_PROBE_VALUES)], _DIGITS) for index, symbol in enumerate(symbols)}
    return _magnitude(difference, point)


def _concrete_functions(expression: Any) -> Any:
    """`expression` with every undefined function call (the lark parser reads `x (...)` as one)
    replaced by one fixed polynomial of its arguments: an identity simplify proves holds for
    every function, so a non-zero value with this one shows it is not one."""
    import sympy
    from sympy.core.function import AppliedUndef

    def polynomial(*args: Any) -> Any:
        total = sympy.Add(*args)
        return sympy.Float("0.5772") + sympy.Float("0.3183") * total + sympy.Float("0.1") * total**2

    return expression.replace(lambda node: isinstance(node, AppliedUndef), lambda node: polynomial(*node.args))


def _magnitude(expression: Any, point: dict) -> float | None:
    try:
        expression = _concrete_functions(expression)
        value = expression.evalf(_DIGITS, subs=point) if point else expression.evalf(_DIGITS)
        if not value.is_number or value.has(*_NON_FINITE()):
            return None
        magnitude = abs(complex(value))
    except Exception:  # evaluation failures leave the pair to the full check
        return None
    return magnitude if magnitude == magnitude and magnitude != float("inf") else None


def _NON_FINITE() -> tuple:
    import sympy

    return (sympy.zoo, sympy.oo, -sympy.oo, sympy.nan)


def _cancels(difference: Any) -> bool:
    import sympy

    try:
        return sympy.cancel(difference) == 0
    except Exception:
        return False
