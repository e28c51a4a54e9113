"""Docket on the command line: create the database, import files, list projects, load the demo.

Every command returns an exit code from :func:`main`; a failure prints lines starting with
``error:`` on stderr (an import rejected by validation first lists its problems: the first
20, then how many more and the file holding all of them).

Start-up stays cheap: each command imports the modules it needs inside its own functions,
and only the arguments of the command being run are declared (:func:`parse`), so ``--help``
and ``projects`` never load what ``metrics`` (scipy) or ``export`` (pyarrow) need.
"""

from __future__ import annotations

import argparse
import getpass
import json
import logging
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.importing import ImportProblem
    from storage.database import Database
    from storage.users import UserInfo

log = logging.getLogger("docket.cli")

# Errors a user can fix from the message alone, by module; anything else is a bug and shows a
# traceback. Named, not imported: an error class whose module was never loaded cannot have
# been raised, so the check needs no import (``core.metrics`` alone costs 0.7 s).
USER_ERRORS: dict[str, tuple[str, ...]] = {
    "core.schema": ("SchemaError",),
    "core.importing.problems": ("ImportFileError",),
    "core.importing.validate": ("ImportRejected",),
    "core.metrics": ("MetricsInputError",),
    "core.export.writers": ("ExportError",),
    "storage.database": ("DatabaseConfigError",),
    "storage.migrations": ("SchemaTooNewError",),
    "storage.projects": ("ProjectError",),
    "storage.export": ("ExportDenied",),
    "storage.authz": ("NotAllowed",),
    "storage.users": ("UserError", "AuthConfigError"),
}


def user_errors() -> tuple[type[BaseException], ...]:
    """Return the classes of :data:`USER_ERRORS` whose modules are loaded, and FileNotFoundError."""
    return (FileNotFoundError, *(getattr(sys.modules[module], name)
                                 for module, names in USER_ERRORS.items() if module in sys.modules
                                 for name in names))


# --- commands --------------------------------------------------------------------------------

def cmd_init(args: argparse.Namespace, db: Database) -> int:
    """Create the database (or upgrade its schema) and say where it is."""
    from storage.migrations import migrate

    before = migrate(db)
    state = "created" if before == 0 else "ready"
    print(f"database {state}: {db!r}")
    return 0


