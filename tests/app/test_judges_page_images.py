"""The Judges page on a project with image fields (AppTest): the define form's Vision-capable
setting, the preview naming the image where it is sent (by hash, never its bytes), a try that
sends the image to a vision judge, and a text-only judge refused before any call."""

from __future__ import annotations

import base64
import hashlib
import json

from core.templates import TEMPLATES
from storage.authz import OPERATOR
from storage.importer import import_file
from storage.judges import get_judge
from tests.app.annotate_helpers import page_text
from tests.app.apptest_helpers import open_page
from tests.app.test_judges_page import JUDGES_PAGE, add_judge, judge_id, plain, preview
from tests.judges.test_judge_images import drawn, wire_parts

PICTURE = drawn("PNG", (220, 60, 20), size=(90, 60))
DIGEST = hashlib.sha256(PICTURE).hexdigest()




def pictures(db, tmp_path) -> None:
    (tmp_path / "circle.png").write_bytes(PICTURE)
    record = {"id": "p0", "image": "circle.png", "prompt": "What colour is the circle?",
              "response": "Orange. <<expect:4>>"}
    (tmp_path / "pictures.jsonl").write_text(json.dumps(record) + "\n")
    import_file(db, tmp_path / "pictures.jsonl", project_name="pictures",
                schema=TEMPLATES["image_scoring"], actor=OPERATOR)


def test_the_define_form_marks_a_judge_vision_capable(app_db, admin):
    at = open_page(JUDGES_PAGE, user=admin)
    at.text_input(key="judges.define.name").input("seeing")
    at.text_input(key="judges.define.base_url").input("http://127.0.0.1:9/v1")
    at.text_input(key="judges.define.model").input("vlm")
    at.checkbox(key="judges.define.vision").check()
    at.button(key="judges.define.submit").click().run()

    assert not at.exception
    with app_db.read() as session:
        assert get_judge(session=session, name="seeing").spec.vision is True
    table = at.dataframe[0].value
    assert table[table["judge"] == "seeing"].iloc[0]["vision"] == "yes"


def test_the_preview_names_the_image_and_a_try_sends_it(app_db, admin, tmp_path, fake_openai,
                                                        judge_key):
    pictures(app_db, tmp_path)
    add_judge(app_db, fake_openai, vision=True)
    at = open_page(JUDGES_PAGE, user=admin)

    assert not at.exception
    user = preview(at)[1]
    assert user.startswith(f"Image:\n[image image: image/png, {len(PICTURE):,} bytes, sha256 "
                           f"{DIGEST}]\n\nQuestion about the image:\nWhat colour is the circle?")
    assert base64.b64encode(PICTURE).decode()[:40] not in page_text(at)
    assert any(c.value.startswith("**user** · ") and c.value.endswith(" · 1 image")
               for c in at.caption)

    at.button(key=f"judges.try.{judge_id(app_db)}").click().run()

    assert not at.exception
    assert plain(at.success[0].value) == "Label: **4** (gpt on item p0, score)"
    [sent] = fake_openai.requests
    parts = wire_parts(sent.body["messages"][1]["content"])
    assert parts[1] == ("image", ("image/png", PICTURE))
    assert [kind for kind, _ in parts] == ["text", "image", "text"]


def test_a_try_with_a_text_only_judge_is_refused_before_any_call(app_db, admin, tmp_path,
                                                                 fake_openai, judge_key):
    pictures(app_db, tmp_path)
    add_judge(app_db, fake_openai)
    at = open_page(JUDGES_PAGE, user=admin)

    at.button(key=f"judges.try.{judge_id(app_db)}").click().run()

    assert not at.exception
    error = plain(at.error[0].value)
    assert error.startswith("The call failed (gpt on item p0, score): judge 'gpt': endpoint "
                            "judge-model at ")
    assert "is not marked vision-capable; the project has image fields image" in error
    assert fake_openai.requests == []
