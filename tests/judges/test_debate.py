"""Debate: who speaks when, what each sees, the final verdict and the transcript; and one debate
against the fake server through JudgeClient.complete."""

from __future__ import annotations

import pytest

from core.judges.client import JudgeClient
from core.judges.debate import FIRST_SPEAKER, DebateError, DebateSetup, run_debate
from core.judges.prompting import Message
from tests.event_loops import run_async
from tests.judges.helpers import CORRECT, SECRET, endpoint, request

ITEM = [Message("system", "You grade answers."),
        Message("user", "Question: q?\nResponse: r\nEnd with a verdict line.")]


class Scripted:
    """A fake call function: answers from a script and records who was asked what."""

    def __init__(self, answers: dict[str, list[str]]) -> None:
        self.answers = {name: list(texts) for name, texts in answers.items()}
        self.calls: list[tuple[str, list[Message]]] = []

    async def __call__(self, judge: str, messages: list[Message]) -> str:
        self.calls.append((judge, messages))
        return self.answers[judge].pop(0)


def debate(setup, call, item=ITEM):
    return run_async(run_debate(setup, item, CORRECT, call))


def test_two_rounds_then_a_third_judge_decides():
    call = Scripted({"ann": ["A1: it is right", "A2: still right"], "bob": ["B1: it is wrong", "B2: no"],
                     "cid": ["Ann is convincing.\nVerdict: correct"]})
    result = debate(DebateSetup(("ann", "bob"), rounds=2, final_judge="cid"), call)
    assert [judge for judge, _ in call.calls] == ["ann", "bob", "ann", "bob", "cid"]
    assert (result.verdict.label, result.raw_text) == ("correct", "Ann is convincing.\nVerdict: correct")
    last_user = [messages[-1].content for _, messages in call.calls]
    # each debater sees the item and the other's last argument (none for the very first turn)
    assert FIRST_SPEAKER in last_user[0]
    assert "B1: it is wrong" not in last_user[0]
    assert "A1: it is right" in last_user[1]
    assert "B1: it is wrong" in last_user[2] and "A1: it is right" not in last_user[2]
    assert "A2: still right" in last_user[3] and "B1: it is wrong" not in last_user[3]
    assert "round 2 of 2" in last_user[2] and "round 1 of 2" in last_user[0]
    assert all(text.startswith(ITEM[1].content + "\n\n") for text in last_user)
    for _, messages in call.calls:  # the item's messages, the turn appended to the last one
        assert [m.role for m in messages] == ["system", "user"] and messages[0] == ITEM[0]
    assert result.transcript == (
        "Round 1, ann:\nA1: it is right\n\nRound 1, bob:\nB1: it is wrong\n\n"
        "Round 2, ann:\nA2: still right\n\nRound 2, bob:\nB2: no\n\n"
        "Final verdict, cid:\nAnn is convincing.\nVerdict: correct")
    assert result.transcript.split("\n\nFinal verdict")[0] in last_user[4]


def test_without_a_third_judge_the_first_debater_decides():
    call = Scripted({"ann": ["A1", "Verdict: incorrect"], "bob": ["B1"]})
    result = debate(DebateSetup(("ann", "bob"), rounds=1), call)
    assert [judge for judge, _ in call.calls] == ["ann", "bob", "ann"]
    assert result.verdict.label == "incorrect"
    assert [turn.heading for turn in result.turns] == ["Round 1, ann", "Round 1, bob", "Final verdict, ann"]


def test_an_unparseable_final_answer_is_a_verdict_without_a_label():
    call = Scripted({"ann": ["A1", "Both have a point."], "bob": ["B1"]})
    result = debate(DebateSetup(("ann", "bob"), rounds=1), call)
    assert result.verdict.label is None and result.verdict.problem
    assert result.transcript.endswith("Final verdict, ann:\nBoth have a point.")


def test_a_failed_call_names_the_judge_and_the_turn():
    async def call(judge, messages):
        if judge == "bob":
            raise RuntimeError("HTTP 500")
        return "fine"

    with pytest.raises(DebateError, match=r"^round 1, bob: the call failed: HTTP 500$"):
        debate(DebateSetup(("ann", "bob")), call)


@pytest.mark.parametrize(("arguments", "message"), [
    ({"debaters": ("ann",)}, "debaters: expected two judge names"),
    ({"debaters": ("ann", "ann")}, "debaters: a judge cannot debate itself"),
    ({"debaters": ("ann", "bob"), "rounds": 0}, "rounds: expected a whole number >= 1"),
])
def test_bad_setups_are_refused(arguments, message):
    with pytest.raises(ValueError, match=message):
        DebateSetup(**arguments)


def test_the_item_prompt_must_end_with_a_user_message():
    with pytest.raises(ValueError, match="ending with a user message"):
        debate(DebateSetup(("ann", "bob")), Scripted({}), item=[Message("system", "x")])


def test_a_debate_through_the_client_against_the_fake_server(fake_openai):
    req = request(4, "incorrect")

    async def main():
        async with JudgeClient(endpoint(fake_openai), api_key=SECRET) as client:
            async def call(judge, messages):
                done = await client.complete(messages)
                if done.error:
                    raise RuntimeError(done.error)
                return done.text
            return await run_debate(DebateSetup(("ann", "bob"), rounds=1), req.messages("verdict"),
                                    CORRECT, call)

    result = run_async(main())
    assert result.verdict.label == "incorrect"
    assert len(fake_openai.requests) == 3
    assert all("Reference 4" in r.user_text for r in fake_openai.requests)
    assert "Round 1, bob:" in fake_openai.requests[2].user_text
