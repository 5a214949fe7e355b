"""AlpacaEval 2 scoring: judge the (baseline, model) pairs through the judge (the job's judge
service, else a pool of its own; `rayeval.judge.service.open_judge`) with alpaca_eval's
annotator, then compute the leaderboard row with alpaca_eval's metric functions (see `spec`)."""

from __future__ import annotations

import json
import logging
import math
import time
from pathlib import Path
from typing import Any

from rayeval.benchmarks.alpacaeval.files import (
    ANNOTATIONS,
    GAMED,
    GAMED_HUB,
    LEADERBOARD,
    LEADERBOARD_COLUMNS,
    MODEL_OUTPUTS,
    load_eval_set,
)
from rayeval.benchmarks.alpacaeval.options import AlpacaEvalOptions
from rayeval.benchmarks.base import EvalContext, Score
from rayeval.errors import RayevalError
from rayeval.files import atomic_write_json, atomic_write_text
from rayeval.options import option_ref

RAW_COMPLETION = "preference_raw_completion"
# Arguments of alpaca_eval's OpenAI decoder that configure the decoder itself, not the request.
DECODER_ONLY_KWARGS = {
    "model_name", "is_strip", "num_procs", "batch_size", "price_per_token", "requires_chatml", "is_chat",
    "client_config_path", "client_kwargs", "n_retries", "sleep_time", "is_skip_multi_tokens_to_avoid",
}  # fmt: skip


def evaluate_alpacaeval(ctx: EvalContext[AlpacaEvalOptions]) -> list[Score]:
    """Judge missing pairs, write annotations and leaderboard, return the headline scores."""
    annotator_name = ctx.options.annotator
    existing = _read_json_list(ctx.out_dir / ANNOTATIONS) or []
    outputs = _read_json_list(ctx.out_dir / MODEL_OUTPUTS)
    eval_set = load_eval_set(ctx.data)
    if outputs is not None:
        positions, pairs = _pairs(eval_set, outputs, ctx.model_id)
    elif existing:
        positions, pairs = _pairs_of_records(eval_set, existing, ctx)
    else:
        raise RayevalError(f"no {MODEL_OUTPUTS} in {ctx.out_dir}; run `rayeval generate -b alpacaeval` first")

    done = {_pair_key(r): r for r in existing if _reusable(r, annotator_name)}
    todo = [pair for pair in pairs if _pair_key(pair) not in done]
    if todo:
        from rayeval.judge.service import open_judge

        with open_judge(ctx.judge, service=ctx.judge_service) as judge:
            done.update({_pair_key(r): r for r in annotate_pairs(todo, annotator_name, judge)})
    records = [{**done[_pair_key(pair)], "generator_2": ctx.model_id} for pair in pairs]
    atomic_write_json(ctx.out_dir / ANNOTATIONS, _plain(records))

    failed = [r for r in records if r.get("judge_error")]
    if failed:
        ctx.warn(
            f"AlpacaEval: {len(failed)} of {len(records)} pairs have no judgement (e.g. {failed[0]['judge_error']}); "
            "they are left out of the counts: run evaluate again to retry them"
        )
    row = leaderboard_row(records, positions, [pair["output_2"] for pair in pairs], _gamed_file(ctx), ctx)
    _write_leaderboard(ctx.out_dir / LEADERBOARD, ctx.model_id, row)
    return _scores(row)


def _read_json_list(path: Path) -> list[dict[str, Any]] | None:
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise RayevalError(f"{path} is not valid JSON ({exc}); fix or delete it") from None
    if not isinstance(data, list):
        raise RayevalError(f"{path} must hold a JSON list of records; fix or delete it")
    return data


