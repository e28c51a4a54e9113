"""The benchmark's websocket client (bench/st_client.py): the messages it builds and reads.

No server here: ``PageState`` is pure. tests/e2e/test_ws_client.py drives a real server.
"""

from __future__ import annotations

import pytest
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

from bench.st_client import ClientError, PageState, Widget, text_value, trigger, user_key

BUTTON_ID = "$$ID-0123abcd-annotate.submit"


def button_delta(element_id: str, label: str, fragment_id: str = "") -> ForwardMsg:
    message = ForwardMsg()
    message.delta.new_element.button.id = element_id
    message.delta.new_element.button.label = label
    message.delta.fragment_id = fragment_id
    return message


def test_user_keys_come_out_of_element_ids():
    assert user_key(BUTTON_ID) == "annotate.submit"
    assert user_key("$$ID-0123abcd-annotate.label.correct-0") == "annotate.label.correct-0"
    assert user_key("$$ID-0123abcd-None") is None  # a widget without a key
    assert user_key("some-other-id") is None


def test_the_first_run_names_the_page_and_later_runs_its_script_hash():
    state = PageState(page_name="Annotate", query_string="project=3")
    first = state.rerun()
    assert first.WhichOneof("type") == "rerun_script"
    assert first.rerun_script.page_name == "Annotate"
    assert first.rerun_script.query_string == "project=3"
    assert not first.rerun_script.fragment_id and not first.rerun_script.widget_states.widgets

    navigation = ForwardMsg()
    navigation.navigation.page_script_hash = "abc123"
    assert state.apply(navigation) is None
    info = ForwardMsg()
    info.page_info_changed.query_string = "project=3&item=q1"
    state.apply(info)
    later = state.rerun()
    assert later.rerun_script.page_script_hash == "abc123"
    assert later.rerun_script.page_name == ""
    assert later.rerun_script.query_string == "project=3&item=q1"


def test_a_press_sends_a_trigger_with_the_text_inputs_and_the_fragment():
    state = PageState(page_name="Annotate")
    state.apply(button_delta(BUTTON_ID, "Save & next", fragment_id="frag-1"))
    name = ForwardMsg()
    name.delta.new_element.text_input.id = "$$ID-99-auth.name"
    state.apply(name)
    assert state.widget("annotate.submit") == Widget(BUTTON_ID, "button", "Save & next", "frag-1")

    message = BackMsg()
    message.ParseFromString(state.press("annotate.submit", {"auth.name": "ann"})
                            .SerializeToString())  # what goes over the wire
    widgets = list(message.rerun_script.widget_states.widgets)
    assert [w.id for w in widgets] == ["$$ID-99-auth.name", BUTTON_ID]
    assert widgets[0].string_value == "ann"
    assert widgets[1].trigger_value is True
    assert message.rerun_script.fragment_id == "frag-1"
    assert trigger(BUTTON_ID) == widgets[1] and text_value("$$ID-99-auth.name", "ann") == widgets[0]


def test_a_widget_drawn_again_replaces_the_old_one_and_a_missing_one_is_named():
    state = PageState()
    state.apply(button_delta("$$ID-1-annotate.submit", "Save"))
    state.apply(button_delta("$$ID-2-annotate.submit", "Save & next"))
    assert state.widget("annotate.submit").element_id == "$$ID-2-annotate.submit"
    with pytest.raises(ClientError, match=r"annotate\.next.*keys: annotate\.submit"):
        state.press("annotate.next")


def test_errors_drawn_and_the_end_of_a_run_are_read():
    state = PageState()
    error = ForwardMsg()
    error.delta.new_element.alert.body = "Not saved: no label."
    error.delta.new_element.alert.format = error.delta.new_element.alert.ERROR
    info = ForwardMsg()
    info.delta.new_element.alert.body = "Skipped."
    info.delta.new_element.alert.format = info.delta.new_element.alert.INFO
    state.apply(error)
    state.apply(info)
    assert state.errors == ["Not saved: no label."]
    finished = ForwardMsg()
    finished.script_finished = ForwardMsg.ScriptFinishedStatus.FINISHED_FRAGMENT_RUN_SUCCESSFULLY
    assert state.apply(finished) == ForwardMsg.ScriptFinishedStatus.FINISHED_FRAGMENT_RUN_SUCCESSFULLY


def test_html_bodies_are_kept_apart_from_widgets():
    state = PageState()
    script = ForwardMsg()
    script.delta.new_element.html.body = '<script>fetch("/_docket/session", {body: "t"})</script>'
    state.apply(script)
    assert state.html == ['<script>fetch("/_docket/session", {body: "t"})</script>']
    assert state.widgets == {} and state.drawn == set()


def test_markdown_bodies_are_kept_per_run_apart_from_widgets():
    state = PageState()
    image = ForwardMsg()
    image.delta.new_element.markdown.body = "![image 1](/_docket/image/" + "ab" * 32 + ")"
    state.apply(image)
    assert state.markdown == ["![image 1](/_docket/image/" + "ab" * 32 + ")"]
    assert state.html == [] and state.widgets == {} and state.drawn == set()
