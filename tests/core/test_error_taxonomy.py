"""The error taxonomy's pure parts: category lists and counting tags per judge."""

from __future__ import annotations

import pytest

from core.error_taxonomy import (
    DEFAULT_ERROR_CATEGORIES,
    ErrorTaxonomyError,
    TagRow,
    check_categories,
    count_tags,
)


def test_categories_are_stripped_kept_in_order_and_inner_spaces_collapsed() -> None:
    assert check_categories(["  missed error ", "format", "too   literal"]) == (
        "missed error", "format", "too literal")


@pytest.mark.parametrize(("categories", "message"), [
    ([], "empty"),
    (["format", "  "], "category 2 is blank"),
    (["Format", "format"], "'format' repeats 'Format'"),
    (["x" * 65], "longer than 64"),
    (["bad\x00name"], "NUL"),
    ([f"c{i}" for i in range(31)], "at most 30"),
])
def test_bad_category_lists_are_refused_saying_which(categories, message) -> None:
    with pytest.raises(ErrorTaxonomyError, match=message):
        check_categories(categories)


def test_the_defaults_are_the_papers_kinds_and_pass_the_check() -> None:
    assert check_categories(DEFAULT_ERROR_CATEGORIES) == DEFAULT_ERROR_CATEGORIES
    assert "penalised correct paraphrase" in DEFAULT_ERROR_CATEGORIES


def test_counts_per_judge_list_every_category_and_count_a_verdict_once_per_category() -> None:
    rows = [TagRow("gpt", 1, "correct", "format"),
            TagRow("gpt", 1, "correct", "length"),  # one verdict, two reasons
            TagRow("gpt", 2, "correct", "format"),
            TagRow("claude", 2, "correct", "retired kind"),  # no longer in the list
            TagRow("claude", 2, "style", "format")]
    taxonomy = count_tags(rows, ("format", "length", "position"))

    assert taxonomy.categories == ("format", "length", "position", "retired kind")
    assert taxonomy.to_dict() == {
        "categories": ["format", "length", "position", "retired kind"],
        "judges": [
            {"rater": "claude", "tagged_verdicts": 2,
             "counts": {"format": 1, "length": 0, "position": 0, "retired kind": 1}},
            {"rater": "gpt", "tagged_verdicts": 2,
             "counts": {"format": 2, "length": 1, "position": 0, "retired kind": 0}}]}


def test_no_tags_is_an_empty_taxonomy_with_the_categories() -> None:
    taxonomy = count_tags([], ("format",))
    assert taxonomy.empty and taxonomy.to_dict() == {"categories": ["format"], "judges": []}
