"""LiveBench `tablereformat`: convert a table between formats; right when the answered table reads
back (with pandas, per target format) equal to the ground truth cell by cell.

Two versions: questions released from 2025-04-25 on name the formats on "Source Format:" /
"Target Format:" lines and read JSON and Markdown differently (v2); older ones say "Please convert
the Input Table from X format to Y format" (v1). Reading a table that fails is a wrong answer; an
answer with text around a CSV/TSV/JSONL table is read again from the line equal to the header.
"""

from __future__ import annotations

import json
import math
import re
import warnings
from io import StringIO
from typing import Any

V2_RELEASE = "2025-04-25"


def score_tablereformat(question: dict, llm_answer: str) -> int:
    version = "v2" if question["livebench_release_date"] >= V2_RELEASE else "v1"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pandas deprecation notes about the official read calls
        return score_table(question["turns"][0], question["ground_truth"], llm_answer, version)


def target_format(prompt: str, version: str) -> str:
    if version == "v1":
        return prompt.split("Please convert the Input Table from ")[1].split("format to ")[1].split(" format")[0].lower()
    lines = [line for line in prompt.split("\n") if "Target Format" in line]
    return lines[-1].split("Target Format: ")[1].strip().lower()


def score_table(prompt: str, ground_truth: str, llm_answer: str, version: str) -> int:
    fmt = target_format(prompt, version)
    read = read_table_v1 if version == "v1" else read_table_v2
    truth = read(fmt, ground_truth)
    text = strip_preamble(answer_table_text(llm_answer))
    try:
        table = read(fmt, text)
    except Exception:  # unreadable as a whole: look for the table inside the text
        table = None
        if fmt in ("csv", "tsv"):
            sep = "\t" if fmt == "tsv" else ","
            table = table_after_header(text, sep.join(truth.columns), sep)
        elif fmt == "jsonl":
            table = jsonl_rows(text, truth.columns)
        if table is None:
            return 0
    score = tables_equal(table, truth)
    if score == 0:
        if fmt == "csv":
            table = table_after_header(text, ",".join(truth.columns), ",")
        elif fmt == "jsonl":
            table = jsonl_rows(text, truth.columns)
        if table is not None:
            score = tables_equal(table, truth)
    return score


def read_table_v1(fmt: str, text: str) -> Any:
    import pandas as pd

    if fmt == "json":
        for orient, lines in (("index", False), ("records", False), ("records", True), ("table", False)):
            try:
                return pd.read_json(StringIO(text), orient=orient, lines=lines, encoding="utf-8")
            except Exception:
                continue
        return pd.read_json(StringIO(text), orient="values", encoding="utf-8")
    if fmt == "markdown":
        return pd.read_table(StringIO(text), sep="|", header=0, index_col=1, skipinitialspace=True)
    return _read_common(fmt, text)


def read_table_v2(fmt: str, text: str) -> Any:
    import pandas as pd

    if fmt == "json":
        for orient in ("table", "index", "records"):
            try:
                return pd.read_json(StringIO(text), orient=orient, lines=False, encoding="utf-8")
            except Exception:
                continue
        return None
    if fmt == "markdown":
        lines = text.strip().split("\n")
        body = lines[0] + "\n" + "\n".join(lines[2:] if len(lines) > 2 else [])
        frame = pd.read_table(StringIO(body), sep="|", header=0, skipinitialspace=True).iloc[:, 1:-1]
        for column in frame.columns:
            if frame[column].dtype == object or isinstance(frame[column].dtype, pd.StringDtype):
                # pandas 2 (the official scorer's) held text in object columns and `astype(str)`
                # turned missing cells into "nan"; spelled out so pandas 3 reads the same
                frame[column] = frame[column].map(lambda cell: str(cell).strip()).astype(object)
        return frame
    table = _read_common(fmt, text)
    if table is None:
        raise ValueError(f"unsupported table format {fmt!r}")
    return table


