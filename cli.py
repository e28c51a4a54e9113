"""Docket on the command line: create the database, import files, list projects, load the demo.

Every command returns an exit code from :func:`main`; failures print one line starting with
``error:`` on stderr (an import rejected by validation first lists each problem).
"""

from __future__ import annotations

import argparse
import getpass
import json
import logging
import re
import sys
from collections.abc import Sequence

from core.export.gold import DEFAULT_MIN_LABELS, POLICIES, GoldPolicy
from core.export.registry import FORMATS, KINDS
from core.export.writers import ExportError
from core.importing import ON_ERROR_POLICIES, ImportFileError, ImportLimits, ImportRejected
from core.metrics import MetricsInputError, compare_dimension
from core.metrics.report import format_comparison
from core.schema import SchemaError
from core.templates import TEMPLATES, resolve_task
from storage.database import Database, DatabaseConfigError, database_url_from_env
from storage.demo import load_demo
from storage.export import ExportDenied, ExportRequest, export_project, require_admin
from storage.importer import import_file
from storage.labels import load_ratings
from storage.migrations import SchemaTooNewError, migrate
from storage.projects import ProjectError, get_project, project_summaries
from storage.users import (
    ROLES,
    AuthConfigError,
    UserError,
    UserInfo,
    auth_mode,
    check_name,
    check_password,
    create_user,
    ensure_local_admin,
    sign_in,
)

log = logging.getLogger("docket.cli")

# Errors a user can fix from the message alone; anything else is a bug and shows a traceback.
USER_ERRORS = (SchemaError, ImportFileError, ImportRejected, ProjectError, DatabaseConfigError,
               SchemaTooNewError, FileNotFoundError, MetricsInputError, ExportError, ExportDenied,
               UserError, AuthConfigError)


def cmd_init(args: argparse.Namespace, db: Database) -> int:
    """Create the database (or upgrade its schema) and say where it is."""
    before = migrate(db)
    state = "created" if before == 0 else "ready"
    print(f"database {state}: {db!r}")
    return 0


def cmd_import(args: argparse.Namespace, db: Database) -> int:
    """Validate a file and write it into a project (created on first import)."""
    migrate(db)
    schema = resolve_task(args.task) if args.task else None
    limits = ImportLimits(max_text_chars=args.max_text_chars, max_total_bytes=args.max_total_bytes,
                          max_rows=args.max_rows)
    batch, summary = import_file(db, args.file, project_name=args.project, schema=schema,
                                 on_error=args.on_error, limits=limits)
    for problem in batch.problems:
        print(f"skipped: {problem}", file=sys.stderr)
    print(summary.line())
    if summary.changed_ids:
        shown = ", ".join(summary.changed_ids[:20])
        more = f" (+{summary.updated - 20} more)" if summary.updated > 20 else ""
        print(f"changed rows: {shown}{more}")
    return 0


def cmd_projects(args: argparse.Namespace, db: Database) -> int:
    """List projects: name, template, items, judges, human labels."""
    migrate(db)
    with db.read() as session:
        summaries = project_summaries(session=session)
    if not summaries:
        print("no projects yet: run `python cli.py demo` or `python cli.py import FILE ...`")
        return 0
    width = max(len(s.name) for s in summaries)
    for s in summaries:
        print(f"{s.name:<{width}}  {s.template:<18}  {s.items:>7} items  {s.judges:>3} judges  "
              f"{s.human_labels:>7} human labels")
    return 0


def cmd_demo(args: argparse.Namespace, db: Database) -> int:
    """Load one demo project per built-in template (idempotent)."""
    migrate(db)
    for summary in load_demo(db):
        print(summary.line())
    return 0


def cmd_create_user(args: argparse.Namespace, db: Database) -> int:
    """Create a user; the password is read from stdin (asked for twice on a terminal)."""
    migrate(db)
    try:
        name = check_name(args.name)
        password = check_password(read_password(f"Password for {name}: "))
        with db.write() as session:
            user = create_user(session=session, name=name, role=args.role, password=password,
                               display_name=args.display_name)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"user created: {user.name} ({user.role})")
    return 0


def read_password(prompt: str) -> str:
    """Return a password from stdin: asked for twice without echo on a terminal, else one line.

    Raises :class:`storage.users.UserError` if nothing was given or the two entries differ.
    """
    if sys.stdin.isatty():
        try:
            password = getpass.getpass(prompt)
            if getpass.getpass("Repeat the password: ") != password:
                raise UserError("the two passwords differ")
        except EOFError:
            raise UserError("no password given") from None
        return password
    line = sys.stdin.readline()
    if not line:
        raise UserError("no password on stdin (give it as one line)")
    return line.rstrip("\r\n")


