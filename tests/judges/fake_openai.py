"""A deterministic OpenAI-compatible server for tests and the judge benchmark (127.0.0.1 only).

``POST /v1/chat/completions`` answers from the prompt: the label is the word after the marker
``<<expect:`` in the last user message (``<<expect:incorrect>>``), else the first label of the
``response_format`` enum, else ``correct``. With a ``response_format`` the content is the JSON
object its schema asks for (``{"rationale": ..., "label": ...}`` or ``{"label": ...}``); without
one it is a short rationale and a last line ``Verdict: LABEL``. A ranking: the marker holds the
order as JSON (``<<expect:[2,1,4,3]>>``, said as given even when it is no permutation); with a
``response_format`` whose answer is an array (named after the dimension) the content is
``{"rationale": ..., "<name>": [2, 1, 4, 3]}``, without a marker the numbers in ascending order
(as many as ``maxItems``); without one the last line is ``Verdict: [2,1,4,3]``. Usage counts are words:
``prompt_tokens`` = words in all message contents, ``completion_tokens`` = words in the content.
A content given as a list of parts (text and ``image_url``, a vision request) reads as the
text of its text parts.

A request asking for paraphrases (the consistency probes' generator: "Write K paraphrases" and
the question between ``<question>`` tags in the last user message) is answered with K numbered
lines ``N. <question> (wording N)``, without a verdict. A request whose system message starts
with "Answer the question" (a judge's own answer) is answered with the text of the marker
``<<answer:TEXT>>`` in the question, else "I do not know".

Told by :meth:`FakeOpenAI.add_fault` (rules checked in order, each for ``times`` requests or
for ever, optionally only for prompts containing ``when``) it answers instead:

``400``            HTTP 400 (a request the server will never accept)
``429``            HTTP 429 with ``Retry-After: <retry_after>`` (seconds or an HTTP date)
``500``            HTTP 500
``slow``           the normal answer after ``delay`` seconds (client timeouts)
``malformed``      HTTP 200 whose body is not JSON
``no_choices``     HTTP 200 with an empty ``choices`` list
``unparseable``    HTTP 200 whose content states no verdict
``drop``           closes the connection without answering
``echo_key``       HTTP 401 whose error message repeats the Authorization header
``reject_format``  HTTP 400 if the request has a ``response_format`` (else the normal answer)

Every request is recorded (:attr:`FakeOpenAI.requests`) with its headers and JSON body, and
the server counts the most requests it had in flight at once (:attr:`FakeOpenAI.max_in_flight`).

As a process (for the benchmark): ``python tests/judges/fake_openai.py`` prints its base URL
on the first line of stdout and serves until killed.
"""

from __future__ import annotations

import json
import re
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

FAULT_KINDS = ("400", "429", "500", "slow", "malformed", "no_choices", "unparseable", "drop",
               "echo_key", "reject_format")
_EXPECT = re.compile(r"<<expect:([^>]+)>>")
_ANSWER = re.compile(r"<<answer:([^>]+)>>")
_PARAPHRASES = re.compile(r"Write (\d+) paraphrases.*?<question>(.*?)</question>", re.DOTALL)


def content_text(content: object) -> str:
    """The text of a message content: the string itself, or a list of parts' ``text`` parts
    joined (images left out)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content
                       if isinstance(part, dict) and part.get("type") == "text")
    return ""


def _texts(body: dict[str, Any], role: str) -> list[str]:
    return [content_text(m.get("content")) for m in body.get("messages", []) if m.get("role") == role]


@dataclass
class Fault:
    """A scripted misbehaviour; ``times`` None means every matching request."""

    kind: str
    times: int | None = 1
    when: str | None = None
    retry_after: str | None = None
    delay: float = 0.0


@dataclass(frozen=True)
class Recorded:
    """One request as the server saw it."""

    path: str
    headers: dict[str, str]  # names in lower case
    body: dict[str, Any] | None
    at: float  # time.monotonic() on arrival

    @property
    def user_text(self) -> str:
        """The text of the last user message."""
        users = _texts(self.body or {}, "user")
        return users[-1] if users else ""


@dataclass
class _State:
    faults: list[Fault] = field(default_factory=list)
    requests: list[Recorded] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0
    record: bool = True
    delay: float = 0.0


def expected_label(body: dict[str, Any]) -> str:
    """The label this server answers for a request body (see the module docstring)."""
    users = _texts(body, "user")
    match = _EXPECT.search(users[-1] if users else "")
    if match:
        return match.group(1)
    schema = _schema(body)
    enum = (schema or {}).get("properties", {}).get("label", {}).get("enum")
    return enum[0] if enum else "correct"


def _schema(body: dict[str, Any]) -> dict[str, Any] | None:
    response_format = body.get("response_format")
    if not isinstance(response_format, dict):
        return None
    return (response_format.get("json_schema") or {}).get("schema")


def word_count(text: str) -> int:
    """The fake's token count of a text: its whitespace-separated words."""
    return len(text.split())