def _read_common(fmt: str, text: str) -> Any:
    import pandas as pd

    if fmt == "jsonl":
        return pd.read_json(StringIO(text), orient="records", lines=True, encoding="utf-8")
    if fmt == "html":
        return pd.concat(pd.read_html(StringIO(text), encoding="utf-8"), axis=0)
    if fmt == "csv":
        return pd.read_csv(StringIO(text), encoding="utf-8")
    if fmt == "tsv":
        return pd.read_csv(StringIO(text), sep="\t", encoding="utf-8")
    return None


def answer_table_text(text: str) -> str:
    """The table text of an answer: the last `<solution>` block, else the last ```json or ```html
    block, else the answer without a leading fence line and without fences."""
    tags = re.findall(r"<solution>(.*?)</solution>", text, re.DOTALL)
    if tags:
        return answer_table_text(tags[-1].strip())
    for fence in (r"```json\n(.*?)```", r"```html\n(.*?)```"):
        blocks = re.findall(fence, text, re.DOTALL)
        if blocks:
            return blocks[-1].strip()
    text = re.sub(r"^```.*\n", "", text).replace("&amp;", "&")
    return text.replace("```", "").strip()


def strip_preamble(text: str) -> str:
    """Drop an opening "Here is the table in the new format:"-style phrase."""
    return re.sub(r"^\s*(Here|Input)\b.*?\b(format|table)\s*[:)]\s*", "", text, flags=re.IGNORECASE).strip()


def table_after_header(text: str, header: str, sep: str) -> Any:
    """The CSV/TSV table starting at the first line equal to `header`, dropping trailing lines
    until it parses; None when no line is the header."""
    import pandas as pd

    lines = text.strip().split("\n")
    starts = [i for i, line in enumerate(lines) if line.strip() == header.strip()]
    if not starts:
        return None
    table_lines = lines[starts[0] :]
    while table_lines:
        try:
            return pd.read_csv(StringIO("\n".join(table_lines)), sep=sep)
        except Exception:
            table_lines = table_lines[:-1]
    # the official loop never ends here (it keeps trimming an empty table): report it instead
    raise ValueError("the answer's table does not parse even from its header line alone")


def jsonl_rows(text: str, columns: Any) -> Any:
    """A table of the answer's `{...}` lines that mention every column; None when there is none."""
    import pandas as pd

    rows = []
    for line in text.strip().split("\n"):
        if len(line) < 2 or line[0] != "{" or line[-1] != "}" or not all(key in line for key in columns):
            continue
        try:
            rows.append(json.loads(line))
        except ValueError:
            continue
    return pd.DataFrame(rows) if rows else None


def tables_equal(table: Any, truth: Any) -> int:
    """1 when both tables have the same rows and columns (in any column order) and equal cells:
    numbers within 1e-6 (NaN equals NaN), anything else exactly after stripping strings.

    The truth's column names are stripped in place, as the official check does (its second
    attempt reads the answer against the stripped header)."""
    from pandas.api.types import is_numeric_dtype

    try:
        truth.columns = [name.strip() for name in truth.columns]
        if "index" in truth.columns:
            truth = truth.drop(columns=["index"])
        table.columns = [name.strip() for name in table.columns]
        if "index" in table.columns:
            table = table.drop(columns=["index"])
        if len(table) != len(truth) or sorted(table.columns) != sorted(truth.columns):
            return 0
        for row in range(len(table)):
            for column in table.columns:
                given, expected = table.iloc[row][column], truth.iloc[row][column]
                if isinstance(given, str):
                    given = given.strip()
                if isinstance(expected, str):
                    expected = expected.strip()
                numeric = (isinstance(given, float) or is_numeric_dtype(given)) and (
                    isinstance(expected, float) or is_numeric_dtype(expected)
                )
                if not numeric:
                    if not given == expected:  # noqa: SIM201 (kept as written when parity was checked)
                        return 0
                    continue
                try:
                    given, expected = float(given), float(expected)
                except Exception:
                    if str(given).strip() != str(expected).strip():
                        return 0
                    continue
                if math.isnan(given) and math.isnan(expected):
                    continue
                if not abs(given - expected) < 1e-6:
                    return 0
    except Exception:  # the official check counts any failure while comparing as a mismatch
        return 0
    return 1