def cmd_metrics(args: argparse.Namespace, db: Database) -> int:
    """Agreement of every rater pair, the rater groups, bias and rankings on one dimension."""
    migrate(db)
    juries = dict(args.jury)
    if len(juries) != len(args.jury):
        raise MetricsInputError("--jury: each jury needs its own name")
    with db.read() as session:
        project = get_project(session=session, name=args.project)
        name = args.dimension or project.schema.dimension_names[0]
        if name not in project.schema.dimension_names:
            raise MetricsInputError(f"project {project.name!r} has no dimension {name!r} "
                                    f"(dimensions: {', '.join(project.schema.dimension_names)})")
        ratings = load_ratings(session=session, project_id=project.id,
                               dimension=project.schema.dimension(name))
    document = {"project": project.name,
                **compare_dimension(ratings, juries=juries, binarize_at=args.binarize_at,
                                    n_resamples=args.bootstrap, seed=args.seed)}
    if args.json:
        print(json.dumps(document, ensure_ascii=False, allow_nan=False, indent=1))
    else:
        print(format_comparison(document))
    return 0


def cmd_export(args: argparse.Namespace, db: Database) -> int:
    """Export gold, all labels, preference pairs or the agreement report (admins only)."""
    migrate(db)
    require_admin(export_user(args.user, db))
    juries = dict(args.jury)
    if len(juries) != len(args.jury):
        raise MetricsInputError("--jury: each jury needs its own name")
    fmt = args.format or KINDS[args.kind].formats[0]
    request = ExportRequest(kind=args.kind, fmt=fmt,
                            policy=GoldPolicy(args.policy, args.min_labels),
                            dimension=args.dimension, margin=args.margin, juries=juries,
                            n_resamples=args.bootstrap, seed=args.seed)
    summary = export_project(db, project_name=args.project, request=request, path=args.output)
    print(summary.line())
    print(f"metadata: {summary.written.meta_path}")
    return 0


def export_user(name: str | None, db: Database) -> UserInfo:
    """Return who exports: ``name`` signed in with the password read from stdin, or, without
    a name in single-user mode (``DOCKET_AUTH=none``, as the app), the local admin.

    Raises :class:`ExportDenied` for a failed sign-in or a missing ``--user``.
    """
    if name is None:
        if auth_mode() != "none":
            raise ExportDenied("exports are for admins only: give --user NAME (the password is "
                               "read from stdin)")
        log.warning("single-user mode (DOCKET_AUTH=none): exporting as the local admin")
        with db.write() as session:
            return ensure_local_admin(session=session)
    result = sign_in(db, name=name, password=read_password(f"Password for {name}: "),
                     client="cli")
    if result.user is None:
        raise ExportDenied(result.message or "sign-in failed")
    return result.user


_BYTE_SIZE = re.compile(r"(\d+)\s*(?:([KMG])(?:i?B)?)?", re.IGNORECASE)
_BYTE_UNITS = {None: 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}


def byte_size(text: str) -> int:
    """argparse type of a size in bytes: ``536870912``, ``512M``, ``2G`` (K, M, G: 1024-based)."""
    found = _BYTE_SIZE.fullmatch(text.strip())
    if found is None or int(found[1]) < 1:
        raise argparse.ArgumentTypeError(
            f"expected a number of bytes such as 536870912 or 512M, got {text!r}")
    return int(found[1]) * _BYTE_UNITS[found[2] and found[2].upper()]


