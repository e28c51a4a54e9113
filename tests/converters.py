"""Converters used only by tests: records -> Docket import files, and real datasets -> records.

A *record* is one item in the nested JSONL form of the import contract::

    {"id": "q1", "prompt": "...", "model": "m", "group": "g", "<metadata>": "...",
     "judges": {"<judge>": {"<dimension>": "<label>", "rationale": "...", "raw": "..."}
                | [<sample 0>, <sample 1>, ...]},
     "humans": {"<annotator>": {"<dimension>": "<label>", "comment": "..."}}}

``write_jsonl`` writes records as they are; ``write_csv`` and ``write_parquet`` flatten them to
the wide columns ``judge.<judge>.<key>`` / ``judge.<judge>[k].<key>`` / ``human.<annotator>.<key>``.

The dataset converters read the files in ``../shared/data`` (see its README) and return records.
They never write into the repository: the TriviaQA data has no license and stays where it is.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

Record = dict[str, Any]


# --- records -> import files ---------------------------------------------------------------

def to_wide(record: Record) -> dict[str, Any]:
    """Return ``record`` with its nested judges/humans flattened to wide column names."""
    row: dict[str, Any] = {}
    for key, value in record.items():
        if key == "judges":
            for judge, verdict in value.items():
                samples = verdict if isinstance(verdict, list) else [verdict]
                for index, sample in enumerate(samples):
                    name = f"{judge}[{index}]" if index else judge
                    for inner, label in sample.items():
                        row[f"judge.{name}.{inner}"] = label
        elif key == "humans":
            for annotator, labels in value.items():
                for inner, label in labels.items():
                    row[f"human.{annotator}.{inner}"] = label
        else:
            row[key] = value
    return row


def _wide_rows(records: Iterable[Record]) -> tuple[list[str], list[dict[str, Any]]]:
    rows = [to_wide(record) for record in records]
    columns: dict[str, None] = {}
    for row in rows:
        for column in row:
            columns.setdefault(column, None)
    return list(columns), rows


def write_jsonl(records: Iterable[Record], path: Path) -> Path:
    """Write one JSON object per line (UTF-8, not ASCII-escaped); return ``path``."""
    with path.open("w", encoding="utf-8", newline="\n") as out:
        for record in records:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    return path


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list | dict):
        raise TypeError(f"a CSV cell cannot hold {value!r}")
    return str(value)


def write_csv(records: Iterable[Record], path: Path) -> Path:
    """Write the records as wide CSV (missing values are empty cells); return ``path``."""
    columns, rows = _wide_rows(records)
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(columns)
        for row in rows:
            writer.writerow([_csv_cell(row.get(column)) for column in columns])
    return path


def write_parquet(records: Iterable[Record], path: Path) -> Path:
    """Write the records as a wide Parquet table (missing values are nulls); return ``path``."""
    columns, rows = _wide_rows(records)
    arrays = {}
    for column in columns:
        values = [row.get(column) for row in rows]
        arrays[column] = (pa.array(values, type=pa.string()) if all(v is None for v in values)
                          else pa.array(values))
    pq.write_table(pa.table(arrays), path)
    return path


WRITERS = {"jsonl": write_jsonl, "csv": write_csv, "parquet": write_parquet}


# --- PandaLM (Apache-2.0): pairwise preference ---------------------------------------------

PANDALM_HUMAN_LABELS = {0: "tie", 1: "A", 2: "B"}
PANDALM_GPT_LABELS = {"1": "A", "2": "B", "Tie": "tie"}
PANDALM_ANNOTATORS = ("annotator1", "annotator2", "annotator3")
GPT_JUDGE = "gpt-3.5-turbo"
PANDALM_JUDGE = "pandalm-7b"
# 54 PandaLM responses are empty (the model produced nothing; the pairwise template allows
# that) and 6 are JSON booleans (the answer "True" parsed by their pipeline), kept as text.


def _load_by_idx(path: Path) -> dict[int, dict[str, Any]]:
    records = json.loads(path.read_text(encoding="utf-8"))
    by_idx = {record["idx"]: record for record in records}
    if len(by_idx) != len(records):
        raise ValueError(f"{path}: duplicate idx values")
    return by_idx


def _pandalm_response(value: Any) -> str:
    if isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        raise ValueError(f"unexpected PandaLM response {value!r}")
    return value


def pandalm_records(pandalm_dir: Path, *, garbage: str = "keep", pair_models: bool = False
                    ) -> list[Record]:
    """Join PandaLM's test set with both judges' verdicts on ``idx``; return pairwise records.

    Human labels 0/1/2 become tie/A/B, GPT verdicts "1"/"2"/"Tie" become A/B/tie. An
    unparseable GPT verdict ("garbage") is kept as-is (``garbage="keep"``, so validation
    rejects it), turned into no verdict (``garbage="empty"``), or into Docket's unparseable
    verdict: no label, the judge's text as its raw output (``garbage="unparseable"``).
    ``pair_models`` adds ``model_a``/``model_b``: the two halves of ``cmp_key`` (the file's
    ``response1`` comes from the first). Raises ValueError for any other value, so a changed
    dataset cannot slip through unnoticed.
    """
    if garbage not in ("keep", "empty", "unparseable"):
        raise ValueError(f"garbage must be 'keep', 'empty' or 'unparseable', got {garbage!r}")
    data = pandalm_dir / "data"
    items = _load_by_idx(data / "testset-v1.json")
    gpt = _load_by_idx(data / "gpt-3.5-turbo-testset-v1.json")
    pandalm = _load_by_idx(data / "pandalm-7b-testset-v1.json")
    if not (items.keys() == gpt.keys() == pandalm.keys()):
        raise ValueError("the three PandaLM files do not cover the same idx values")
    records = []
    for idx in sorted(items):
        item, gpt_row, pandalm_row = items[idx], gpt[idx], pandalm[idx]
        prompt = item["instruction"] + (f"\n\n{item['input']}" if item["input"] else "")
        gpt_result = gpt_row["gpt_result"]
        if gpt_result in PANDALM_GPT_LABELS:
            gpt_label = PANDALM_GPT_LABELS[gpt_result]
        elif gpt_result == "garbage":
            gpt_label = {"keep": gpt_result, "empty": "", "unparseable": None}[garbage]
        else:
            raise ValueError(f"idx {idx}: unexpected gpt_result {gpt_result!r}")
        gpt_verdict = {"preference": gpt_label, "rationale": gpt_row["gpt_reason"]}
        if gpt_label is None:
            gpt_verdict["raw"] = gpt_row["gpt_reason"] or gpt_result
        records.append({
            "id": str(idx),
            "prompt": prompt,
            "response_a": _pandalm_response(item["response1"]),
            "response_b": _pandalm_response(item["response2"]),
            "model": item["cmp_key"],
            "group": item["motivation_app"],
            "judges": {
                GPT_JUDGE: gpt_verdict,
                PANDALM_JUDGE: {"preference": PANDALM_HUMAN_LABELS[pandalm_row["pandalm_result"]],
                                "rationale": pandalm_row["pandalm_reason"]},
            },
            "humans": {name: {"preference": PANDALM_HUMAN_LABELS[item[name]]}
                       for name in PANDALM_ANNOTATORS},
        })
        if pair_models:
            first, _, second = item["cmp_key"].partition("_")
            records[-1]["model_a"], records[-1]["model_b"] = first, second
    return records


# --- TriviaQA "Judging the Judges" V1 (no license: read in place, never copy) --------------

TRIVIAQA_V1 = Path("llm_eval") / "results" / "TriviaQA_Judges_w_HumanJudgement_V1.csv"
TRIVIAQA_JUDGES = ("Mistral-7B", "Llama-7B", "Llama-13B", "Llama3-8B", "Gemma-2B", "Llama-70B",
                   "Llama3-70B", "GPT-4", "JudgeLM", "EM", "Contains")
TRIVIAQA_HUMAN = "human"
_TRIVIAQA_LABELS = {"True": "correct", "False": "incorrect", "": ""}


def _triviaqa_label(value: str, where: str) -> str:
    if value not in _TRIVIAQA_LABELS:
        raise ValueError(f"{where}: unexpected label {value!r}")
    return _TRIVIAQA_LABELS[value]


def triviaqa_v1_records(shared_data: Path) -> list[Record]:
    """Return one ``correctness`` record per row of the V1 file (id = 0-based row number).

    prompt = question, reference = the newline-separated accepted answers (as text), model =
    the exam-taker model, 11 judges and the human label as annotator ``human``; True/False
    become correct/incorrect and an empty cell no verdict. The file's ``response`` column is
    the few-shot prompt, not an answer, so no response field is written.
    """
    path = shared_data / TRIVIAQA_V1
    with path.open(encoding="utf-8", newline="") as source:
        rows = list(csv.DictReader(source))
    records = []
    for number, row in enumerate(rows):
        where = f"{path.name} row {number}"
        records.append({
            "id": str(number),
            "prompt": row["question"],
            "reference": row["references"],
            "model": row["model"],
            "benchmark": row["benchmark"],
            "judges": {judge: {"correct": _triviaqa_label(row[judge], f"{where} {judge}")}
                       for judge in TRIVIAQA_JUDGES},
            "humans": {TRIVIAQA_HUMAN: {"correct": _triviaqa_label(row["HumanJudgement"],
                                                                   f"{where} HumanJudgement")}},
        })
    return records


# --- HANNA (MIT): 1-5 ratings of generated stories on six criteria --------------------------

HANNA_FILE = Path("hanna-benchmark-asg") / "hanna_metric_scores_llm.csv"
HANNA_CRITERIA = {"RE": "relevance", "CH": "coherence", "EM": "empathy", "SU": "surprise",
                  "EG": "engagement", "CX": "complexity"}
HANNA_HUMANS = ("Human 1", "Human 2", "Human 3")
HANNA_LLMS = ("Beluga-13B", "OrcaPlatypus", "Mistral-7B", "Llama-13B", "ChatGPT")
HANNA_PROMPTS = (1, 2, 3, 4)
HANNA_STORIES_PER_MODEL = 96
# Humans rate 1-5. The LLM scores are means of three samples in which the dataset's authors
# scored an unparseable answer -1, so a judge's score can be as low as -1: the scale admits it
# rather than dropping those verdicts (the README's 960-story figures include them).
HANNA_SCHEMA_TOML = "\n".join([
    'name = "hanna"',
    'title = "HANNA story ratings"',
    'description = "Rate a generated story on six criteria (Chhun et al. 2022)."',
    "",
    "[[fields]]",
    'name = "prompt"',
    'title = "Writing prompt"',
    "",
    "[[fields]]",
    'name = "response"',
    'title = "Story"',
    "required = false",
    *[line for name in HANNA_CRITERIA.values() for line in (
        "", "[[dimensions]]", f'name = "{name}"', 'scale = "interval"', "min = -1", "max = 5")],
])


def hanna_schema():
    """The six-criterion interval schema of the HANNA records."""
    from core.schema_toml import load_schema_text

    return load_schema_text(HANNA_SCHEMA_TOML, source="hanna schema")


def hanna_records(shared_data: Path, *, generators: Iterable[str] | None = None) -> list[Record]:
    """One record per story (id ``<generator>/<k>``, model = the story generator, 96 per
    generator), with the three human raters as annotators ``Human 1..3`` and every LLM prompt
    variant as judge ``<LLM> p<k>``, each labelling the six criteria.

    ``generators`` keeps only those story generators (rows of the file). Raises ValueError if
    a cell is not a list of 96 numbers, so a changed dataset cannot slip through unnoticed.
    """
    path = shared_data / HANNA_FILE
    with path.open(encoding="utf-8", newline="") as source:
        rows = list(csv.DictReader(source))
    wanted = None if generators is None else set(generators)

    def cell(row: dict[str, str], column: str) -> list[float]:
        values = json.loads(row[column])
        if len(values) != HANNA_STORIES_PER_MODEL or not all(
                isinstance(v, int | float) and not isinstance(v, bool) for v in values):
            raise ValueError(f"{path.name} {row['Model']} {column}: expected 96 numbers")
        return values

    records = []
    for row in rows:
        model = row["Model"]
        if wanted is not None and model not in wanted:
            continue
        humans = {h: {name: cell(row, f"{h} {code}") for code, name in HANNA_CRITERIA.items()}
                  for h in HANNA_HUMANS}
        judges = {f"{llm} p{k}": {name: cell(row, f"{llm} {code} {k}")
                                  for code, name in HANNA_CRITERIA.items()}
                  for llm in HANNA_LLMS for k in HANNA_PROMPTS}
        for story in range(HANNA_STORIES_PER_MODEL):
            records.append({
                "id": f"{model}/{story}",
                "prompt": f"HANNA writing prompt {story}",
                "model": model,
                "humans": {h: {name: values[story] for name, values in labels.items()}
                           for h, labels in humans.items()},
                "judges": {j: {name: values[story] for name, values in labels.items()}
                           for j, labels in judges.items()},
            })
    return records
