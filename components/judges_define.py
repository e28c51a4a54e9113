"""The Judges page's list of judges and the form that defines one (admins only).

The form asks for the *name* of the variable that holds the API key, never the key: the list
shows that name and whether the server finds it set, nothing more.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import streamlit as st

from components.auth import admin_change
from components.flash import flash, show_flash
from components.judge_keys import judge_key_environ
from core.judges.lexical import LEXICAL_JUDGES
from core.judges.prompting import STRATEGIES
from core.safe_text import escape_markdown
from storage.database import Database
from storage.judges import JudgeError, JudgeInfo, JudgeSpec, create_judge

FLASH = "judges.flash.define"
KIND = "judges.define.kind"
KINDS = {"llm": "LLM endpoint", "lexical": "Lexical (offline)"}
PREFIX = "judges.define."
API_KEY_HELP = ("The **name** of the environment variable (or Streamlit secret) that holds the "
                "API key, e.g. `OPENAI_API_KEY`. The key is read from there each time the judge "
                "is called and is never stored, shown or logged. Leave empty for a local server "
                "that needs no key.")
BASE_URL_HELP = ("The OpenAI-compatible endpoint, `http://` or `https://`, e.g. "
                 "`https://api.openai.com/v1` or `http://127.0.0.1:8000/v1` (vLLM, Ollama, "
                 "llama.cpp server, LM Studio).")


def judges_frame(judges: Sequence[JudgeInfo], keys_found: set[str]) -> pd.DataFrame:
    """The judges as a table: no API key, only the variable's name and whether it is set."""
    rows = []
    for judge in judges:
        spec = judge.spec
        if spec.kind == "lexical":
            rows.append((spec.name, f"lexical: {spec.lexical}", "", "", "", "", "", "", "", ""))
            continue
        key = spec.api_key_env or ""
        found = "" if not key else ("set" if key in keys_found else "not set")
        prices = ("" if spec.price_input_per_million is None or spec.price_output_per_million is None
                  else f"{spec.price_input_per_million:g} / {spec.price_output_per_million:g}")
        strategy = STRATEGIES[spec.strategy].title + (" + reference" if spec.reference_guided else "")
        audit = " · ".join(part for part in (spec.family, spec.size, spec.provider) if part)
        rows.append((spec.name, spec.model or "", spec.base_url or "",
                     f"{key} ({found})" if key else "none", strategy,
                     "" if spec.temperature is None else f"{spec.temperature:g}",
                     "" if spec.max_tokens is None else str(spec.max_tokens),
                     "yes" if spec.vision else "no", prices, audit))
    return pd.DataFrame(rows, columns=["judge", "model", "base URL", "API key variable",
                                       "strategy", "temperature", "max tokens", "vision",
                                       "price in / out per M tokens", "family · size · provider"])


def render_judge_list(judges: Sequence[JudgeInfo]) -> None:
    """The table of judges (or a line saying there is none yet)."""
    if not judges:
        st.info("No judge yet: define one below.", icon=":material/info:")
        return
    found = set(judge_key_environ(judge.spec.api_key_env for judge in judges))
    st.dataframe(judges_frame(judges, found), hide_index=True, key="judges.list")


def render_define_form(db: Database) -> None:
    """The form that defines a judge: an LLM endpoint, or an offline lexical judge."""
    show_flash(FLASH)
    kind = st.segmented_control("Kind", list(KINDS), format_func=KINDS.get, default="llm",
                                key=KIND, required=True) or "llm"
    with st.form("judges.define", enter_to_submit=False):
        if kind == "lexical":
            _lexical_fields()
        else:
            _llm_fields()
        st.form_submit_button("Define judge", key="judges.define.submit", type="primary",
                              icon=":material/add:", on_click=_on_define, args=(db, kind))


