"""The standalone HTML agreement report (core.export.report_html), rendered from the demo
projects' comparison documents: plotly.js inline exactly once, nothing loaded from outside,
user text escaped, the expected figures per dimension, undefined metrics with their reason."""

from __future__ import annotations

import html
import json
import re
import subprocess
import sys
from contextlib import contextmanager

import plotly.io as pio
import plotly.offline
import pytest

from core.export.report_html import render_report_html
from core.metrics import compare_dimension, ratings_from_columns
from core.schema import Dimension, schema_to_dict
from core.templates import TEMPLATES
from storage.authz import OPERATOR
from storage.database import Database
from storage.demo import load_demo
from storage.labels import load_ratings
from storage.migrations import migrate
from storage.projects import get_project
from tests.conftest import REPO_ROOT

EVIL = "<script>alert(1)</script>"
EVIL_JUDGE = f"judge:{EVIL}"
BANNER = re.search(r"plotly\.js v[\d.]+", plotly.offline.get_plotlyjs()).group(0)
SCORE = Dimension("score", "interval", "Score", minimum=0, maximum=10)


@pytest.fixture(scope="module")
def demo_documents(tmp_path_factory) -> dict[str, list[dict]]:
    """Every demo project's documents (one per dimension), read back from a SQLite file."""
    db = Database(f"sqlite:///{tmp_path_factory.mktemp('demo') / 'docket.db'}")
    migrate(db)
    load_demo(db, actor=OPERATOR)
    documents = {}
    with db.read() as session:
        for name in TEMPLATES:
            project = get_project(session=session, name=name)
            documents[name] = [
                {"project": name, **compare_dimension(
                    load_ratings(session=session, project_id=project.id,
                                 dimension=project.schema.dimension(dimension)),
                    n_resamples=50, seed=1).to_dict()}
                for dimension in project.schema.dimension_names]
    db.dispose()
    return documents


def metadata(project: str) -> dict:
    return {"project": project, "template": project, "exported_at": "2026-11-29T07:30:00+00:00",
            "docket_version": "0.1.0", "bootstrap": 50}


def interval_document() -> dict:
    """A real interval comparison with a judge named like an XSS payload (a constant judge:
    Pearson's r and Spearman's ρ undefined) and a judge without labels."""
    ratings = ratings_from_columns(SCORE, ["a", "b", "c", "d"], {
        "human:x": [1.0, 2.0, 3.0, 4.0], "human:y": [2.0, 2.0, 3.0, 5.0],
        EVIL_JUDGE: [5.0] * 4, "judge:silent": [None] * 4}, models=["m1", "m1", "m2", "m2"])
    return {"project": "scores", **compare_dimension(ratings, n_resamples=20, seed=1).to_dict()}


def outside_plotly_js(page: str) -> str:
    """The page without the embedded plotly.js bundle (which names URLs it never fetches
    here, such as its map topology CDN, blocked by the page's CSP anyway)."""
    head, body = page.split("</head>", 1)
    bundle_start = head.index('<script type="text/javascript">')
    return head[:bundle_start] + body


def sections(page: str) -> list[str]:
    return page.split('<section class="dimension"')[1:]


def figure_counts(section: str) -> dict[str, int]:
    kinds = re.findall(r'<figure class="chart" data-figure="(\w+)">', section)
    return {kind: kinds.count(kind) for kind in kinds}


def expected_figures(document: dict) -> dict[str, int]:
    """What the report must draw for one document, derived from the document itself."""
    scored = [r for r in document["raters"] if r.startswith(("judge:", "jury:"))]
    has_consensus = "human:consensus" in document["raters"]
    expected = {"heatmap": 1}
    if scored and has_consensus:
        expected["headline"] = 1
        if document["scale"] not in ("interval", "ranking"):  # no confusion matrix of orders
            expected["confusion"] = len(scored)
    if document["bias"]:
        expected["distribution"] = 1
    if document["ranking"]:
        expected["ranking"] = 1
    return expected


@pytest.mark.parametrize("project", list(TEMPLATES))
def test_demo_report_is_standalone_with_plotly_js_inline_once(demo_documents, project):
    page = render_report_html(demo_documents[project], metadata(project))

    assert page.startswith("<!DOCTYPE html>")
    assert page.count(BANNER) == 1
    head = page.split("</head>", 1)[0]
    assert plotly.offline.get_plotlyjs()[:2000] in head  # the bundle itself, in <head>
    assert 'src="http' not in page
    assert not re.search(r"<(script|img|iframe|link)\b[^>]*\b(src|href)=", page, re.IGNORECASE)
    rest = outside_plotly_js(page)
    assert "cdn" not in rest.lower()
    assert "http://" not in rest and "https://" not in rest
    assert "default-src 'none'" in head  # the browser may fetch nothing, whatever plotly asks
    # Our only scripts: the bundle and one per figure.
    assert page.count("<script") == 1 + page.count('<figure class="chart"')
    assert "NaN" not in rest


