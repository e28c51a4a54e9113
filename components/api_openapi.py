"""The OpenAPI 3.1 document of Docket's HTTP API (``GET /api/v1/openapi.json``).

Written out by hand beside :mod:`components.api_routes`, which it describes; a test checks
that every route there has its path here and the other way round.
"""

from __future__ import annotations

from functools import cache
from typing import Any

_ERROR = {"$ref": "#/components/schemas/Error"}


def _errors(*statuses: int) -> dict[str, Any]:
    reasons = {400: "Bad request (a parameter, the content type, the body)",
               401: "No token, or the token is unknown or revoked, or its user is deactivated",
               403: "The token's user may not do this (e.g. an annotator)",
               404: "No such project or export kind",
               409: "The project uses another task",
               413: "The body is larger than DOCKET_API_MAX_BODY_BYTES",
               422: "The file has problems (strict: nothing was written); see `problems`",
               429: "Over the token's rate limit; see Retry-After"}
    return {str(status): {"description": reasons[status],
                          "content": {"application/json": {"schema": _ERROR}}}
            for status in statuses}


def _project_param() -> dict[str, Any]:
    return {"name": "name", "in": "path", "required": True, "schema": {"type": "string"},
            "description": "project name"}


def _query(name: str, description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False,
            "schema": schema or {"type": "string"}, "description": description}


def _json(description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"description": description,
            "content": {"application/json": {"schema": schema or {"type": "object"}}}}


@cache
def openapi_document() -> dict[str, Any]:
    """Return the OpenAPI document (the same object every call: do not change it)."""
    from core.export.gold import POLICIES
    from core.export.preferences import PAIRS
    from core.export.registry import FORMATS, KINDS
    from core.importing import ON_ERROR_POLICIES
    from core.templates import TEMPLATES

    guarded = [{"bearer": []}]
    common = _errors(401, 429)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Docket API", "version": "1",
                 "description": "Items, verdicts and human labels in; metrics and exports out. "
                                "Every endpoint but health needs a personal API token "
                                "(`python cli.py token create`, or the Users page)."},
        "servers": [{"url": "/api/v1"}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {"type": "object", "required": ["error", "detail"],
                          "properties": {"error": {"type": "string"},
                                         "detail": {"type": "string"},
                                         "problems": {"type": "array",
                                                      "items": {"$ref": "#/components/schemas/Problem"}}}},
                "Problem": {"type": "object", "properties": {
                    "file": {"type": "string"}, "location": {"type": "string"},
                    "line": {"type": ["integer", "null"]}, "field": {"type": "string"},
                    "message": {"type": "string"}}},
            },
        },
        "paths": {
            "/health": {"get": {"summary": "The server and its database answer",
                                "security": [],
                                "responses": {"200": _json("ok"), "503": _json("no database")}}},
            "/openapi.json": {"get": {"summary": "This document", "security": guarded,
                                      "responses": {"200": _json("OpenAPI 3.1"), **common}}},
            "/projects": {"get": {
                "summary": "The projects the token's user may see (all of them for an admin)",
                "security": guarded,
                "responses": {"200": _json("{\"projects\": [...]} as `cli.py projects`"),
                              **common}}},
            "/projects/{name}/import": {"post": {
                "summary": "Import a file of items, verdicts and/or human labels (admins), "
                           "as `cli.py import`",
                "security": guarded,
                "parameters": [_project_param(),
                               _query("task", "built-in template; needed to create the project",
                                      {"type": "string", "enum": list(TEMPLATES)}),
                               _query("on_error", "strict (default): nothing is written if a "
                                                  "record is bad; skip: the valid ones are",
                                      {"type": "string", "enum": list(ON_ERROR_POLICIES)}),
                               _query("sampled", "declare the labelled items a uniform sample",
                                      {"type": "string", "enum": ["uniform"]})],
                "requestBody": {"required": True, "content": {
                    media: {"schema": {"type": "string", "format": "binary"}}
                    for media in ("application/x-ndjson", "text/csv",
                                  "application/vnd.apache.parquet")}},
                "responses": {"200": _json("the import's counts and the skipped records' "
                                           "problems"),
                              **_errors(400, 401, 403, 404, 409, 413, 422, 429)}}},
            "/projects/{name}/metrics": {"get": {
                "summary": "The metrics document of one dimension (admins), as `cli.py metrics "
                           "--json`",
                "security": guarded,
                "parameters": [_project_param(),
                               _query("dimension", "default: the schema's first"),
                               _query("binarize_at", "compare '>= LABEL' vs '< LABEL'"),
                               _query("bootstrap", "resamples for the CIs (default 1000; 0: none)",
                                      {"type": "integer", "minimum": 0}),
                               _query("seed", "bootstrap seed", {"type": "integer"})],
                "responses": {"200": _json("the metrics document"),
                              **_errors(400, 401, 403, 404, 429)}}},
            "/projects/{name}/exports/{kind}": {"get": {
                "summary": "An export (admins), streamed, as `cli.py export`; the header "
                           "X-Docket-SHA256 is its SHA-256 (the sidecar's)",
                "security": guarded,
                "parameters": [_project_param(),
                               {"name": "kind", "in": "path", "required": True,
                                "schema": {"type": "string", "enum": list(KINDS)}},
                               _query("format", "default: the kind's first",
                                      {"type": "string", "enum": list(FORMATS)}),
                               _query("policy", "gold policy (default majority)",
                                      {"type": "string", "enum": list(POLICIES)}),
                               _query("min_labels", "labels for a unanimous/majority gold",
                                      {"type": "integer", "minimum": 1}),
                               _query("min_tau", "rankings: least mean Kendall τ-b of the "
                                      "human orders for a Borda gold (default: no floor)",
                                      {"type": "number", "minimum": -1, "maximum": 1}),
                               _query("dimension", "preferences: the dimension to rank by"),
                               _query("margin", "preferences from ratings: least score gap "
                                      "(default 1)", {"type": "number"}),
                               _query("pairs", "preferences from a gold ranking: every implied "
                                      "pair or adjacent ones (default all)",
                                      {"type": "string", "enum": list(PAIRS)}),
                               _query("bootstrap", "report: resamples",
                                      {"type": "integer", "minimum": 0}),
                               _query("seed", "report: bootstrap seed", {"type": "integer"})],
                "responses": {"200": {"description": "the file",
                                      "headers": {"X-Docket-SHA256": {
                                          "schema": {"type": "string"},
                                          "description": "SHA-256 of the file"}}},
                              **_errors(400, 401, 403, 404, 429)}}},
        },
    }
