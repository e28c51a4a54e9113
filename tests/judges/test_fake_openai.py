"""The fake server itself: loopback only, the answer rule the tests rely on, faults by rule."""

from __future__ import annotations

import json
import urllib.request

import pytest

from tests.judges.fake_openai import FakeOpenAI, expected_label


def post(server: FakeOpenAI, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(server.base_url + "/chat/completions", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_it_listens_on_loopback_only(fake_openai):
    assert fake_openai.base_url.startswith("http://127.0.0.1:")
    assert fake_openai._server.server_address[0] == "127.0.0.1"


@pytest.mark.parametrize(("body", "label"), [
    ({"messages": [{"role": "user", "content": "x <<expect:tie>> y"}]}, "tie"),
    ({"messages": [{"role": "user", "content": "x"}],
      "response_format": {"json_schema": {"schema": {"properties": {"label": {"enum": ["B", "A"]}}}}}}, "B"),
    ({"messages": [{"role": "user", "content": "x"}]}, "correct"),
])
def test_the_answer_rule(body, label):
    assert expected_label(body) == label


def test_faults_apply_in_order_to_matching_prompts_for_their_count(fake_openai):
    fake_openai.add_fault("500", times=2, when="beta")
    bodies = [{"model": "m", "messages": [{"role": "user", "content": text}]}
              for text in ("alpha", "beta", "beta", "beta")]
    statuses = [post(fake_openai, body)[0] for body in bodies]
    assert statuses == [200, 500, 500, 200]
    status, answer = post(fake_openai, bodies[0])
    assert status == 200
    assert answer["choices"][0]["message"]["content"].endswith("Verdict: correct")
    # words: "The response was checked against the question. Verdict: correct" is 9
    assert answer["usage"] == {"prompt_tokens": 1, "completion_tokens": 9, "total_tokens": 10}
    with pytest.raises(ValueError, match="unknown fault 'teapot'"):
        fake_openai.add_fault("teapot")