def positive_int(text: str) -> int:
    """argparse type of a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return value


def jury_option(text: str) -> tuple[str, list[str]]:
    """argparse type of ``--jury NAME=judge1,judge2,...`` (at least two judges)."""
    name, equals, members = text.partition("=")
    judges = [judge.strip() for judge in members.split(",") if judge.strip()]
    if not equals or not name.strip() or len(judges) < 2:
        raise argparse.ArgumentTypeError(
            f"expected NAME=judge1,judge2,... with at least two judges, got {text!r}")
    return name.strip(), judges


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser with one sub-command per entry of :data:`COMMANDS`."""
    parser = argparse.ArgumentParser(prog="python cli.py", description=__doc__.splitlines()[0])
    parser.add_argument("--database", metavar="URL",
                        help="database URL (default: $DOCKET_DATABASE_URL or data/docket.db)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    commands.add_parser("init", help=cmd_init.__doc__).set_defaults(handler=cmd_init)

    imp = commands.add_parser("import", help=cmd_import.__doc__)
    imp.add_argument("file", help="a .jsonl, .json (array of objects), .csv or .parquet file")
    imp.add_argument("--project", required=True, help="project name (created if new)")
    imp.add_argument("--task", metavar="TEMPLATE|SCHEMA.toml",
                     help=f"built-in template ({', '.join(TEMPLATES)}) or a schema file; "
                          "required for a new project")
    imp.add_argument("--on-error", choices=ON_ERROR_POLICIES, default="strict",
                     help="strict: write nothing if any row is bad (default); "
                          "skip: write the valid rows and report the others")
    imp.add_argument("--max-text-chars", type=positive_int, default=ImportLimits.max_text_chars,
                     metavar="N", help="longest accepted text value (default %(default)s)")
    imp.add_argument("--max-total-bytes", type=byte_size, default=ImportLimits.max_total_bytes,
                     metavar="SIZE",
                     help="most data a file may hold: its size, and for Parquet its decoded "
                          "size (default 512M; K, M, G suffixes)")
    imp.add_argument("--max-rows", type=positive_int, default=ImportLimits.max_rows, metavar="N",
                     help="most records a file may hold (default %(default)s)")
    imp.set_defaults(handler=cmd_import)

    commands.add_parser("projects", help=cmd_projects.__doc__).set_defaults(handler=cmd_projects)
    commands.add_parser("demo", help=cmd_demo.__doc__).set_defaults(handler=cmd_demo)

    user = commands.add_parser("create-user", help=cmd_create_user.__doc__)
    user.add_argument("name", help="user name: letters, digits and . _ @ + -")
    user.add_argument("--role", required=True, choices=ROLES, help="admin or annotator")
    user.add_argument("--display-name", default="", help="name shown in the app (optional)")
    user.set_defaults(handler=cmd_create_user)

    metrics = commands.add_parser("metrics", help=cmd_metrics.__doc__)
    metrics.add_argument("--project", required=True, help="project name")
    metrics.add_argument("--dimension", help="dimension to compare (default: the schema's first)")
    metrics.add_argument("--binarize-at", metavar="LABEL",
                         help="compare the ordinal (or interval) scale as '>= LABEL' vs '< LABEL'")
    metrics.add_argument("--bootstrap", type=int, default=1000, metavar="N",
                         help="bootstrap resamples for the 95%% CIs (default %(default)s; 0: none)")
    metrics.add_argument("--seed", type=int, default=0, help="bootstrap seed (default %(default)s)")
    metrics.add_argument("--jury", type=jury_option, action="append", default=[],
                         metavar="NAME=JUDGE,JUDGE,...",
                         help="a jury of judges (majority/median/mean per item); repeatable")
    metrics.add_argument("--json", action="store_true", help="print one JSON document")
    metrics.set_defaults(handler=cmd_metrics)

    export = commands.add_parser("export", help=cmd_export.__doc__)
    export.add_argument("kind", choices=list(KINDS),
                        help="; ".join(f"{k.name}: {k.description}" for k in KINDS.values()))
    export.add_argument("--project", required=True, help="project name")
    export.add_argument("--format", choices=FORMATS,
                        help="jsonl (default), csv or parquet; report: html (default), json, csv")
    export.add_argument("-o", "--output", required=True, metavar="PATH",
                        help="file to write (replaced atomically); PATH.meta.json gets the "
                             "metadata and SHA-256")
    export.add_argument("--user",
                        help="an admin's user name; the password is read from stdin "
                             "(may be left out in single-user mode, DOCKET_AUTH=none)")
    export.add_argument("--policy", choices=POLICIES, default="majority",
                        help="gold: adjudicated only, or adjudicated else unanimous/majority "
                             "of the human labels (default %(default)s)")
    export.add_argument("--min-labels", type=int, default=DEFAULT_MIN_LABELS, metavar="K",
                        help="human labels an item needs for a unanimous/majority gold "
                             "(default %(default)s)")
    export.add_argument("--dimension", help="preferences from ratings: the dimension to rank by")
    export.add_argument("--margin", type=float, default=1.0,
                        help="preferences from ratings: smallest score gap (default %(default)s)")
    export.add_argument("--jury", type=jury_option, action="append", default=[],
                        metavar="NAME=JUDGE,JUDGE,...", help="labels/report: add a jury")
    export.add_argument("--bootstrap", type=int, default=1000, metavar="N",
                        help="report: bootstrap resamples (default %(default)s)")
    export.add_argument("--seed", type=int, default=0, help="report: bootstrap seed")
    export.set_defaults(handler=cmd_export)
    return parser


def command_names() -> list[str]:
    """Return the names of all sub-commands (the README documents each)."""
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return list(sub.choices)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one CLI command; return its exit code (0 ok, 1 user error, 2 usage error)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits on usage errors (2) and --help (0)
        return int(exc.code or 0)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        db = Database(args.database or database_url_from_env())
        try:
            return args.handler(args, db)
        finally:
            db.dispose()
    except ImportRejected as exc:
        for problem in exc.batch.problems:
            print(f"problem: {problem}", file=sys.stderr)
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except USER_ERRORS as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