def import_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the arguments of ``import``."""
    from core.importing import FORMAT_OF_EXTENSION, ON_ERROR_POLICIES, PRINTED_PROBLEMS, ImportLimits
    from core.templates import TEMPLATES

    parser.add_argument("file", help=f"a {', '.join(FORMAT_OF_EXTENSION)} file (.json: JSON Lines "
                                     "or one array of objects)")
    parser.add_argument("--project", required=True, help="project name (created if new)")
    parser.add_argument("--task", metavar="TEMPLATE|SCHEMA.toml",
                        help=f"built-in template ({', '.join(TEMPLATES)}) or a schema file; "
                             "required for a new project")
    parser.add_argument("--on-error", choices=ON_ERROR_POLICIES, default="strict",
                        help="strict: write nothing if any row is bad (default); "
                             "skip: write the valid rows and report the others")
    parser.add_argument("--max-text-chars", type=positive_int, default=ImportLimits.max_text_chars,
                        metavar="N", help="longest accepted text value (default %(default)s)")
    parser.add_argument("--max-total-bytes", type=byte_size, default=ImportLimits.max_total_bytes,
                        metavar="SIZE",
                        help="most data a file may hold: its size, and for Parquet its decoded "
                             "size (default 512M; K, M, G suffixes)")
    parser.add_argument("--max-rows", type=positive_int, default=ImportLimits.max_rows, metavar="N",
                        help="most records a file may hold (default %(default)s)")
    parser.add_argument("--report", metavar="PATH", type=Path,
                        help="write every problem to PATH as JSON Lines (default: the file's "
                             "name + .problems.jsonl in the current directory, written only "
                             f"when there are more than {PRINTED_PROBLEMS} problems to list)")


def cmd_import(args: argparse.Namespace, db: Database) -> int:
    """Validate a file and write it into a project (created on first import)."""
    from core.importing import ImportFileError, ImportLimits, ImportRejected, report_file_name
    from core.templates import TEMPLATES, resolve_task
    from storage.authz import OPERATOR
    from storage.importer import import_file
    from storage.migrations import migrate
    from storage.projects import ProjectError, UnknownProjectError

    migrate(db)
    schema = resolve_task(args.task) if args.task else None
    report = ProblemReport(args.report or Path(report_file_name(args.file)),
                           always=args.report is not None)
    limits = ImportLimits(max_text_chars=args.max_text_chars, max_total_bytes=args.max_total_bytes,
                          max_rows=args.max_rows)
    try:
        batch, summary = import_file(db, args.file, project_name=args.project, schema=schema,
                                     on_error=args.on_error, limits=limits, actor=OPERATOR)
    except UnknownProjectError as exc:  # only without --task: the project cannot be created
        raise ProjectError(f"{exc}; to create it, give its task: --task TEMPLATE "
                           f"({', '.join(TEMPLATES)}) or --task SCHEMA.toml") from None
    except ImportFileError as exc:
        report.show(exc.problems, "error")
        return 1
    except ImportRejected as exc:
        report.show(exc.batch.problems, "problem")
        print(f"error: {exc}", file=sys.stderr)
        return 1
    report.show(batch.problems, "skipped")
    print(summary.line())
    if summary.changed_ids:
        shown = ", ".join(summary.changed_ids[:20])
        more = f" (+{summary.updated - 20} more)" if summary.updated > 20 else ""
        print(f"changed rows: {shown}{more}")
    return 0


@dataclass(frozen=True)
class ProblemReport:
    """Where an import's problems go: the first few on stderr, all of them to ``path``.

    The file is written when not every problem fits on the screen, or ``always`` (the user
    named it with ``--report``).
    """

    path: Path
    always: bool = False

    def show(self, problems: Sequence[ImportProblem], prefix: str) -> None:
        """Print the problems on stderr, each line starting with ``prefix:`` (at most
        :data:`core.importing.PRINTED_PROBLEMS`, then the count of the rest and this report)."""
        from core.importing import PRINTED_PROBLEMS, problem_lines, problems_jsonl

        if not problems:
            return
        written = None
        if self.always or len(problems) > PRINTED_PROBLEMS:
            try:
                self.path.write_bytes(problems_jsonl(problems))
                written = str(self.path)
            except OSError as exc:
                print(f"error: cannot write the problem report {self.path}: {exc.strerror}",
                      file=sys.stderr)
        lines = problem_lines(problems, report=written)
        if written and len(problems) <= PRINTED_PROBLEMS:
            lines.append(f"full report: {written}")
        for line in lines:
            print(f"{prefix}: {line}", file=sys.stderr)


def cmd_projects(args: argparse.Namespace, db: Database) -> int:
    """List projects: name, template, items, judges, human labels."""
    from storage.migrations import migrate
    from storage.projects import project_summaries

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
    from storage.authz import OPERATOR
    from storage.demo import load_demo
    from storage.migrations import migrate

    migrate(db)
    for summary in load_demo(db, actor=OPERATOR):
        print(summary.line())
    return 0


def create_user_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the arguments of ``create-user``."""
    from storage.models import ROLES

    parser.add_argument("name", help="user name: letters, digits and . _ @ + -")
    parser.add_argument("--role", required=True, choices=ROLES, help=" or ".join(ROLES))
    parser.add_argument("--display-name", default="", help="name shown in the app (optional)")


def cmd_create_user(args: argparse.Namespace, db: Database) -> int:
    """Create a user; the password is read from stdin (asked for twice on a terminal)."""
    from storage.authz import OPERATOR
    from storage.migrations import migrate
    from storage.users import check_name, check_password, create_user

    migrate(db)
    name = check_name(args.name)
    password = check_password(read_password(f"Password for {name}: "))
    with db.write() as session:
        user = create_user(session=session, name=name, role=args.role, password=password,
                           display_name=args.display_name, actor=OPERATOR)
    print(f"user created: {user.name} ({user.role})")
    return 0