def _pairs(eval_set: list[dict[str, Any]], outputs: list[dict[str, Any]], model_id: str) -> tuple[list[int], list[dict[str, Any]]]:
    """(eval-set positions, pairs to judge) for the model's outputs, in eval-set order.

    Output 1 is the baseline and output 2 the model, as in alpaca_eval (preference 2 = model wins).
    """
    where = {row["instruction"]: index for index, row in enumerate(eval_set)}
    found: dict[int, dict[str, Any]] = {}
    for output in outputs:
        index = where.get(output["instruction"])
        if index is None:
            raise RayevalError(
                f"an output's instruction is not in the AlpacaEval set: {output['instruction'][:60]!r}; regenerate {MODEL_OUTPUTS}"
            )
        found[index] = output
    positions = sorted(found)
    pairs = [
        {
            "instruction": eval_set[i]["instruction"],
            "output_1": eval_set[i]["output"],
            "generator_1": eval_set[i]["generator"],
            "dataset": eval_set[i]["dataset"],
            "output_2": found[i]["output"],
            "generator_2": model_id,
        }
        for i in positions
    ]
    return positions, pairs


def _pairs_of_records(
    eval_set: list[dict[str, Any]], records: list[dict[str, Any]], ctx: EvalContext[AlpacaEvalOptions]
) -> tuple[list[int], list[dict[str, Any]]]:
    """An annotations-only folder (e.g. published annotations): the records are the pairs, as
    judged, put in eval-set order; records of unknown instructions go last, with a warning."""
    where = {row["instruction"]: index for index, row in enumerate(eval_set)}
    known: dict[int, dict[str, Any]] = {}
    unknown = []
    for record in records:
        index = where.get(record["instruction"])
        if index is None:
            unknown.append(record)
        else:
            known.setdefault(index, record)
    if unknown:
        ctx.warn(f"AlpacaEval: {len(unknown)} annotation(s) have instructions outside the eval set; they are scored but placed last")
    positions = sorted(known) + list(range(len(eval_set), len(eval_set) + len(unknown)))
    fields = ("instruction", "output_1", "generator_1", "dataset", "output_2")
    pairs = [{**{k: r.get(k) for k in fields}, "generator_2": ctx.model_id} for r in [known[i] for i in sorted(known)] + unknown]
    return positions, pairs


def _pair_key(record: dict[str, Any]) -> tuple[str, str, str]:
    return (record["instruction"], record["output_1"], record["output_2"])


def _reusable(record: dict[str, Any], annotator_name: str) -> bool:
    """A record stands unless it failed or came from another annotator."""
    return not record.get("judge_error") and record.get("annotator", annotator_name) == annotator_name


# -- judging through alpaca_eval's annotator ----------------------------------------------------


class PoolCompletions:
    """An alpaca_eval `fn_completions` that sends the annotator's prompts through the judge pool.

    Mirrors alpaca_eval's OpenAI chat decoder: the ChatML prompt becomes messages, the config's
    decoding arguments become the request (temperature default 0.7, top_p 1.0), and each choice
    comes back as a dict with `text` (the tool call's arguments for function calling, " " for
    an empty answer). A request that failed for good comes back as an unparsable completion,
    so the annotator leaves that pair without a preference. The annotator drops the raw answer
    of every pair it could not parse, so `answers` keeps (prompt, choice) of each request for
    `annotate_pairs` to tell failed requests from unparsable answers.
    """

    def __init__(self, pool: Any) -> None:
        self.pool = pool
        self.answers: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, prompts: list[str], max_tokens: int = 2048, **kwargs: Any) -> dict[str, list]:
        from alpaca_eval.utils import prompt_to_chatml

        if kwargs.get("tokens_to_avoid") or kwargs.get("tokens_to_favor"):
            raise RayevalError(
                f"annotator configs with tokens_to_avoid/tokens_to_favor are not supported; choose another {option_ref('alpacaeval.annotator')}"
            )
        decoding = {k: v for k, v in kwargs.items() if k not in DECODER_ONLY_KWARGS and k not in ("tokens_to_avoid", "tokens_to_favor")}
        decoding.setdefault("temperature", 0.7)
        decoding.setdefault("top_p", 1.0)
        strip = kwargs.get("is_strip", True)
        requests = [{"messages": prompt_to_chatml(p.strip() if strip else p), "max_tokens": max_tokens, **decoding} for p in prompts]
        started = time.monotonic()
        outcomes = self.pool.complete(requests)
        choices = [_choice(o.response) if o.ok else {"text": None, "judge_error": o.error} for o in outcomes]
        self.answers.extend(zip(prompts, choices))
        elapsed = (time.monotonic() - started) / max(1, len(prompts))
        return {
            "completions": [c["text"] for c in choices],
            "completions_all": choices,
            "price_per_example": [math.nan] * len(choices),  # unknown for an arbitrary endpoint
            "time_per_example": [elapsed] * len(choices),
        }


