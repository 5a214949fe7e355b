"""IFEval's files: where its input data comes from and the generation file both sides share."""

from __future__ import annotations

from typing import Any

from rayeval.data import DataSource, HubFile
from rayeval.files import read_jsonl

INPUT_FILE = "ifeval/input_data.jsonl"
HUB_FILE = HubFile(repo_id="google/IFEval", filename="ifeval_input_data.jsonl")
CANDIDATES = "candidate_outputs.jsonl"
"""`{"prompt", "response"}` per line in input order: the official scorer's input format."""


def load_ifeval_inputs(data: DataSource) -> list[dict[str, Any]]:
    """The IFEval input rows (`key`, `prompt`, `instruction_id_list`, `kwargs`) in file order."""
    return read_jsonl(data.find(INPUT_FILE, HUB_FILE))
