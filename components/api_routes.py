"""Docket's HTTP API, ``/api/v1``: Starlette routes served by the app's own server
(``st.App(routes=...)`` in ``app.py``, see :mod:`components.web_server`).

Each endpoint is a thin wrapper around the function the CLI uses for the same job, so an
import, a metrics document or an export is the same whether it is made by ``cli.py`` or over
HTTP:

- ``GET /api/v1/health``: no token; ``{"status": "ok"}`` once the database answers.
- ``GET /api/v1/projects``: the lines of ``cli.py projects`` the token's user may see.
- ``POST /api/v1/projects/{name}/import?task=T&on_error=strict|skip``: the body is the file
  (streamed to a temporary file, refused with 413 past ``DOCKET_API_MAX_BODY_BYTES``), its
  format from ``Content-Type``; :func:`storage.importer.import_file` as ``cli.py import``.
- ``GET /api/v1/projects/{name}/metrics?dimension=D``: :func:`storage.metrics_document.metrics_document`,
  the document of ``cli.py metrics --json`` (kept per process until the project's data change).
- ``GET /api/v1/projects/{name}/exports/{kind}?format=F&policy=P``: the file of ``cli.py
  export`` (:func:`storage.export.export_project`), streamed, with its SHA-256 (the sidecar's)
  in ``X-Docket-SHA256``.
- ``GET /api/v1/openapi.json``: the OpenAPI document of all this (:mod:`components.api_openapi`).

Errors are ``{"error": ..., "detail": ...}`` with 400, 401, 403, 404, 409, 413, 422 or 429
(:mod:`components.api_access` for tokens, rate and size limits).
"""

from __future__ import annotations

import logging
import math
import shutil
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from components.api_access import (
    ApiConfigError,
    RateLimiter,
    api_limits,
    error_response,
    json_response,
    retry_after,
)
from components.api_openapi import openapi_document
from storage.api_tokens import TokenUser, check_token
from storage.authz import ADMIN, NotAllowed
from storage.database import Database
from storage.projects import ProjectError, UnknownProjectError

log = logging.getLogger(__name__)

PREFIX = "/api/v1"
# Content types of an import body by the format they carry (the first is the documented one).
CONTENT_TYPES: dict[str, str] = {
    "application/x-ndjson": "jsonl", "application/jsonl": "jsonl", "application/json": "jsonl",
    "text/csv": "csv",
    "application/vnd.apache.parquet": "parquet", "application/x-parquet": "parquet",
}
Handler = Callable[[Request, TokenUser, Database], Awaitable[Response]]


