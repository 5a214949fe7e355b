"""`python -m rayeval` runs the CLI (handy where the console script is not on PATH)."""

from rayeval.cli import main

main()
