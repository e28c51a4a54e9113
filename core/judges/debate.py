"""Debate ("Fellowship of the LLMs"): two judges argue for R rounds, then one gives the verdict.

Each round, the first debater speaks, having seen the item and the second's last argument
(none in round 1), then the second, having seen the item and the first's argument of this
round. After the last round the deciding judge (a third judge, or the first debater) sees the
item and the whole debate and gives the verdict, which is parsed strictly
(:func:`core.judges.verdicts.parse_verdict`). The turns' instructions are the shipped texts
``prompts/debate/argue.txt`` and ``prompts/debate/final.txt``; they are appended to the last
(user) message of the item's prompt, so no server sees two user messages in a row.

The calls are injected (``call(judge_name, messages) -> raw text``, raising on failure), so
this module knows nothing about endpoints; the caller maps names to clients.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from core.judges.prompting import Message, fill_text, read_prompt_text
from core.judges.verdicts import ParsedVerdict, parse_verdict
from core.schema import Dimension

DebateCall = Callable[[str, list[Message]], Awaitable[str]]
FIRST_SPEAKER = "(none yet: you speak first)"


class DebateError(RuntimeError):
    """A debate could not finish: the message names the judge and the turn whose call failed."""


@dataclass(frozen=True)
class DebateSetup:
    """Who debates, for how many rounds, and who decides (``None``: the first debater)."""

    debaters: tuple[str, str]
    rounds: int = 2
    final_judge: str | None = None

    def __post_init__(self) -> None:
        if len(self.debaters) != 2 or not all(isinstance(n, str) and n for n in self.debaters):
            raise ValueError(f"debaters: expected two judge names, got {self.debaters!r}")
        if self.debaters[0] == self.debaters[1]:
            raise ValueError(f"debaters: a judge cannot debate itself ({self.debaters[0]!r} twice)")
        if isinstance(self.rounds, bool) or not isinstance(self.rounds, int) or self.rounds < 1:
            raise ValueError(f"rounds: expected a whole number >= 1, got {self.rounds!r}")

    @property
    def decider(self) -> str:
        """The judge who gives the final verdict."""
        return self.final_judge or self.debaters[0]


@dataclass(frozen=True)
class DebateTurn:
    """One contribution: a round's argument, or (``round`` None) the final verdict."""

    round: int | None
    judge: str
    text: str

    @property
    def heading(self) -> str:
        """``Round 2, judge-a`` or ``Final verdict, judge-c``."""
        return f"Round {self.round}, {self.judge}" if self.round else f"Final verdict, {self.judge}"


@dataclass(frozen=True)
class DebateResult:
    """The final verdict, the decider's raw output and the transcript to store as rationale."""

    verdict: ParsedVerdict
    raw_text: str
    turns: tuple[DebateTurn, ...]

    @property
    def transcript(self) -> str:
        """Every turn under its heading, in order, the final verdict last."""
        return _transcript(self.turns)


def _transcript(turns: Sequence[DebateTurn]) -> str:
    return "\n\n".join(f"{turn.heading}:\n{turn.text.strip()}" for turn in turns)


def _with_turn(item_messages: Sequence[Message], instruction: str) -> list[Message]:
    """The item's messages with ``instruction`` appended to the last one (a user message)."""
    return [*item_messages[:-1], item_messages[-1].with_text(instruction)]


async def _speak(call: DebateCall, judge: str, messages: list[Message], where: str) -> str:
    try:
        return await call(judge, messages)
    except Exception as error:
        raise DebateError(f"{where}, {judge}: the call failed: {error}") from error


async def run_debate(setup: DebateSetup, item_messages: Sequence[Message], dimension: Dimension,
                     call: DebateCall, *, n_responses: int | None = None) -> DebateResult:
    """Run the debate on one item and dimension and return the parsed final verdict.

    ``item_messages`` is the item's prompt rendered in the ``"verdict"`` answer format (its
    last message a user message); ``n_responses`` the item's number of responses when
    ``dimension`` is a ranking (the final order must rank exactly these). Raises
    :class:`DebateError` if a call fails and ValueError for empty ``item_messages``; an
    unparseable final answer is a verdict without a label.
    """
    if not item_messages or item_messages[-1].role != "user":
        raise ValueError("item_messages: expected the item's prompt, ending with a user message")
    argue = read_prompt_text("debate/argue.txt")
    turns: list[DebateTurn] = []
    last_argument = {name: FIRST_SPEAKER for name in setup.debaters}
    for round_number in range(1, setup.rounds + 1):
        for speaker, other in (setup.debaters, setup.debaters[::-1]):
            values = {"round": str(round_number), "rounds": str(setup.rounds),
                      "other_argument": last_argument[other]}
            instruction = fill_text(argue, values, where="debate/argue.txt")
            text = await _speak(call, speaker, _with_turn(item_messages, instruction),
                                f"round {round_number}")
            last_argument[speaker] = text.strip() or "(said nothing)"
            turns.append(DebateTurn(round_number, speaker, text))
    final = fill_text(read_prompt_text("debate/final.txt"), {"transcript": _transcript(turns)},
                      where="debate/final.txt")
    raw = await _speak(call, setup.decider, _with_turn(item_messages, final), "final verdict")
    turns.append(DebateTurn(None, setup.decider, raw))
    return DebateResult(parse_verdict(raw, dimension, n_responses=n_responses), raw, tuple(turns))