def read_password(prompt: str) -> str:
    """Return a password from stdin: asked for twice without echo on a terminal, else one line.

    Raises :class:`storage.users.UserError` if nothing was given or the two entries differ.
    """
    from storage.users import UserError

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


def metrics_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the arguments of ``metrics``."""
    parser.add_argument("--project", required=True, help="project name")
    parser.add_argument("--dimension", help="dimension to compare (default: the schema's first)")
    parser.add_argument("--binarize-at", metavar="LABEL",
                        help="compare the ordinal (or interval) scale as '>= LABEL' vs '< LABEL'")
    parser.add_argument("--bootstrap", type=int, default=1000, metavar="N",
                        help="bootstrap resamples for the 95%% CIs (default %(default)s; 0: none)")
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed (default %(default)s)")
    parser.add_argument("--jury", type=jury_option, action="append", default=[],
                        metavar="NAME=JUDGE,JUDGE,...",
                        help="a jury of judges (majority/median/mean per item); repeatable")
    parser.add_argument("--json", action="store_true", help="print one JSON document")


def cmd_metrics(args: argparse.Namespace, db: Database) -> int:
    """Agreement of every rater pair, the rater groups, bias and rankings on one dimension."""
    from core.metrics import MetricsInputError, compare_dimension
    from core.metrics.report import format_comparison
    from storage.labels import load_ratings
    from storage.migrations import migrate
    from storage.projects import get_project

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


def audit_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the arguments of ``audit``."""
    parser.add_argument("--project", required=True, help="project name")
    parser.add_argument("--dimension", help="dimension to audit (default: the schema's first)")
    parser.add_argument("--judge", help="audit only this judge (default: every judge)")
    parser.add_argument("--by", metavar="KEY",
                        help="also agreement with the humans per value of group, model or "
                             "meta.KEY (an item metadata key)")
    parser.add_argument("--pair-with", type=pair_option, action="append", default=[],
                        metavar="JUDGE=OTHER",
                        help="OTHER is JUDGE given a reference: report the reference effect "
                             "(paired Δ of the main metric); repeatable")
    parser.add_argument("--bootstrap", type=int, default=1000, metavar="N",
                        help="bootstrap resamples for the 95%% CIs (default %(default)s; 0: none)")
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed (default %(default)s)")
    parser.add_argument("--json", action="store_true", help="print one JSON document")


def pair_option(text: str) -> tuple[str, str]:
    """Parse ``JUDGE=OTHER`` of ``--pair-with``."""
    judge, equals, other = text.partition("=")
    if not equals or not judge.strip() or not other.strip():
        raise argparse.ArgumentTypeError(f"expected JUDGE=OTHER, got {text!r}")
    return judge.strip(), other.strip()


