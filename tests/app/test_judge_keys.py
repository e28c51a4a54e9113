"""Where a judge's API key is found: the environment first, then Streamlit secrets."""

from __future__ import annotations

import streamlit as st

from components.judge_keys import judge_key_environ


def test_the_environment_comes_first_then_the_secrets(monkeypatch):
    monkeypatch.setenv("FROM_ENV", "env-key")
    monkeypatch.setenv("BLANK", "  ")
    monkeypatch.delenv("FROM_SECRETS", raising=False)
    monkeypatch.delenv("NOWHERE", raising=False)
    monkeypatch.setattr(st, "secrets", {"FROM_SECRETS": "secret-key", "FROM_ENV": "not this one",
                                        "NESTED": {"key": "x"}})

    found = judge_key_environ(["FROM_ENV", "FROM_SECRETS", "BLANK", "NOWHERE", "NESTED", None])

    assert found == {"FROM_ENV": "env-key", "FROM_SECRETS": "secret-key"}


def test_without_a_secrets_file_only_the_environment_counts(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # no .streamlit/secrets.toml here (nor in the test's home)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("NOWHERE", raising=False)
    assert judge_key_environ(["NOWHERE"]) == {}