def _paraphrases(body: dict[str, Any]) -> str | None:
    """The answer to a paraphrase request, or None for any other request."""
    users = _texts(body, "user")
    asked = _PARAPHRASES.search(users[-1] if users else "")
    if asked is None:
        return None
    k, question = int(asked.group(1)), asked.group(2).strip()
    return "\n".join(f"{n}. {question} (wording {n})" for n in range(1, k + 1))


def _own_answer(body: dict[str, Any]) -> str | None:
    """The answer to a "what would you answer?" request, or None for any other request."""
    systems = _texts(body, "system")
    if not systems or not systems[0].startswith("Answer the question"):
        return None
    users = _texts(body, "user")
    found = _ANSWER.search(users[-1] if users else "")
    return found.group(1) if found else "I do not know"


def _content(body: dict[str, Any], unparseable: bool) -> str:
    paraphrased = _paraphrases(body)
    if paraphrased is not None:
        return paraphrased
    answered = _own_answer(body)
    if answered is not None:
        return answered
    label = expected_label(body)
    if unparseable:
        return "I cannot decide about this one."
    schema = _schema(body)
    if schema is None:
        return f"The response was checked against the question.\nVerdict: {label}"
    properties = schema.get("properties", {})
    answer: dict[str, Any] = {}
    if "rationale" in properties:
        answer["rationale"] = "The response was checked against the question."
    for name, spec in properties.items():
        if name != "rationale":
            answer[name] = _order(body, spec) if spec.get("type") == "array" else label
    return json.dumps(answer)


def _order(body: dict[str, Any], spec: dict[str, Any]) -> Any:
    """A ranking answer: the marker's JSON (as given), else 1..maxItems in ascending order."""
    users = _texts(body, "user")
    match = _EXPECT.search(users[-1] if users else "")
    if match is None:
        return list(range(1, int(spec.get("maxItems", 2)) + 1))
    try:
        return json.loads(match.group(1))
    except ValueError:
        return match.group(1)