@pytest.mark.parametrize("project", list(TEMPLATES))
def test_demo_report_has_the_figures_and_tables_of_every_dimension(demo_documents, project):
    documents = demo_documents[project]
    page = render_report_html(documents, metadata(project))

    assert f"<title>Docket agreement report — {project}</title>" in page
    assert f"<h1>Docket agreement report — {project}</h1>" in page
    parts = sections(page)
    assert len(parts) == len(documents)
    for document, section in zip(documents, parts, strict=True):
        assert f"<h2>{html.escape(document['dimension'])} ({document['scale']})</h2>" in section
        assert figure_counts(section) == expected_figures(document), document["dimension"]
        assert section.count('<table class="pairs">') == 1
        # One row per rater pair in the pairs table, one per group in the groups table.
        pairs_table = section.split('<table class="pairs">', 1)[1].split("</table>", 1)[0]
        assert pairs_table.count("<tr>") == 1 + len(document["pairs"])
        if document["scale"] == "ranking":  # groups are defined on labels, and it says so
            assert document["groups"] == [] and "No rater groups: Fleiss" in section
        else:
            groups_table = section.split('<table class="groups">', 1)[1].split("</table>", 1)[0]
            assert groups_table.count("<tr>") == 1 + len(document["groups"])
        for rater in document["raters"]:
            assert html.escape(rater) in section


def test_correctness_report_draws_each_judge_against_the_consensus(demo_documents):
    document = demo_documents["correctness"][0]
    page = render_report_html([document], metadata("correctness"))

    assert figure_counts(page) == {"headline": 1, "heatmap": 1, "confusion": 3,
                                   "distribution": 1, "ranking": 1}
    for judge in ("gpt-4o", "llama-3.1-70b", "prometheus-2-7b"):
        assert f"<figcaption>judge:{judge} against human:consensus (n = " in page
    kappa = next(p for p in document["pairs"]
                 if (p["a"], p["b"]) == ("human:consensus", "judge:gpt-4o"))["cohen_kappa"]
    assert f"{kappa:.3f}" in page


def test_metadata_block_shows_every_key_and_value_escaped(demo_documents):
    meta = metadata("pairwise") | {"note": "<b>draft</b> & 'internal'",
                                   "filters": {"group": "<all>", "models": ["m1", "m2"]},
                                   "juries": None}
    page = render_report_html(demo_documents["pairwise"], meta)

    block = page.split('<section class="metadata">', 1)[1].split("</section>", 1)[0]
    for key in meta:
        assert f"<th>{html.escape(key)}</th>" in block
    assert f"<td>{html.escape(meta['note'])}</td>" in block
    assert "<td>group: &lt;all&gt;; models: m1, m2</td>" in block  # readable, not JSON
    assert "<td>none</td>" in block and "<td>50</td>" in block
    assert "<b>draft</b>" not in page


@pytest.mark.parametrize("project", list(TEMPLATES))
def test_the_task_schema_is_shown_as_tables_not_json(demo_documents, project):
    schema = TEMPLATES[project]
    meta = metadata(project) | {"schema": schema_to_dict(schema)}
    page = render_report_html(demo_documents[project], meta)

    about = page.split('<section class="metadata">', 1)[1].split("</section>", 1)[0]
    assert "<th>schema</th>" not in about
    task = page.split('<section class="task">', 1)[1].split("</section>", 1)[0]
    assert f"<h2>Task: {html.escape(schema.title)}</h2>" in task
    rest = outside_plotly_js(page)
    assert "&quot;dimensions&quot;" not in rest and "{&quot;" not in rest  # no JSON dump
    fields = table_rows(task, "fields")
    assert [row[:3] for row in fields] == [[f.name, f.title, f.kind] for f in schema.fields]
    dimensions = table_rows(task, "dimensions")
    assert [row[:3] for row in dimensions] == [[d.name, d.title, d.scale]
                                               for d in schema.dimensions]
    labels = [(d.name, label.value, label.description)
              for d in schema.dimensions for label in d.labels]
    assert [(row[0], row[1], row[4]) for row in table_rows(task, "labels")] == labels


def table_rows(part: str, css_class: str) -> list[list[str]]:
    """The body cells of the table of class ``css_class`` in ``part``, unescaped."""
    if f'<table class="{css_class}">' not in part:
        return []
    body = part.split(f'<table class="{css_class}">', 1)[1].split("<tbody>", 1)[1]
    body = body.split("</tbody>", 1)[0]
    return [[html.unescape(cell) for cell in re.findall(r"<td[^>]*>(.*?)</td>", row)]
            for row in body.split("</tr>") if "<td" in row]


