"""A strict numeric reader for simple LaTeX, used to reject AMPS_Hard answers without sympy.

It reads a deliberately small subset that sympy's LaTeX parser reads one way only: numbers,
one-letter symbols, `\\lambda`, `\\pi`, + - * /, powers, `\\frac`, `\\sqrt`, `\\sqrt[n]`, trig
functions and logs, with implicit multiplication. It evaluates it with complex floating point
where every symbol has a fixed positive value, on principal branches like sympy. Anything else makes it give up (None) and
the caller uses the official sympy check. Deliberately left out:

- functions (`\\sin`, `\\log`, ...) with anything after them in their group: sympy's lark grammar
  lets a function swallow the rest (`\\sec^2(u)-2` reads as `sec(u - 2)**2`) and returns several
  such readings; `\\sin(u)` or `\\sin^2(u)` last in the text or in a `(...)`/`{...}` group is read;
- a letter directly before `(` (a function call for lark), `a/b c`, `x^23`, two numbers in a row.

Symbols are generic, as in sympy's parse: `e` and `i` are plain symbols, not constants.
"""

from __future__ import annotations

import cmath
import re

_TOKEN = re.compile(r"\s*(?:(\d+(?:\.\d+)?)|\\([a-zA-Z]+)|([a-zA-Z])|([-+*/^(){}\[\]]))")
_SYMBOL_COMMANDS = ("lambda",)
_FUNCTIONS = {
    "sin": cmath.sin,
    "cos": cmath.cos,
    "tan": cmath.tan,
    "sec": lambda z: 1 / cmath.cos(z),
    "csc": lambda z: 1 / cmath.sin(z),
    "cot": lambda z: cmath.cos(z) / cmath.sin(z),
    "log": lambda z: cmath.log(_principal(z)),
    "ln": lambda z: cmath.log(_principal(z)),
}
_GROUP_ENDS = (None, ("op", ")"), ("op", "}"))


def _principal(value: complex) -> complex:
    """`value` with a negative-zero imaginary part made positive, so branch cuts pick the
    principal side as sympy does for a negative real number."""
    return complex(value.real, value.imag + 0.0)


class Unsupported(Exception):
    """The text is outside the subset this reader is sure to read as sympy does."""


def symbol_value(name: str, point: int) -> complex:
    """The fixed positive value of symbol `name` at probe point `point` (distinct per name)."""
    seed = sum((index + 1) * ord(char) for index, char in enumerate(name)) + 7 * point
    return complex(0.35 + (seed * 7919 % 1000) / 617)


def _tokens(text: str) -> list[tuple[str, str]]:
    tokens, pos, text = [], 0, text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise Unsupported(text[pos : pos + 10])
        number, command, letter, symbol = match.groups()
        if number is not None:
            tokens.append(("num", number))
        elif command is not None:
            tokens.append(("cmd", command))
        elif letter is not None:
            tokens.append(("sym", letter))
        else:
            tokens.append(("op", symbol))
        pos = match.end()
    return tokens