def completion_body(body: dict[str, Any], content: str) -> bytes:
    """The JSON of a chat completion answering ``body`` with ``content``."""
    prompt_words = sum(word_count(content_text(m.get("content"))) for m in body.get("messages", []))
    return json.dumps({
        "id": "chatcmpl-fake", "object": "chat.completion", "created": 0,
        "model": body.get("model", "fake"),
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": content}}],
        "usage": {"prompt_tokens": prompt_words, "completion_tokens": word_count(content),
                  "total_tokens": prompt_words + word_count(content)},
    }).encode()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like real endpoints
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, data: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        state = self.server.state
        with self.server.lock:
            if state.record:
                headers = {name.lower(): value for name, value in self.headers.items()}
                state.requests.append(Recorded(self.path, headers, body, time.monotonic()))
            state.in_flight += 1
            state.max_in_flight = max(state.max_in_flight, state.in_flight)
        try:
            self._answer(body)
        finally:
            with self.server.lock:
                state.in_flight -= 1

    def _answer(self, body: dict[str, Any] | None) -> None:
        if self.path.rstrip("/") != "/v1/chat/completions" or not isinstance(body, dict):
            self._send(404, b'{"error": {"message": "not found"}}')
            return
        fault = self.server.take_fault(body)
        kind = fault.kind if fault else None
        if self.server.state.delay:
            self.server.stopping.wait(self.server.state.delay)
        if kind == "slow":
            self.server.stopping.wait(fault.delay)
        if kind == "429":
            headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
            self._send(429, b'{"error": {"message": "Rate limit reached", "type": "rate_limit"}}', headers)
        elif kind == "400":
            self._send(400, b'{"error": {"message": "Invalid request"}}')
        elif kind == "500":
            self._send(500, b'{"error": {"message": "The server had an error"}}')
        elif kind == "malformed":
            self._send(200, b'{"id": "chatcmpl-fake", "choices": [')
        elif kind == "no_choices":
            self._send(200, b'{"id": "chatcmpl-fake", "object": "chat.completion", "choices": []}')
        elif kind == "drop":
            self.close_connection = True
        elif kind == "echo_key":
            echoed = json.dumps({"error": {"message": "Incorrect API key provided: "
                                           + self.headers.get("Authorization", "")}})
            self._send(401, echoed.encode())
        elif kind == "reject_format" and "response_format" in body:
            self._send(400, b'{"error": {"message": "response_format is not supported"}}')
        else:
            self._send(200, completion_body(body, _content(body, kind == "unparseable")))


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 256  # the default 5 resets connections when 64 clients connect at once

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.lock = threading.Lock()
        self.state = _State()
        self.stopping = threading.Event()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that gave up (timeout, cancel) is normal here: no traceback on stderr."""
        error = sys.exc_info()[1]
        if not isinstance(error, ConnectionError):
            super().handle_error(request, client_address)

    def take_fault(self, body: dict[str, Any]) -> Fault | None:
        text = json.dumps(body.get("messages", []))
        with self.lock:
            for fault in self.state.faults:
                if fault.times == 0 or (fault.when is not None and fault.when not in text):
                    continue
                if fault.kind == "reject_format" and "response_format" not in body:
                    continue
                if fault.times is not None:
                    fault.times -= 1
                return fault
        return None


class FakeOpenAI:
    """The server, started on a random port of 127.0.0.1; use as a context manager."""

    def __init__(self) -> None:
        self._server = _Server()
        # A short poll interval: shutdown() waits for it, once per test.
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,),
                                        name="fake-openai", daemon=True)

    def __enter__(self) -> FakeOpenAI:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        """Serve in a background thread."""
        self._thread.start()

    def stop(self) -> None:
        """Stop serving; requests waiting (slow, delay) are released at once."""
        self._server.stopping.set()
        self._server.shutdown()
        self._server.server_close()

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>/v1``."""
        return f"http://127.0.0.1:{self._server.server_port}/v1"

    def add_fault(self, kind: str, *, times: int | None = 1, when: str | None = None,
                  retry_after: str | None = None, delay: float = 0.0) -> Fault:
        """Misbehave as ``kind`` (see the module docstring) for the next ``times`` matching requests."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r} (faults: {', '.join(FAULT_KINDS)})")
        fault = Fault(kind, times, when, retry_after, delay)
        with self._server.lock:
            self._server.state.faults.append(fault)
        return fault

    def set_delay(self, seconds: float) -> None:
        """Make every answer wait ``seconds`` (so concurrent calls overlap)."""
        self._server.state.delay = seconds

    def set_recording(self, on: bool) -> None:
        """Record requests (the default) or not (the benchmark: no growing list)."""
        self._server.state.record = on

    @property
    def requests(self) -> list[Recorded]:
        """Every request received so far, in arrival order."""
        with self._server.lock:
            return list(self._server.state.requests)

    @property
    def max_in_flight(self) -> int:
        """The most requests the server was answering at the same time."""
        return self._server.state.max_in_flight


def main() -> None:
    """Serve until killed, not recording, after printing the base URL."""
    server = FakeOpenAI()
    server.set_recording(False)
    server.start()
    sys.stdout.write(server.base_url + "\n")
    sys.stdout.flush()
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