class _Refusal(Exception):
    """An answer other than success, raised from deep in a handler."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


def api_routes(database: Callable[[], Database] | None = None) -> list[Route]:
    """Return the routes of ``/api/v1``; ``database`` returns the database to serve (default:
    the app's, :func:`components.resources.get_database`)."""
    api = _Api(database or _app_database)
    return [
        Route(f"{PREFIX}/health", api.health, methods=["GET"]),
        Route(f"{PREFIX}/openapi.json", api.guarded(_openapi), methods=["GET"]),
        Route(f"{PREFIX}/projects", api.guarded(_projects), methods=["GET"]),
        Route(f"{PREFIX}/projects/{{name}}/import", api.guarded(_import), methods=["POST"]),
        Route(f"{PREFIX}/projects/{{name}}/metrics", api.guarded(api.metrics), methods=["GET"]),
        Route(f"{PREFIX}/projects/{{name}}/exports/{{kind}}", api.guarded(_export),
              methods=["GET"]),
    ]


def _app_database() -> Database:
    # Imported here: components.resources tunes the server's socket on import, which must
    # happen once it listens (it does by the time a request arrives).
    from components.resources import get_database

    return get_database()


class _Api:
    """The routes' shared state: the database, the rate limiter, the metrics cache."""

    def __init__(self, database: Callable[[], Database]) -> None:
        self.database = database
        self.limiter = RateLimiter()
        self.metrics_cache: Any = None  # made at the first metrics request (imports scipy)

    async def health(self, request: Request) -> Response:
        """``GET /health``: 200 once the database answers a query, else 503."""
        def ping() -> None:
            with self.database().read() as session:
                session.execute(text("SELECT 1"))
        try:
            await run_in_threadpool(ping)
        except (OperationalError, OSError) as exc:
            log.warning("API health: the database does not answer: %s", exc)
            return error_response(503, "unavailable", "the database does not answer")
        return json_response({"status": "ok"})

    def guarded(self, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        """Wrap ``handler``: bearer token, rate limit, then the handler, errors as JSON."""
        async def endpoint(request: Request) -> Response:
            try:
                limits = api_limits()
                db = self.database()
                user = await self.authenticate(request, db)
                wait = self.limiter.take(user.token_id, limits.rate_per_minute)
                if wait > 0:
                    return error_response(
                        429, "rate_limited", f"more than {limits.rate_per_minute} requests a "
                        "minute with this token", headers={"Retry-After": retry_after(wait)})
                return await handler(request, user, db)
            except _Refusal as refusal:
                return refusal.response
            except ApiConfigError as exc:
                log.error("API: %s", exc)
                return error_response(500, "misconfigured", str(exc))
            except Exception as exc:  # mapped to a status if known, else re-raised
                response = _known_error(exc)
                if response is None:
                    raise
                return response
        endpoint.__name__ = handler.__name__
        return endpoint

    async def authenticate(self, request: Request, db: Database) -> TokenUser:
        """Return the token's user, or raise a 401 refusal."""
        scheme, _, secret = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            raise _Refusal(error_response(
                401, "unauthorized", "send a personal API token: Authorization: Bearer TOKEN",
                headers={"WWW-Authenticate": "Bearer"}))
        user = await run_in_threadpool(lambda: check_token(db, secret=secret.strip()))
        if user is None:
            raise _Refusal(error_response(
                401, "unauthorized", "the token is unknown or revoked, or its user is "
                "deactivated", headers={"WWW-Authenticate": 'Bearer error="invalid_token"'}))
        return user

    async def metrics(self, request: Request, user: TokenUser, db: Database) -> Response:
        """``GET /projects/{name}/metrics``: the ``cli.py metrics --json`` document."""
        from storage.metrics_document import (
            DEFAULT_RESAMPLES,
            MetricsCache,
            MetricsRequest,
            metrics_document,
        )

        if self.metrics_cache is None:
            self.metrics_cache = MetricsCache()
        query = request.query_params
        metrics_request = MetricsRequest(
            dimension=query.get("dimension") or None,
            binarize_at=query.get("binarize_at") or None,
            n_resamples=_int_param(query.get("bootstrap"), "bootstrap", DEFAULT_RESAMPLES,
                                   lowest=0),
            seed=_int_param(query.get("seed"), "seed", 0, lowest=None))
        result = await run_in_threadpool(lambda: metrics_document(
            db, project_name=request.path_params["name"], request=metrics_request,
            actor=user.user, cache=self.metrics_cache))
        return json_response(result.to_dict())


async def _openapi(request: Request, user: TokenUser, db: Database) -> Response:
    return json_response(openapi_document())


async def _projects(request: Request, user: TokenUser, db: Database) -> Response:
    from storage.project_access import visible_project_summaries

    def read() -> list[dict[str, Any]]:
        with db.read() as session:
            return [line.to_dict() for line in
                    visible_project_summaries(session=session, actor=user.user)]
    return json_response({"projects": await run_in_threadpool(read)})


async def _import(request: Request, user: TokenUser, db: Database) -> Response:
    from core.importing import ON_ERROR_POLICIES, ImportFileError, ImportRejected
    from core.templates import TEMPLATES
    from storage.importer import SAMPLED_OPTIONS, import_file

    query = request.query_params
    task = query.get("task") or None
    on_error = query.get("on_error", "strict")
    sampled = query.get("sampled") or None
    if task is not None and task not in TEMPLATES:
        return error_response(400, "bad_request", f"task: {task!r} is not a built-in template "
                                                  f"({', '.join(TEMPLATES)})")
    if on_error not in ON_ERROR_POLICIES:
        return error_response(400, "bad_request", f"on_error: must be one of "
                                                  f"{', '.join(ON_ERROR_POLICIES)}")
    if sampled not in SAMPLED_OPTIONS:
        return error_response(400, "bad_request", "sampled: only 'uniform' is known")
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    fmt = CONTENT_TYPES.get(media)
    if fmt is None:
        return error_response(400, "bad_request", f"Content-Type {media or '(none)'!r}: send "
                                                  "application/x-ndjson, text/csv or "
                                                  "application/vnd.apache.parquet")
    if user.user.role != ADMIN:  # refuse before reading a large body; the import checks too
        return error_response(403, "forbidden", f"{user.user.name!r} is not an admin: only "
                                                "admins may import")
    folder = Path(tempfile.mkdtemp(prefix="docket-api-import-"))
    try:
        name = f"{request.path_params['name']}.{fmt}"
        path = folder / f"body.{fmt}"
        await _receive_body(request, path, api_limits().max_body_bytes)
        schema = TEMPLATES[task] if task else None
        try:
            batch, summary = await run_in_threadpool(lambda: import_file(
                db, path, project_name=request.path_params["name"], schema=schema,
                on_error=on_error, actor=user.user, name=name, sampled=sampled))
        except ImportFileError as exc:
            return error_response(422, "invalid", str(exc),
                                  problems=[p.to_dict() for p in exc.problems])
        except ImportRejected as exc:
            return error_response(422, "invalid", str(exc).replace(
                "--on-error skip", "on_error=skip"),
                total_records=exc.batch.total_records, rejected_rows=exc.batch.rejected_rows,
                problems=[p.to_dict() for p in exc.batch.problems])
        except UnknownProjectError as exc:
            return error_response(404, "not_found", f"{exc}; to create it, give its task: "
                                                    f"?task=TEMPLATE ({', '.join(TEMPLATES)})")
        return json_response({**summary.to_dict(),
                              "problems": [p.to_dict() for p in batch.problems]})
    finally:
        shutil.rmtree(folder, ignore_errors=True)


async def _receive_body(request: Request, path: Path, limit: int) -> None:
    """Stream the request body to ``path``; raise a 413 refusal once it passes ``limit``."""
    declared = request.headers.get("content-length", "")
    too_large = error_response(413, "too_large", f"the body is larger than {limit:,} bytes "
                                                 "(DOCKET_API_MAX_BODY_BYTES)")
    if declared.isdigit() and int(declared) > limit:
        raise _Refusal(too_large)
    received = 0
    with path.open("wb") as file:
        async for chunk in request.stream():
            received += len(chunk)
            if received > limit:
                raise _Refusal(too_large)
            file.write(chunk)
    if received == 0:
        raise _Refusal(error_response(400, "bad_request", "the body is empty: send the file"))


async def _export(request: Request, user: TokenUser, db: Database) -> Response:
    from core.export.gold import DEFAULT_MIN_LABELS, DEFAULT_POLICY, GoldPolicy
    from core.export.registry import KINDS
    from storage.export import ExportRequest, export_project
    from storage.metrics_document import DEFAULT_RESAMPLES

    kind = request.path_params["kind"]
    if kind not in KINDS:
        return error_response(404, "not_found", f"no export kind {kind!r} "
                                                f"(kinds: {', '.join(KINDS)})")
    query = request.query_params
    fmt = query.get("format") or KINDS[kind].formats[0]
    export_request = ExportRequest(
        kind=kind, fmt=fmt,
        policy=GoldPolicy(query.get("policy") or DEFAULT_POLICY,
                          _int_param(query.get("min_labels"), "min_labels", DEFAULT_MIN_LABELS),
                          _float_param(query.get("min_tau"), "min_tau", None)),
        dimension=query.get("dimension") or None,
        margin=_float_param(query.get("margin"), "margin", 1.0),
        pairs=query.get("pairs") or "all",
        n_resamples=_int_param(query.get("bootstrap"), "bootstrap", DEFAULT_RESAMPLES, lowest=0),
        seed=_int_param(query.get("seed"), "seed", 0, lowest=None))
    folder = Path(tempfile.mkdtemp(prefix="docket-api-export-"))
    file_name = f"{request.path_params['name']}-{kind}.{fmt}"
    try:
        summary = await run_in_threadpool(lambda: export_project(
            db, project_name=request.path_params["name"], request=export_request,
            path=folder / "export", actor=user.user))
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    written = summary.written
    return FileResponse(written.path, filename=_safe_file_name(file_name),
                        media_type=_EXPORT_MEDIA.get(fmt, "application/octet-stream"),
                        headers={"X-Docket-SHA256": written.sha256,
                                 "X-Docket-Rows": str(written.rows),
                                 "Cache-Control": "no-store"},
                        background=BackgroundTask(shutil.rmtree, folder, ignore_errors=True))


_EXPORT_MEDIA = {"jsonl": "application/x-ndjson", "csv": "text/csv",
                 "parquet": "application/vnd.apache.parquet", "html": "text/html",
                 "json": "application/json"}


def _safe_file_name(name: str) -> str:
    return "".join(char if char.isalnum() or char in "._-" else "_" for char in name)


def _int_param(value: str | None, name: str, default: int, *, lowest: int | None = 1) -> int:
    number = _number_param(value, name, default, int, lowest=lowest)
    assert number is not None  # the default is a number
    return int(number)


def _float_param(value: str | None, name: str, default: float | None) -> float | None:
    return _number_param(value, name, default, float, lowest=None)


def _number_param(value: str | None, name: str, default: float | None, kind: type[int | float],
                  *, lowest: int | None) -> float | None:
    """The query parameter ``value`` read as ``kind`` (``default`` when absent); a 400 refusal
    naming ``name`` for text that is not a finite number of that kind or is below ``lowest``."""
    if value is None or value == "":
        return default
    try:
        number = kind(value)
    except ValueError:
        number = None
    finite = number is not None and math.isfinite(number)
    if not finite or (lowest is not None and number < lowest):
        what = "a whole number" if kind is int else "a number"
        floor = f" of at least {lowest}" if lowest is not None else ""
        raise _Refusal(error_response(400, "bad_request",
                                      f"{name}: expected {what}{floor}, got {value!r}"))
    return number


def _known_error(exc: Exception) -> Response | None:
    """The answer to an error a caller can fix from its message; None for a bug."""
    from core.export.writers import ExportError

    if isinstance(exc, NotAllowed):
        return error_response(403, "forbidden", str(exc))
    if isinstance(exc, UnknownProjectError):
        return error_response(404, "not_found", str(exc))
    if isinstance(exc, ProjectError):
        return error_response(409, "conflict", str(exc))
    if isinstance(exc, ExportError | ValueError):
        # MetricsInputError, JuryError, SchemaError, UserError, ExportError: a bad request.
        return error_response(400, "bad_request", str(exc))
    return None