class _Reader:
    def __init__(self, text: str, point: int) -> None:
        self.tokens = _tokens(text)
        self.pos = 0
        self.point = point

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self, kind: str | None = None, value: str | None = None) -> tuple[str, str]:
        token = self.peek()
        if token is None or (kind and token[0] != kind) or (value and token[1] != value):
            raise Unsupported(f"expected {value or kind} at token {self.pos}")
        self.pos += 1
        return token

    def read(self) -> complex:
        value = self.expression()
        if self.peek() is not None:
            raise Unsupported(f"trailing {self.peek()}")
        return value

    def expression(self) -> complex:
        value = self.term()
        while self.peek() in (("op", "+"), ("op", "-")):
            sign = self.take()[1]
            value = value + self.term() if sign == "+" else value - self.term()
        return value

    def term(self) -> complex:
        if self.peek() in (("op", "-"), ("op", "+")):
            sign = self.take()[1]
            value = self.term()
            return -value if sign == "-" else value
        value, implicit, divided = self.power(), False, False
        while True:
            token = self.peek()
            if token in (("op", "*"), ("op", "/"), ("cmd", "cdot"), ("cmd", "times")):
                self.take()
                right = self.unary_power()
                if token == ("op", "/"):
                    value, divided = value / right, True
                else:
                    value = value * right
            elif token is not None and self._starts_atom(token):
                if self.tokens[self.pos - 1][0] == "num" and token[0] == "num":
                    raise Unsupported("two numbers in a row")
                value, implicit = value * self.power(), True
            else:
                break
            if implicit and divided:
                raise Unsupported("a/b c is ambiguous")
        return value

    def unary_power(self) -> complex:
        if self.peek() == ("op", "-"):
            self.take()
            return -self.power()
        return self.power()

    @staticmethod
    def _starts_atom(token: tuple[str, str]) -> bool:
        kind, value = token
        return kind in ("num", "sym") or (kind == "cmd" and value not in ("cdot", "times")) or token in (("op", "("), ("op", "{"))

    def power(self) -> complex:
        base = self.atom()
        if self.peek() == ("op", "^"):
            self.take()
            return _principal(base) ** self.exponent()
        return base

    def exponent(self) -> complex:
        kind, value = self.take()
        if (kind, value) == ("op", "{"):
            inner = self.expression()
            self.take("op", "}")
            return inner
        if kind == "num" and len(value) == 1:
            return complex(int(value))
        if kind == "sym":
            return symbol_value(value, self.point)
        raise Unsupported("exponent")

    def function(self, name: str) -> complex:
        """`\\name(arg)` or `\\name^k(arg)`, read only when nothing follows in its group: sympy's
        parser lets a function take everything after it as its argument."""
        power = self.exponent() if self.peek() == ("op", "^") and self.take() else None
        value = _FUNCTIONS[name](self.group("(", ")"))
        if self.peek() not in _GROUP_ENDS:
            raise Unsupported("a function followed by more may swallow it")
        return value if power is None else value**power

    def group(self, open_: str, close: str) -> complex:
        self.take("op", open_)
        value = self.expression()
        self.take("op", close)
        return value

    def atom(self) -> complex:
        kind, value = self.take()
        if kind == "num":
            return complex(float(value))
        if kind == "sym":
            if self.peek() == ("op", "("):
                raise Unsupported("a letter before ( may be a function call")
            return symbol_value(value, self.point)
        if (kind, value) == ("op", "("):
            inner = self.expression()
            self.take("op", ")")
            return inner
        if (kind, value) == ("op", "{"):
            inner = self.expression()
            self.take("op", "}")
            return inner
        if kind != "cmd":
            raise Unsupported(value)
        if value == "frac":
            numerator = self.group("{", "}")
            return numerator / self.group("{", "}")
        if value == "sqrt":
            if self.peek() == ("op", "["):
                index = self.group("[", "]")
                return _principal(self.group("{", "}")) ** (1 / index)
            return cmath.sqrt(_principal(self.group("{", "}")))
        if value == "pi":
            return complex(cmath.pi)
        if value in _FUNCTIONS:
            return self.function(value)
        if value in _SYMBOL_COMMANDS:
            if self.peek() == ("op", "("):
                raise Unsupported("a symbol before ( may be a function call")
            return symbol_value(value, self.point)
        raise Unsupported(value)


def latex_value(text: str, point: int = 0) -> complex | None:
    """The value of `text` at probe point `point`, or None when it is outside the subset or
    does not evaluate to a finite number."""
    try:
        value = _Reader(text, point).read()
    except (Unsupported, ZeroDivisionError, OverflowError, ValueError):
        return None
    return value if cmath.isfinite(value) else None


def clearly_different(truth: str, answer: str) -> bool:
    """True when both read and differ by more than 0.002 (and by more than rounding) at a probe
    point: then no sympy reading of the two can pass the official check."""
    for point in (0, 1):
        left, right = latex_value(truth, point), latex_value(answer, point)
        if left is None or right is None:
            return False
        gap = abs(left - right)
        if gap > 0.002 and gap > 1e-6 * max(abs(left), abs(right)):
            return True
    return False