def test_the_page_does_not_depend_on_plotlys_default_template(demo_documents):
    # Importing Streamlit makes its own template plotly's default (no automargin): the
    # Export page and ``cli.py export report`` wrote different pages until the report
    # named its template.
    documents = demo_documents["correctness"]
    pages = []
    for template in ("plotly", "none", "simple_white"):
        with default_template(template):
            pages.append(render_report_html(documents, metadata("correctness")))
    assert pages[0] == pages[1] == pages[2]
    # plotly's default template (7 KB in every figure) is not in the page.
    assert "histogram2dcontour" not in outside_plotly_js(pages[0])


@contextmanager
def default_template(name: str):
    previous = pio.templates.default
    pio.templates.default = name
    try:
        yield
    finally:
        pio.templates.default = previous


def test_a_judge_named_like_a_script_appears_only_escaped(demo_documents):
    # The demo document with one judge renamed everywhere, and a real comparison with it.
    renamed = json.loads(json.dumps(demo_documents["correctness"][0]).replace(
        "judge:gpt-4o", EVIL_JUDGE))
    assert EVIL_JUDGE in renamed["raters"]
    meta = metadata(EVIL) | {"template": EVIL}
    page = render_report_html([renamed, interval_document()], meta)

    assert EVIL not in page
    assert "alert(1)</script>" not in page
    escaped = html.escape(EVIL)
    assert f"Docket agreement report — {escaped}" in page
    assert page.count(f"judge:{escaped}") >= 2  # tables and captions of both dimensions
    assert page.count("<script") == 1 + page.count('<figure class="chart"')


def test_undefined_metrics_show_their_reason_never_nan():
    document = interval_document()
    page = render_report_html([document], {"project": "scores"})

    reason = next(p for p in document["pairs"]
                  if p["b"] == EVIL_JUDGE)["undefined"]["pearson"]
    assert "gave the same score (5) to every pairable item" in reason
    assert f"undefined: {html.escape(reason)}" in page
    assert "undefined: fewer than 2 pairable items (n = 0)" in page  # the silent judge
    assert "does not apply to interval scales" in page  # Fleiss' κ of the groups
    assert "NaN" not in outside_plotly_js(page)
    # An interval scale has no confusion matrix; the rest is drawn.
    assert figure_counts(page) == expected_figures(document) == {
        "headline": 1, "heatmap": 1, "distribution": 1, "ranking": 1}


def test_the_same_documents_give_the_same_page(demo_documents):
    documents = demo_documents["thematic_alignment"]
    assert render_report_html(documents, metadata("t")) == render_report_html(documents, metadata("t"))


def test_the_project_and_the_contract_keys_are_required():
    document = interval_document()
    with pytest.raises(ValueError, match="needs the project"):
        render_report_html([{k: v for k, v in document.items() if k != "project"}], {})
    with pytest.raises(ValueError, match="needs the project"):
        render_report_html([document, document | {"project": "other"}], {})
    with pytest.raises(ValueError, match="lacks pairs"):
        render_report_html([{k: v for k, v in document.items() if k != "pairs"}], {})
    page = render_report_html([document], {})  # the documents' project stands in
    assert "<title>Docket agreement report — scores</title>" in page


def test_the_report_module_does_not_import_streamlit():
    code = ("import sys, core.export.report_html; "
            "sys.exit(1 if 'streamlit' in sys.modules else 0)")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True,
                            text=True, check=False)
    assert result.returncode == 0, result.stderr or "core.export.report_html imports streamlit"


def test_the_error_taxonomy_is_a_table_of_counts_per_judge_and_category(demo_documents):
    document = {**demo_documents["correctness"][0], "error_taxonomy": {
        "categories": ["missed error", "<b>format</b>"],
        "judges": [{"rater": "judge:gpt-4o", "tagged_verdicts": 2,
                    "counts": {"missed error": 2, "<b>format</b>": 1}}]}}
    page = render_report_html([document], metadata("quiz"))
    section = page.split("<h3>Why judges were wrong (error taxonomy)</h3>", 1)[1]
    table = section.split("</table>", 1)[0]
    assert re.findall(r"<th>(.*?)</th>", table) == [
        "judge", "tagged verdicts", "missed error", "&lt;b&gt;format&lt;/b&gt;"]
    assert re.findall(r"<td[^>]*>(.*?)</td>", table) == ["gpt-4o", "2", "2", "1"]
    # Without tags there is no such section.
    assert "error taxonomy" not in render_report_html([demo_documents["correctness"][0]],
                                                      metadata("quiz"))