def _llm_fields() -> None:
    first = st.columns(3)
    first[0].text_input("Name", key=PREFIX + "name", help="Letters, digits and . _ -: how the "
                        "judge appears in the metrics (NAME, NAME@v2 for later prompt versions)")
    first[1].text_input("Base URL", key=PREFIX + "base_url", help=BASE_URL_HELP)
    first[2].text_input("Model", key=PREFIX + "model", help="The model name the endpoint expects")
    second = st.columns(3)
    second[0].text_input("API key variable", key=PREFIX + "api_key_env", help=API_KEY_HELP,
                         placeholder="OPENAI_API_KEY")
    second[1].selectbox("Prompt strategy", list(STRATEGIES), key=PREFIX + "strategy",
                        format_func=lambda name: STRATEGIES[name].title,
                        help="\n\n".join(f"**{s.title}**: {s.description}" for s in STRATEGIES.values()))
    second[2].checkbox("Reference-guided", key=PREFIX + "reference_guided",
                       help="Show the judge the reference answer (the adjudicated gold reference "
                            "when there is one, else the item's reference)")
    third = st.columns(4)
    third[0].number_input("Temperature", min_value=0.0, max_value=2.0, value=0.0, step=0.1,
                          key=PREFIX + "temperature")
    third[1].number_input("Max tokens", min_value=1, value=1024, step=1, key=PREFIX + "max_tokens")
    third[2].number_input("Seed (optional)", value=None, step=1, key=PREFIX + "seed",
                          help="Sent where the endpoint supports it; sample k uses seed + k")
    third[3].number_input("Timeout (s)", min_value=1.0, value=60.0, step=5.0, key=PREFIX + "timeout")
    fourth = st.columns(4)
    fourth[0].number_input("Input price per M tokens", min_value=0.0, value=None,
                           key=PREFIX + "price_input", help="Optional: for the cost estimate")
    fourth[1].number_input("Output price per M tokens", min_value=0.0, value=None,
                           key=PREFIX + "price_output", help="Optional: for the cost estimate")
    fourth[2].checkbox("Ask for JSON (response_format)", value=True, key=PREFIX + "structured",
                       help="Falls back to a last 'Verdict: LABEL' line by itself if the "
                            "endpoint refuses it")
    fourth[3].checkbox("Vision-capable", value=False, key=PREFIX + "vision",
                       help="The model reads images. Only such a judge runs on projects with "
                            "image fields: their images are sent with the prompt (as "
                            "`image_url` parts with `data:` URIs)")
    fifth = st.columns(3)
    fifth[0].text_input("Model family (optional)", key=PREFIX + "family", placeholder="gpt-4o")
    fifth[1].text_input("Size (optional)", key=PREFIX + "size", placeholder="70B")
    fifth[2].text_input("Provider (optional)", key=PREFIX + "provider", placeholder="OpenAI")


def _lexical_fields() -> None:
    left, right = st.columns(2)
    left.text_input("Name", key=PREFIX + "name")
    right.selectbox("Method", list(LEXICAL_JUDGES), key=PREFIX + "lexical",
                    help="\n\n".join(f"**{j.name}**: {j.description}" for j in LEXICAL_JUDGES.values()))
    st.caption("Compares the response with the reference answer and its aliases, normalised as "
               "in SQuAD/TriviaQA evaluation; needs a `reference` field (correctness projects).")


def _text(name: str) -> str | None:
    value = (st.session_state.get(PREFIX + name) or "").strip()
    return value or None


def spec_from_form(kind: str) -> JudgeSpec:
    """The :class:`JudgeSpec` the form's fields describe (not validated yet)."""
    state = st.session_state
    name = _text("name") or ""
    if kind == "lexical":
        return JudgeSpec(name=name, kind="lexical", lexical=state.get(PREFIX + "lexical"))
    seed = state.get(PREFIX + "seed")
    return JudgeSpec(
        name=name, base_url=_text("base_url"), model=_text("model"),
        api_key_env=_text("api_key_env"), temperature=state.get(PREFIX + "temperature"),
        max_tokens=int(state.get(PREFIX + "max_tokens") or 1024),
        seed=None if seed is None else int(seed), timeout_s=float(state.get(PREFIX + "timeout") or 60.0),
        structured_output=bool(state.get(PREFIX + "structured", True)),
        vision=bool(state.get(PREFIX + "vision", False)),
        price_input_per_million=state.get(PREFIX + "price_input"),
        price_output_per_million=state.get(PREFIX + "price_output"),
        strategy=state.get(PREFIX + "strategy") or "direct",
        reference_guided=bool(state.get(PREFIX + "reference_guided")),
        family=_text("family"), size=_text("size"), provider=_text("provider"))


def _on_define(db: Database, kind: str) -> None:
    spec = spec_from_form(kind)
    judge = admin_change(db, lambda session, actor: create_judge(
        session=session, spec=spec, actor=actor), errors=JudgeError, flash_key=FLASH,
        failure="Not defined")
    if judge is None:
        return
    flash(FLASH, "success", f"Judge {escape_markdown(judge.name)} defined.")
    st.session_state[PREFIX + "name"] = ""