def _choice(response: dict[str, Any]) -> dict[str, Any]:
    choice = dict(response["choices"][0])
    message = choice.get("message") or {}
    text = message.get("content")
    if text == "":
        text = " "
    if message.get("function_call"):
        text = message["function_call"].get("arguments")
    if message.get("tool_calls"):
        text = message["tool_calls"][0]["function"]["arguments"]
    choice["text"] = text
    choice["total_tokens"] = (response.get("usage") or {}).get("total_tokens")
    return choice


def annotate_pairs(pairs: list[dict[str, Any]], annotator_name: str, pool: Any) -> list[dict[str, Any]]:
    """alpaca_eval annotation records for `pairs`, judged through `pool`.

    A pair left without preference gets back its raw answer (unparsable: it stands, as in
    alpaca_eval) or, if its request failed, `judge_error` (retried by the next run).
    """
    annotator = _make_annotator(annotator_name)
    completions = PoolCompletions(pool)
    for single in annotator.annotators.values():
        single.fn_completions = completions
    records = annotator.annotate_pairs(pairs, chunksize=None)
    for record in records:
        if _is_missing(record.get("preference")):
            choice = _answer_for(record, completions.answers)
            if choice is not None and choice.get("judge_error"):
                record.update({"preference": None, RAW_COMPLETION: None, "judge_error": choice["judge_error"]})
            elif choice is not None:
                record.update({"preference": None, RAW_COMPLETION: choice})
    return records


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _answer_for(record: dict[str, Any], answers: list[tuple[str, dict[str, Any]]]) -> dict[str, Any] | None:
    """The answer to the prompt that showed this record's instruction and both outputs."""
    texts = (record["instruction"], record["output_1"], record["output_2"])
    for prompt, choice in answers:
        if all(text in prompt for text in texts):
            return choice
    return None


def _make_annotator(annotator_name: str) -> Any:
    """alpaca_eval's `PairwiseAnnotator` for a config, without its own JSON cache; importing
    alpaca_eval sets the root logger to INFO, which is put back."""
    root = logging.getLogger()
    level = root.level
    try:
        from alpaca_eval import constants
        from alpaca_eval.annotators import PairwiseAnnotator
    finally:
        root.setLevel(level)
    if not (constants.EVALUATORS_CONFIG_DIR / annotator_name / "configs.yaml").is_file():
        names = sorted(p.parent.name for p in constants.EVALUATORS_CONFIG_DIR.glob("*/configs.yaml"))
        raise RayevalError(f"unknown {option_ref('alpacaeval.annotator')} {annotator_name!r}; alpaca_eval has: {', '.join(names)}")
    return PairwiseAnnotator(annotators_config=annotator_name, caching_path=None)


# -- leaderboard --------------------------------------------------------------------------------


def _gamed_file(ctx: EvalContext[AlpacaEvalOptions]) -> Path | None:
    try:
        return ctx.data.find(GAMED, GAMED_HUB)
    except RayevalError as exc:
        ctx.warn(
            f"AlpacaEval: length-controlled win rate left empty: it needs {GAMED_HUB.filename} of hub dataset {GAMED_HUB.repo_id} ({exc})"
        )
        return None


