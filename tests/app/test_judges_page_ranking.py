"""The Judges page on a ranking project (AppTest): the preview numbers the responses and asks
for their order, a try shows the order the judge gave (or why it is unparseable), and a run
from the page ends with the versions panel saying rankings are compared on the Dashboard
instead of failing on a scale without labels."""

from __future__ import annotations

from core.templates import TEMPLATES
from storage.authz import OPERATOR
from storage.importer import import_file
from tests.app.apptest_helpers import open_page
from tests.app.test_judges_page import JUDGES_PAGE, add_judge, judge_id, plain, preview, work
from tests.converters import write_jsonl

BATCH = TEMPLATES["batch_ranking"]




def ranked(db, tmp_path, answer: str = "[2,1,4,3]") -> None:
    records = [{"id": "r0", "prompt": f"Capital of France? <<expect:{answer}>>",
                "responses": ["Paris.", "Paris, on the Seine.", "Lyon.", "Marseille."],
                "humans": {"expert": {"ranking": [2, 1, 3, 4]}}}]
    import_file(db, write_jsonl(records, tmp_path / "ranks.jsonl"), project_name="ranks",
                schema=BATCH, actor=OPERATOR)


def test_the_preview_numbers_the_responses_and_a_try_shows_the_order(app_db, admin, tmp_path,
                                                                     fake_openai, judge_key):
    ranked(app_db, tmp_path)
    add_judge(app_db, fake_openai)
    at = open_page(JUDGES_PAGE, user=admin)

    assert not at.exception
    user = preview(at)[1]
    assert "Responses to rank:\n\nResponse 1:\nParis.\n\nResponse 2:\nParis, on the Seine." in user
    assert user.endswith("the list holds the response numbers 1 to 4, each exactly once, from "
                         "the best response to the worst.")

    at.button(key=f"judges.try.{judge_id(app_db)}").click().run()

    assert not at.exception
    assert plain(at.success[0].value) == "Label: **2,1,4,3** (gpt on item r0, ranking)"
    [sent] = fake_openai.requests
    assert sent.body["response_format"]["json_schema"]["schema"]["properties"]["ranking"][
        "maxItems"] == 4


def test_a_try_with_a_repeated_number_is_unparseable(app_db, admin, tmp_path, fake_openai,
                                                     judge_key):
    ranked(app_db, tmp_path, "[1,1,2,3]")
    add_judge(app_db, fake_openai)
    at = open_page(JUDGES_PAGE, user=admin)

    at.button(key=f"judges.try.{judge_id(app_db)}").click().run()

    assert not at.exception
    assert plain(at.warning[0].value).startswith(
        "Unparseable (gpt on item r0, ranking): the JSON 'ranking' is not an order of the "
        "responses: [1, 1, 2, 3] must order responses 1–4 once each (missing [4]; repeated [1])")


def test_a_run_from_the_page_on_rankings(app_db, admin, tmp_path, fake_openai, judge_key):
    ranked(app_db, tmp_path)
    add_judge(app_db, fake_openai)
    at = open_page(JUDGES_PAGE, user=admin)

    at.button(key="judges.run.submit").click().run()
    assert at.success[0].value == "Run 1 of gpt with prompt v1 queued."
    assert work(app_db) == 1
    at.run()

    assert not at.exception
    assert plain(at.get("progress")[0].proto.text).startswith(
        "prompt v1 · run 1 (gpt): done; 1 of 1 verdicts (0 unparseable), 0 failed")
    assert any(plain(caption.value).startswith(
        "Prompt versions are compared here on label dimensions; Ranking is a ranking")
        for caption in at.caption)