def cmd_audit(args: argparse.Namespace, db: Database) -> int:
    """A bias card per judge (position, length, self-preference, leniency, errors); generator win rates."""
    from core.audit import AuditOptions, audit_dimension
    from core.audit.bias import prepare
    from core.audit.strata import stratified_agreement
    from core.audit.text import format_audit
    from core.metrics import MetricsInputError
    from core.metrics.ratings import CONSENSUS, Categories
    from storage.audit import item_key_values, load_answered, load_audit_inputs
    from storage.migrations import migrate
    from storage.projects import get_project

    migrate(db)
    with db.read() as session:
        project = get_project(session=session, name=args.project)
        name = args.dimension or project.schema.dimension_names[0]
        if name not in project.schema.dimension_names:
            raise MetricsInputError(f"project {project.name!r} has no dimension {name!r} "
                                    f"(dimensions: {', '.join(project.schema.dimension_names)})")
        inputs = load_audit_inputs(session=session, project_id=project.id,
                                   dimension=project.schema.dimension(name))
        item_ids = [str(i) for i in inputs.ratings.item_ids]
        values = (item_key_values(session=session, project_id=project.id, item_ids=item_ids,
                                  key=args.by) if args.by else None)
        answered = load_answered(session=session, project_id=project.id, item_ids=item_ids,
                                 raters=inputs.ratings.raters)
    report = audit_dimension(inputs.ratings, inputs.facts,
                             AuditOptions(args.bootstrap, args.seed, inputs.families, answered,
                                          dict(args.pair_with)),
                             judge=args.judge)
    stratified = None
    if values is not None:
        prepared = prepare(inputs.ratings)
        if CONSENSUS not in prepared.raters:
            raise MetricsInputError("--by needs human labels: agreement is with the human "
                                    "consensus")
        stratified = stratified_agreement(
            prepared, Categories.of(values, len(values)), by=args.by,
            raters=[card.rater for card in report.judges], n_resamples=args.bootstrap,
            seed=args.seed)
    if args.json:
        document = {"project": project.name, **report.to_dict()}
        if stratified is not None:
            document["stratified"] = stratified.to_dict()
        print(json.dumps(document, ensure_ascii=False, allow_nan=False, indent=1))
    else:
        print(format_audit(project.name, report, stratified))
    return 0


def export_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the arguments of ``export``."""
    from core.charts.model import DEFAULT_MIN_PAIR_ITEMS
    from core.export.gold import DEFAULT_MIN_LABELS, POLICIES
    from core.export.registry import FORMATS, KINDS

    parser.add_argument("kind", choices=list(KINDS),
                        help="; ".join(f"{k.name}: {k.description}" for k in KINDS.values()))
    parser.add_argument("--project", required=True, help="project name")
    parser.add_argument("--format", choices=FORMATS,
                        help="jsonl (default), csv or parquet; report: html (default), json, csv")
    parser.add_argument("-o", "--output", required=True, metavar="PATH",
                        help="file to write (replaced atomically); PATH.meta.json gets the "
                             "metadata and SHA-256")
    parser.add_argument("--user",
                        help="an admin's user name; the password is read from stdin "
                             "(may be left out in single-user mode, DOCKET_AUTH=none)")
    parser.add_argument("--policy", choices=POLICIES, default="majority",
                        help="gold: adjudicated only, or adjudicated else unanimous/majority "
                             "of the human labels (default %(default)s)")
    parser.add_argument("--min-labels", type=int, default=DEFAULT_MIN_LABELS, metavar="K",
                        help="human labels an item needs for a unanimous/majority gold "
                             "(default %(default)s)")
    parser.add_argument("--dimension", help="preferences from ratings: the dimension to rank by")
    parser.add_argument("--margin", type=float, default=1.0,
                        help="preferences from ratings: smallest score gap (default %(default)s)")
    parser.add_argument("--jury", type=jury_option, action="append", default=[],
                        metavar="NAME=JUDGE,JUDGE,...", help="labels/report: add a jury")
    parser.add_argument("--bootstrap", type=int, default=1000, metavar="N",
                        help="report: bootstrap resamples (default %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="report: bootstrap seed")
    parser.add_argument("--min-pair-items", type=int, default=DEFAULT_MIN_PAIR_ITEMS, metavar="K",
                        help="report: items two annotators must share to count in the human "
                             "range (default %(default)s)")


def cmd_export(args: argparse.Namespace, db: Database) -> int:
    """Export gold, all labels, preference pairs or the agreement report (admins only)."""
    from core.export.gold import GoldPolicy
    from core.export.registry import KINDS
    from core.metrics import MetricsInputError
    from storage.export import ExportRequest, export_project
    from storage.migrations import migrate

    migrate(db)
    actor = export_user(args.user, db)
    juries = dict(args.jury)
    if len(juries) != len(args.jury):
        raise MetricsInputError("--jury: each jury needs its own name")
    fmt = args.format or KINDS[args.kind].formats[0]
    request = ExportRequest(kind=args.kind, fmt=fmt,
                            policy=GoldPolicy(args.policy, args.min_labels),
                            dimension=args.dimension, margin=args.margin, juries=juries,
                            n_resamples=args.bootstrap, seed=args.seed,
                            min_pair_items=args.min_pair_items)
    summary = export_project(db, project_name=args.project, request=request, path=args.output,
                             actor=actor)
    print(summary.line())
    print(f"metadata: {summary.written.meta_path}")
    return 0


def export_user(name: str | None, db: Database) -> UserInfo:
    """Return who exports: ``name`` signed in with the password read from stdin, or, without
    a name in single-user mode (``DOCKET_AUTH=none``, as the app), the local admin.

    Raises :class:`ExportDenied` for a failed sign-in or a missing ``--user``.
    """
    from storage.export import ExportDenied
    from storage.users import auth_mode, ensure_local_admin, sign_in

    if name is None:
        if auth_mode() != "none":
            raise ExportDenied("exports are for admins only: give --user NAME (the password is "
                               "read from stdin)")
        log.warning("single-user mode (DOCKET_AUTH=none): exporting as the local admin")
        with db.write() as session:
            return ensure_local_admin(session=session)
    result = sign_in(db, name=name, password=read_password(f"Password for {name}: "),
                     client="cli", local=True)
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


# --- registry and parsing ----------------------------------------------------------------------

def no_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare nothing: the command takes no arguments."""


