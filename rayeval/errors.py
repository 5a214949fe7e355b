"""User-facing errors: one line that names the problem and the fix.

The CLI prints these without a traceback and exits non-zero; anything else is a bug and keeps
its traceback.
"""


class RayevalError(Exception):
    """A problem with the user's input or environment, explained in one line."""
