"""Imported once by the scoring pool's fork server, so that every worker forked from it starts ready.

A fresh worker spent about 2 s of CPU before its first AMPS_Hard or tablereformat answer:
importing sympy and pandas, building the lark LaTeX grammar and the ANTLR parser tables (both
parsers are set up on first use). The fork server pays that once per evaluating process instead of
once per worker and per replacement of a timed-out worker.

It then moves everything loaded out of the garbage collector's reach (`gc.freeze`): those objects
live as long as the server, and each full collection in a worker would otherwise traverse all of
them (~0.15 s here) and copy their memory pages on the way.

Importing this module does the work. It must never raise: the fork server survives only an
ImportError in a preloaded module, and a failed warm-up should merely leave the work to the workers.
"""

from __future__ import annotations

import gc
import warnings


def _warm_up() -> None:
    import pandas  # noqa: F401  (tablereformat)
    from sympy.parsing.latex import parse_latex

    import rayeval.benchmarks.livebench.scorers.amps_hard  # noqa: F401
    import rayeval.benchmarks.livebench.scorers.sympy_equiv  # noqa: F401
    import rayeval.benchmarks.livebench.scorers.table_reformat  # noqa: F401

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parse_latex("x", backend="lark")
        parse_latex("x")  # the ANTLR backend, the official chain's last resort


try:
    _warm_up()
except Exception:  # noqa: BLE001  only speed is at stake (e.g. a parser backend not installed)
    pass
gc.freeze()