@dataclass(frozen=True)
class Command:
    """A sub-command: its handler (whose docstring's first line is its help) and its arguments."""

    run: Callable[[argparse.Namespace, Database], int]
    arguments: Callable[[argparse.ArgumentParser], None] = no_arguments

    @property
    def help(self) -> str:
        """The one-line description shown by ``--help``."""
        return (self.run.__doc__ or "").splitlines()[0]


COMMANDS: dict[str, Command] = {
    "init": Command(cmd_init),
    "import": Command(cmd_import, import_arguments),
    "projects": Command(cmd_projects),
    "demo": Command(cmd_demo),
    "create-user": Command(cmd_create_user, create_user_arguments),
    "metrics": Command(cmd_metrics, metrics_arguments),
    "audit": Command(cmd_audit, audit_arguments),
    "export": Command(cmd_export, export_arguments),
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """Return the argument parser: every command of :data:`COMMANDS` by name, and the
    arguments (and ``--help``) of ``command`` only (None: of no command)."""
    parser = argparse.ArgumentParser(prog="python cli.py", description=__doc__.splitlines()[0])
    parser.add_argument("--database", metavar="URL",
                        help="database URL (default: $DOCKET_DATABASE_URL or data/docket.db)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, spec in COMMANDS.items():
        sub = commands.add_parser(name, help=spec.help, description=spec.help,
                                  add_help=name == command)
        if name == command:
            spec.arguments(sub)
    return parser


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    """Return the parsed arguments; raises SystemExit as argparse does (usage error, --help).

    Declaring every command's arguments would import what each needs (their choices come from
    the modules that define them), so the command is found first and only its arguments are
    declared for the real parse.
    """
    command = build_parser().parse_known_args(argv)[0].command
    return build_parser(command).parse_args(argv)


def command_names() -> list[str]:
    """Return the names of all sub-commands (the README documents each)."""
    return list(COMMANDS)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one CLI command; return its exit code (0 ok, 1 user error, 2 usage error)."""
    try:
        args = parse(argv)
    except SystemExit as exc:  # argparse exits on usage errors (2) and --help (0)
        return int(exc.code or 0)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        from storage.database import Database, database_url_from_env

        db = Database(args.database or database_url_from_env())
        try:
            return COMMANDS[args.command].run(args, db)
        finally:
            db.dispose()
    except Exception as exc:
        if not isinstance(exc, user_errors()):
            raise
        for line in str(exc).splitlines():
            print(f"error: {line}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