def leaderboard_row(
    records: list[dict[str, Any]], positions: list[int], outputs: list[str], gamed: Path | None, ctx: EvalContext[AlpacaEvalOptions]
) -> dict[str, Any]:
    """The leaderboard columns, from alpaca_eval's metric functions.

    `positions` (eval-set indices of the records) index the frame, because the length-control
    GLM looks instruction difficulty up by that index.
    """
    import pandas as pd
    from alpaca_eval.metrics import get_winrate

    frame = pd.DataFrame(records, index=positions)
    row: dict[str, Any] = dict(get_winrate(frame))
    row["avg_length"] = int(pd.Series(outputs, dtype=object).str.len().mean())  # as alpaca_eval's evaluate does
    row["length_controlled_winrate"] = row["lc_standard_error"] = None
    if gamed is not None:
        try:
            row.update(_length_controlled(frame, gamed))
        except Exception as exc:  # the GLM can fail on odd subsets; the other columns still stand
            ctx.warn(f"AlpacaEval: length-controlled win rate left empty: its GLM failed ({type(exc).__name__}: {exc})")
    return {column: _plain(row[column]) for column in LEADERBOARD_COLUMNS}


def _length_controlled(frame: Any, gamed: Path) -> dict[str, float]:
    """The length-controlled win rate and its standard error, as alpaca_eval's
    `get_length_controlled_winrate` computes them with its default GLM (`length_controlled_v1`).

    alpaca_eval fetches `df_gamed.csv` from the hub inside that function, with no way to hand it a
    file, so the design matrix is built here from our copy (the rules of its `_get_featurized_data`)
    and the GLM is fitted with alpaca_eval's own `make_dmatrix_for_model` and
    `fit_LogisticRegressionCV`. A test checks the result equals alpaca_eval's function on the same
    data.
    """
    import pandas as pd
    from alpaca_eval.metrics.glm_winrate import GLM_INFO, fit_LogisticRegressionCV, make_dmatrix_for_model

    glm = GLM_INFO["length_controlled_v1"]
    gamed_rows = pd.read_csv(gamed).drop(columns=["model"])
    difficulty = gamed_rows.drop_duplicates("index")["instruction_difficulty"]
    df = frame.reset_index()
    delta = df["output_1"].str.len() - df["output_2"].str.len()
    train = df[["preference", "index"]].copy()
    train["std_delta_len"] = delta / delta.std()
    train["preference"] = train["preference"].astype(float).replace({0.0: 1.5}) - 1  # a draw (0) is 0.5; 1..2 -> 0..1
    train["instruction_difficulty"] = train["index"].transform(lambda i: difficulty[i])
    train["not_gamed_baseline"] = True
    test = train[["instruction_difficulty", "not_gamed_baseline"]].copy()
    test["std_delta_len"] = 0  # the win rate had both outputs the same length
    both = pd.concat([gamed_rows, train], axis=0)
    xy_train, x_test = make_dmatrix_for_model(both, test, formula=glm["formula"])
    # the two gamed baselines share the regularisation weight
    weight = (
        both["not_gamed_baseline"].astype(float) + (glm["regularize_to_baseline_lambda"] * (~both["not_gamed_baseline"])).astype(float) / 2
    )
    known = xy_train["preference"].notna()
    model = fit_LogisticRegressionCV(xy_train[known], "preference", is_ytrue_proba=True, sample_weight=weight[known], **glm["kwargs"])
    predicted = pd.Series(model.predict_proba(x_test)[:, 1])
    return {"length_controlled_winrate": predicted.mean() * 100, "lc_standard_error": predicted.sem() * 100}


def _write_leaderboard(path: Path, model_id: str, row: dict[str, Any]) -> None:
    import pandas as pd

    atomic_write_text(path, pd.DataFrame([row], index=[model_id], columns=LEADERBOARD_COLUMNS).to_csv())


def _scores(row: dict[str, Any]) -> list[Score]:
    """Headline metrics; rates as fractions (the leaderboard file keeps alpaca_eval's percents)."""

    def fraction(value: float | None) -> float | None:
        return None if value is None else value / 100.0

    return [
        Score("length_controlled_winrate", fraction(row["length_controlled_winrate"])),
        Score("win_rate", fraction(row["win_rate"])),
        Score("standard_error", fraction(row["standard_error"])),
        Score("lc_standard_error", fraction(row["lc_standard_error"])),
        Score("discrete_win_rate", fraction(row["discrete_win_rate"])),
        Score("n_total", float(row["n_total"])),
        Score("avg_length", float(row["avg_length"])),
    ]


def _plain(value: Any) -> Any:
    """JSON-ready copy: numpy scalars to Python, NaN to None, recursively."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value
