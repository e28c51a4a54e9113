"""Docket on the command line: create the database, import files, list projects, load the demo,
define and run LLM judges, run the worker that carries out judge runs.

Every command returns an exit code from :func:`main`; a failure prints lines starting with
``error:`` on stderr (an import rejected by validation first lists its problems: the first
20, then how many more and the file holding all of them).

Start-up stays cheap: each command imports the modules it needs inside its own functions,
and only the arguments of the command being run are declared (:func:`parse`), so ``--help``
and ``projects`` never load what ``metrics`` (scipy) or ``export`` (pyarrow) need.
"""

from __future__ import annotations

import argparse
import contextlib
import getpass
import json
import logging
import os
import re
import signal
import sys
import threading
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.importing import ImportProblem
    from storage.database import Database
    from storage.judge_runs import RunInfo
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
    "core.estimate.ppi": ("EstimateError",),
    "core.export.writers": ("ExportError",),
    "storage.database": ("DatabaseConfigError",),
    "storage.migrations": ("SchemaTooNewError",),
    "storage.projects": ("ProjectError",),
    "storage.export": ("ExportDenied",),
    "storage.authz": ("NotAllowed",),
    "storage.users": ("UserError",),
    "storage.auth_mode": ("AuthConfigError",),
    "storage.judges": ("JudgeError",),
    "storage.judge_runs": ("RunError",),
    "core.judges.endpoints": ("EndpointError",),
    "storage.juries": ("JuryError",),
    "storage.debates": ("DebateSetupError",),
    "storage.probes": ("ProbeError",),
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
    parser.add_argument("--sampled", choices=["uniform"],
                        help="declare the file's human-labelled items a uniform random sample "
                             "of the project, so that `estimate` may use their labels")
    parser.add_argument("--images", metavar="ZIP", type=Path,
                        help="a zip holding the images the file's image fields name by path "
                             "(looked up there first, then relative to the file)")


def cmd_import(args: argparse.Namespace, db: Database) -> int:
    """Validate a file and write it into a project (created on first import)."""
    from core.importing import (
        ImageSource,
        ImportFileError,
        ImportLimits,
        ImportRejected,
        report_file_name,
    )
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
        with contextlib.ExitStack() as stack:
            archive = (stack.enter_context(zipfile.ZipFile(args.images))
                       if args.images is not None else None)
            images = ImageSource(base=Path(args.file).resolve().parent, archive=archive)
            batch, summary = import_file(db, args.file, project_name=args.project,
                                         schema=schema, on_error=args.on_error, limits=limits,
                                         actor=OPERATOR, sampled=args.sampled, images=images)
    except zipfile.BadZipFile as exc:
        print(f"error: --images {args.images}: not a zip file ({exc})", file=sys.stderr)
        return 1
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
    from core.metrics import MetricsInputError
    from core.metrics.report import format_comparison
    from storage.authz import OPERATOR
    from storage.metrics_document import MetricsRequest, metrics_document
    from storage.migrations import migrate

    migrate(db)
    given = dict(args.jury)
    if len(given) != len(args.jury):
        raise MetricsInputError("--jury: each jury needs its own name")
    result = metrics_document(db, project_name=args.project, actor=OPERATOR,
                              request=MetricsRequest(dimension=args.dimension,
                                                     binarize_at=args.binarize_at, juries=given,
                                                     n_resamples=args.bootstrap, seed=args.seed))
    for jury in result.dropped_juries:
        print(f"note: jury:{jury} left out: a member judge has no verdict on "
              f"{result.comparison.dimension!r}", file=sys.stderr)
    if args.json:
        print(json.dumps(result.to_dict(), ensure_ascii=False, allow_nan=False, indent=1))
    else:
        print(format_comparison(result.comparison, result.project))
    return 0


def jury_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the arguments of ``jury add|list|remove``."""
    from core.metrics.consensus import JURY_RULES

    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = actions.add_parser("add", help="store a jury of the project's judges")
    add.add_argument("name", help="jury name (letters, digits and ._-); rater jury:NAME")
    add.add_argument("--members", required=True, metavar="JUDGE,JUDGE,...",
                     help="two or more of the project's judges (as in `metrics`: NAME, NAME@v2)")
    add.add_argument("--rule", required=True, choices=JURY_RULES,
                     help="majority (nominal/ordinal), median (ordinal/interval), mean (interval)")
    listing = actions.add_parser("list", help="list the project's juries")
    remove = actions.add_parser("remove", help="delete a jury")
    remove.add_argument("name", help="jury name")
    for sub in (add, listing, remove):
        sub.add_argument("--project", required=True, help="project name")


def cmd_jury(args: argparse.Namespace, db: Database) -> int:
    """Store, list or remove a project's juries (rater jury:NAME in metrics and exports)."""
    from storage.authz import OPERATOR
    from storage.juries import create_jury, delete_jury, list_juries
    from storage.migrations import migrate
    from storage.projects import get_project

    migrate(db)
    if args.action == "list":
        with db.read() as session:
            project = get_project(session=session, name=args.project)
            juries = list_juries(session=session, project_id=project.id)
        if not juries:
            print(f"no juries in {project.name}: add one with `python cli.py jury add`")
        for jury in juries:
            print(f"jury:{jury.name}  {jury.rule} of {', '.join(jury.members)}")
        return 0
    with db.write() as session:
        project = get_project(session=session, name=args.project)
        if args.action == "add":
            jury = create_jury(session=session, project_id=project.id, name=args.name,
                               members=args.members.split(","), rule=args.rule, actor=OPERATOR)
            print(f"jury stored: jury:{jury.name} = {jury.rule} of {', '.join(jury.members)}")
        else:
            delete_jury(session=session, project_id=project.id, name=args.name, actor=OPERATOR)
            print(f"jury removed: {args.name}")
    return 0


def probe_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the actions of ``probe`` (add, generate, run, list, remove)."""
    user_help = ("an admin's user name; the password is read from stdin (may be left out in "
                 "single-user mode, DOCKET_AUTH=none)")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = actions.add_parser("add", help="store paraphrases of an item's question")
    add.add_argument("questions", nargs="+", metavar="QUESTION", help="a paraphrase")
    generate = actions.add_parser("generate", help="have a defined judge's model write "
                                                   "paraphrases of an item's question")
    generate.add_argument("--judge", required=True, help="the LLM judge whose model writes them")
    generate.add_argument("--k", type=int, default=3, help="how many (default %(default)s)")
    run = actions.add_parser("run", help="ask a judge for its verdict on every variant of every "
                                         "probed item (only what is missing)")
    run.add_argument("--judge", required=True, help="judge name (see `judge list`)")
    run.add_argument("--dimension", action="append", metavar="D",
                     help="only this dimension (repeatable; default: all)")
    run.add_argument("--concurrency", type=int, default=4, metavar="C",
                     help="calls at once (default %(default)s)")
    listing = actions.add_parser("list", help="the probed items: variants, verdicts and each "
                                              "judge's label agreement")
    listing.add_argument("--json", action="store_true", help="print one JSON document")
    remove = actions.add_parser("remove", help="delete an item's paraphrases and probe verdicts")
    for sub in (add, generate, run, listing, remove):
        sub.add_argument("--project", required=True, help="project name")
        sub.add_argument("--user", help=user_help)
    for sub in (add, generate, remove):
        sub.add_argument("--item", required=True, help="the item's id (as imported)")
    listing.add_argument("--item", help="only this item (its id as imported)")


def cmd_probe(args: argparse.Namespace, db: Database) -> int:
    """Consistency probes: paraphrase an item's question, run a judge on every wording."""
    from core.audit.probes import label_agreement
    from storage.authz import NotAllowed
    from storage.migrations import migrate
    from storage.probes import (
        add_paraphrases,
        generate_paraphrases,
        item_probes,
        remove_probes,
        run_probes,
    )

    migrate(db)
    actor = admin_user(args.user, db, what="probe commands", denied=NotAllowed)
    if args.action == "add":
        with db.write() as session:
            positions = add_paraphrases(session=session, project=args.project, item=args.item,
                                        questions=args.questions, actor=actor)
        print(f"stored {len(positions)} paraphrase(s) of {args.item} (positions "
              f"{', '.join(map(str, positions))})")
    elif args.action == "generate":
        positions = generate_paraphrases(db, project=args.project, item=args.item,
                                         judge=args.judge, k=args.k, environ=os.environ,
                                         actor=actor)
        print(f"judge {args.judge} wrote {len(positions)} paraphrase(s) of {args.item}")
    elif args.action == "run":
        summary = run_probes(db, project=args.project, judge=args.judge, environ=os.environ,
                             actor=actor, dimensions=args.dimension,
                             concurrency=args.concurrency)
        print(f"{summary.judge}: {summary.stored} of {summary.asked} verdicts stored "
              f"({summary.unparseable} unparseable), {summary.failed} failed")
        if summary.failed:
            print(f"first error: {summary.first_error}; run again to retry", file=sys.stderr)
            return 1
    elif args.action == "remove":
        with db.write() as session:
            removed = remove_probes(session=session, project=args.project, item=args.item,
                                    actor=actor)
        print(f"removed {removed} paraphrase(s) of {args.item} and their verdicts")
    else:
        with db.read() as session:
            probes = item_probes(session=session, project=args.project, item=args.item)
        if args.json:
            document = {"project": args.project, "items": [probe.to_dict() for probe in probes]}
            print(json.dumps(document, ensure_ascii=False, allow_nan=False, indent=1))
            return 0
        if not probes:
            print(f"no probed item in {args.project}: add paraphrases with `probe add`")
        for probe in probes:
            print(f"{probe.external_id}")
            for position, question, source in probe.variants:
                print(f"  [{position}] ({source}) {question}")
            for rater, by_dimension in probe.verdicts.items():
                for dimension, verdicts in by_dimension.items():
                    labels = [v.label for v in verdicts]
                    agreement = label_agreement(labels)
                    shown = "—" if agreement is None else f"{agreement:.2f}"
                    print(f"  {rater} · {dimension}: "
                          + ", ".join(f"[{v.position}] {v.label or 'unparseable'}"
                                      for v in verdicts)
                          + f"; label agreement {shown}")
    return 0


def debate_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the arguments of ``debate add|list|run``."""
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = actions.add_parser("add", help="store a debate of two defined judges")
    add.add_argument("name", help="debate name (letters, digits and ._-); rater debate:NAME")
    add.add_argument("--a", required=True, metavar="JUDGE", help="debater A (speaks first)")
    add.add_argument("--b", required=True, metavar="JUDGE", help="debater B")
    add.add_argument("--rounds", type=positive_int, default=2, metavar="R",
                     help="rounds of arguments (default %(default)s)")
    add.add_argument("--decider", metavar="JUDGE",
                     help="the judge who gives the final verdict (default: debater A)")
    listing = actions.add_parser("list", help="list the project's debates")
    run = actions.add_parser("run", help="carry out a debate over the project's items (resumes: "
                                         "only what is missing)")
    run.add_argument("name", help="debate name")
    run.add_argument("--limit", type=positive_int, metavar="N",
                     help="at most N items (a fixed random sample)")
    run.add_argument("--only-with-humans", action="store_true",
                     help="only items with human labels")
    run.add_argument("--concurrency", type=positive_int, default=8, metavar="C",
                     help="debates at once (default %(default)s)")
    for sub in (add, listing, run):
        sub.add_argument("--project", required=True, help="project name")


def cmd_debate(args: argparse.Namespace, db: Database) -> int:
    """Store, list or run a project's debates (two judges argue; rater debate:NAME)."""
    import os

    from storage.authz import OPERATOR
    from storage.debates import create_debate, enqueue_debate, list_debates
    from storage.judge_runs import execute_run
    from storage.judge_worker import worker_name
    from storage.migrations import migrate
    from storage.projects import get_project

    migrate(db)
    if args.action == "list":
        with db.read() as session:
            project = get_project(session=session, name=args.project)
            debates = list_debates(session=session, project_id=project.id)
        if not debates:
            print(f"no debates in {project.name}: add one with `python cli.py debate add`")
        for debate in debates:
            print(f"{debate.judge_row}  {debate.debater_a} vs {debate.debater_b}, "
                  f"{debate.rounds} rounds, decided by {debate.setup.decider}")
        return 0
    worker = worker_name("cli")
    with db.write() as session:
        project = get_project(session=session, name=args.project)
        if args.action == "add":
            debate = create_debate(session=session, project_id=project.id, name=args.name,
                                   debater_a=args.a, debater_b=args.b, rounds=args.rounds,
                                   decider=args.decider, actor=OPERATOR)
            print(f"debate stored: {debate.judge_row} = {debate.debater_a} vs "
                  f"{debate.debater_b}, {debate.rounds} rounds, decided by "
                  f"{debate.setup.decider}")
            return 0
        run_id = enqueue_debate(session=session, project_id=project.id, name=args.name,
                                limit=args.limit, only_with_humans=args.only_with_humans,
                                concurrency=args.concurrency, claimed_by=worker, actor=OPERATOR)
    info = execute_run(db, run_id, worker=worker, environ=os.environ,
                       on_progress=lambda progress: print(progress.line(), file=sys.stderr))
    print(info.line())
    return 0 if info.status == "done" else 1


def estimate_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the arguments of ``estimate``."""
    parser.add_argument("--project", required=True, help="project name")
    parser.add_argument("--judge", required=True,
                        help="the judge whose verdicts (mean over its samples), or the --jury "
                             "whose verdicts, power the estimate")
    parser.add_argument("--jury", type=jury_option, action="append", default=[],
                        metavar="NAME=JUDGE,JUDGE,...",
                        help="a jury of judges (majority/median/mean per item), with its own "
                             "label budget; repeatable")
    parser.add_argument("--dimension", help="dimension to estimate (default: the schema's first)")
    parser.add_argument("--binarize-at", metavar="LABEL",
                        help="estimate the share of items at '>= LABEL' (ordinal or interval)")
    parser.add_argument("--by", choices=["model", "group"],
                        help="one estimate per model or group (besides the overall one)")
    parser.add_argument("--target-halfwidth", type=float, metavar="W",
                        help="CI half-width the label budgets aim at (default: the project's "
                             "setting, ±0.05 unless changed)")
    parser.add_argument("--bootstrap", type=int, default=1000, metavar="N",
                        help="bootstrap resamples for the judges' kappa intervals "
                             "(default %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed (default %(default)s)")
    parser.add_argument("--json", action="store_true", help="print one JSON document")


def cmd_estimate(args: argparse.Namespace, db: Database) -> int:
    """Each model's human-level score: PPI++ estimate beside the classical one, label budgets."""
    from core.estimate.report import estimates_not_applicable, format_report
    from storage.estimates import estimate
    from storage.juries import list_juries
    from storage.migrations import migrate
    from storage.projects import get_project

    migrate(db)
    with db.read() as session:
        project = get_project(session=session, name=args.project)
        name = args.dimension or project.schema.dimension_names[0]
        if name in project.schema.dimension_names:
            not_applicable = estimates_not_applicable(name, project.schema.dimension(name).scale)
            if not_applicable is not None:  # a ranking: say so, as the Dashboard does
                print(json.dumps({"project": project.name,
                                  "not_applicable": not_applicable.to_dict()},
                                 ensure_ascii=False, indent=1)
                      if args.json else not_applicable.sentence())
                return 0
        # The project's stored juries, then the ones given here (a name given wins).
        juries = {info.name: info.jury for info in list_juries(session=session,
                                                              project_id=project.id)}
        report = estimate(session=session, project=project, judge=args.judge,
                          dimension=args.dimension, binarize_at=args.binarize_at, by=args.by,
                          target=args.target_halfwidth, n_resamples=args.bootstrap,
                          seed=args.seed, juries={**juries, **dict(args.jury)})
    if args.json:
        print(json.dumps(report.to_dict(), ensure_ascii=False, allow_nan=False, indent=1))
    else:
        print(format_report(report))
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
    import numpy as np

    from core.audit import AuditOptions, audit_dimension
    from core.audit.bias import prepare
    from core.audit.strata import stratified_agreement
    from core.audit.text import format_audit
    from core.metrics import MetricsInputError
    from core.metrics.consistency import self_consistency
    from core.metrics.ratings import CONSENSUS, Categories
    from storage.audit import item_key_values, load_answered, load_audit_inputs
    from storage.error_tags import error_taxonomy
    from storage.migrations import migrate
    from storage.probes import probe_items
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
        taxonomy = error_taxonomy(session=session, project_id=project.id, dimension=name)
        answered = load_answered(session=session, project_id=project.id, item_ids=item_ids,
                                 raters=inputs.ratings.raters)
        probes = probe_items(session=session, project_id=project.id, dimension=name)
    report = audit_dimension(inputs.ratings, inputs.facts,
                             AuditOptions(args.bootstrap, args.seed, inputs.families, answered,
                                          dict(args.pair_with), probes),
                             judge=args.judge)
    if report.not_applicable is not None:  # a ranking: no strata, no self-consistency either
        print(json.dumps({"project": project.name, **report.to_dict()}, ensure_ascii=False,
                         indent=1) if args.json else format_audit(project.name, report))
        return 0
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
    dimension = project.schema.dimension(name)
    consistency = {rater: self_consistency(rater, matrix, dimension, n_resamples=args.bootstrap,
                                           rng=np.random.default_rng(args.seed))
                   for rater, matrix in inputs.samples.items()}
    if args.json:
        document = {"project": project.name, **report.to_dict()}
        for entry in document["judges"]:
            found = consistency.get(entry["rater"])
            entry["self_consistency"] = found.to_dict() if found is not None else {
                "value": None, "undefined": "one sample per item: run the judge with "
                                            "--samples K (K >= 2) to measure it"}
        document["error_taxonomy"] = taxonomy.to_dict()
        if stratified is not None:
            document["stratified"] = stratified.to_dict()
        print(json.dumps(document, ensure_ascii=False, allow_nan=False, indent=1))
    else:
        print(format_audit(project.name, report, stratified))
        for entry in consistency.values():
            results = ", ".join(f"{metric} {result.value:.3f}" for metric, result
                                in entry.results.items() if result.value is not None)
            print(f"self-consistency of {entry.rater} over {entry.samples} samples "
                  f"({entry.items} items): {results or 'undefined'}")
        for judge in taxonomy.judges:
            counts = ", ".join(f"{category} {n}" for category, n in judge.counts if n)
            print(f"error taxonomy of {judge.rater} ({judge.tagged_verdicts} tagged): {counts}")
    return 0


def export_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the arguments of ``export``."""
    from core.charts.model import DEFAULT_MIN_PAIR_ITEMS
    from core.export.gold import DEFAULT_MIN_LABELS, POLICIES
    from core.export.preferences import PAIRS
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
                             "(rankings: human orders for a Borda gold; default %(default)s)")
    parser.add_argument("--min-tau", type=float, metavar="T",
                        help="rankings: least mean pairwise Kendall tau-b of an item's human "
                             "orders for a Borda gold (default: no floor)")
    parser.add_argument("--dimension", help="preferences from ratings: the dimension to rank by")
    parser.add_argument("--margin", type=float, default=1.0,
                        help="preferences from ratings: smallest score gap (default %(default)s)")
    parser.add_argument("--pairs", choices=PAIRS, default="all",
                        help="preferences from rankings: every implied pair of the gold order "
                             "or adjacent ones only (default %(default)s)")
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
                            policy=GoldPolicy(args.policy, args.min_labels, args.min_tau),
                            dimension=args.dimension, margin=args.margin, pairs=args.pairs,
                            juries=juries,
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

    return admin_user(name, db, what="exports", denied=ExportDenied)


def admin_user(name: str | None, db: Database, *, what: str,
               denied: type[Exception]) -> UserInfo:
    """Return the admin acting: ``name`` signed in with the password read from stdin, or,
    without a name in single-user mode (``DOCKET_AUTH=none``, as the app), the local admin.

    Raises ``denied`` for a failed sign-in or a missing ``--user`` (``what`` names what is
    refused, e.g. "exports"). Whether the user is an admin is checked by the storage function
    acting, inside its transaction.
    """
    from storage.auth_mode import auth_mode
    from storage.sign_in import sign_in
    from storage.users import ensure_local_admin

    if name is None:
        if auth_mode() != "none":
            raise denied(f"{what} are for admins only: give --user NAME (the password is "
                         "read from stdin)")
        log.warning("single-user mode (DOCKET_AUTH=none): acting as the local admin")
        with db.write() as session:
            return ensure_local_admin(session=session)
    result = sign_in(db, name=name, password=read_password(f"Password for {name}: "),
                     client="cli", local=True)
    if result.user is None:
        raise denied(result.message or "sign-in failed")
    return result.user


def token_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the actions of ``token`` (create, list, revoke) and their arguments."""
    actions = parser.add_subparsers(dest="token_command", required=True, metavar="ACTION")
    user_help = ("who acts: a user name, the password is read from stdin (may be left out in "
                 "single-user mode, DOCKET_AUTH=none)")
    create = actions.add_parser("create", help="create a personal API token (printed once)")
    create.add_argument("--name", default="", metavar="LABEL",
                        help="what the token is for (default: 'cli.py' and today's date)")
    create.add_argument("--for", dest="owner", metavar="USER",
                        help="an admin creates the token for USER (default: for --user)")
    listing = actions.add_parser("list", help="list API tokens (an admin sees everyone's)")
    revoke = actions.add_parser("revoke", help="revoke an API token at once")
    revoke.add_argument("id", type=positive_int, help="the token's id (see `token list`)")
    for sub in (create, listing, revoke):
        sub.add_argument("--user", help=user_help)


def cmd_token(args: argparse.Namespace, db: Database) -> int:
    """Create, list or revoke personal tokens of the HTTP API (/api/v1)."""
    from datetime import date

    from storage.api_tokens import create_token, list_tokens, revoke_token
    from storage.authz import NotAllowed
    from storage.migrations import migrate
    from storage.users import UserError, find_user

    migrate(db)
    actor = admin_user(args.user, db, what="token commands", denied=NotAllowed)
    if args.token_command == "create":
        with db.write() as session:
            owner = actor
            if args.owner is not None:
                owner = find_user(session=session, name=args.owner)
                if owner is None:
                    raise UserError(f"--for: no user named {args.owner!r}")
            new = create_token(session=session, user_id=owner.id, actor=actor,
                               name=args.name or f"cli.py {date.today().isoformat()}")
        print(f"token {new.info.id} for {new.info.user_name} ({new.info.name}); shown once, "
              "keep it secret:", file=sys.stderr)
        print(new.secret)
        return 0
    if args.token_command == "revoke":
        with db.write() as session:
            info = revoke_token(session=session, token_id=args.id, actor=actor)
        print(f"token {info.id} of {info.user_name} ({info.name}) revoked")
        return 0
    with db.read() as session:
        tokens = list_tokens(session=session,
                             user_id=None if actor.role == "admin" else actor.id)
    if not tokens:
        print("no API tokens yet: create one with `python cli.py token create`")
    for token in tokens:
        used = f"{token.last_used_at:%Y-%m-%d %H:%M}" if token.last_used_at else "never"
        state = f"revoked {token.revoked_at:%Y-%m-%d %H:%M}" if token.revoked_at else "active"
        print(f"{token.id:>4}  {token.user_name}  {token.name}  created "
              f"{token.created_at:%Y-%m-%d %H:%M}  last used {used}  {state}")
    return 0


# --- judges ------------------------------------------------------------------------------------

# The settings of storage.judges.JudgeSpec by the flag that sets them, so a refusal names the
# flag the user typed rather than the field behind it.
JUDGE_FLAGS = {"base_url": "--base-url", "model": "--model", "api_key_env": "--api-key-env",
               "temperature": "--temperature", "max_tokens": "--max-tokens", "seed": "--seed",
               "timeout": "--timeout", "price_input_per_million": "--price-input",
               "price_output_per_million": "--price-output", "strategy": "--strategy",
               "lexical": "--lexical", "family": "--family", "size": "--size",
               "provider": "--provider", "vision": "--vision", "name": "NAME",
               "samples": "--samples",
               "concurrency": "--concurrency", "limit": "--limit", "swap": "--swap"}
_SETTING = re.compile(r"(?<![\w-])(" + "|".join(sorted(JUDGE_FLAGS, key=len, reverse=True))
                      + r"):")


def flag_message(message: str) -> str:
    """``message`` with each ``setting:`` of a judge or run option named by its CLI flag."""
    return _SETTING.sub(lambda found: JUDGE_FLAGS[found[1]] + ":", message)


def judge_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the actions of ``judge`` (add, list, run) and their arguments."""
    from core.judges.lexical import LEXICAL_JUDGES
    from core.judges.prompting import STRATEGIES
    from storage.judge_runs import MAX_CONCURRENCY, MAX_SAMPLES

    actions = parser.add_subparsers(dest="judge_command", required=True, metavar="ACTION")
    user_help = ("an admin's user name; the password is read from stdin (may be left out in "
                 "single-user mode, DOCKET_AUTH=none)")
    add = actions.add_parser("add", help="define a judge: an OpenAI-compatible endpoint and "
                                         "model, or an offline lexical judge",
                             description="Define a judge. The API key is never given here: "
                                         "--api-key-env names the variable that holds it.")
    add.add_argument("name", metavar="NAME", help="judge name: letters, digits and ._-")
    add.add_argument("--base-url", metavar="URL",
                     help="the endpoint's base URL (http:// or https://), e.g. "
                          "http://127.0.0.1:8000/v1")
    add.add_argument("--model", help="the model name the endpoint expects")
    add.add_argument("--strategy", choices=list(STRATEGIES), default="direct",
                     help="shipped prompt strategy, the judge's prompt v1 (default %(default)s)")
    add.add_argument("--reference", action="store_true",
                     help="reference-guided: the prompt shows the item's reference answer (the "
                          "adjudicated gold reference where there is one)")
    add.add_argument("--api-key-env", metavar="VAR",
                     help="the NAME of the environment variable (or Streamlit secret, for the "
                          "app) holding the API key; leave out for endpoints needing none")
    add.add_argument("--temperature", type=float, default=0.0,
                     help="sampling temperature, 0 to 2 (default %(default)s)")
    add.add_argument("--max-tokens", type=positive_int, default=1024, metavar="N",
                     help="most tokens per answer (default %(default)s)")
    add.add_argument("--seed", type=int, help="sampling seed where the endpoint supports it "
                                              "(sample k uses seed + k)")
    add.add_argument("--timeout", type=float, default=60.0, metavar="SECONDS",
                     help="seconds per call before it is retried (default %(default)s)")
    add.add_argument("--price-input", type=float, metavar="PRICE",
                     help="price per million input tokens, for the cost estimate")
    add.add_argument("--price-output", type=float, metavar="PRICE",
                     help="price per million output tokens, for the cost estimate")
    add.add_argument("--vision", action="store_true",
                     help="the model reads images: only such a judge runs on projects with image "
                          "fields (their images are sent as image_url parts with data: URIs)")
    add.add_argument("--family", help="model family, for the audit (e.g. llama)")
    add.add_argument("--size", help="model size, for the audit (e.g. 70B)")
    add.add_argument("--provider", help="provider, for the audit (e.g. vLLM on our server)")
    add.add_argument("--lexical", choices=list(LEXICAL_JUDGES),
                     help="an offline lexical judge instead of an endpoint (correctness tasks: "
                          "the response against the reference and its aliases)")
    add.add_argument("--user", help=user_help)
    listing = actions.add_parser("list", help="list the judges (the API key's variable name and "
                                              "whether it is set here, never the key)")
    listing.add_argument("--user", help=user_help)
    run = actions.add_parser("run", help="run a judge over a project here, with a progress line; "
                                         "Ctrl-C cancels (what was written is kept)")
    run.add_argument("--project", required=True, help="project name")
    run.add_argument("--judge", required=True, help="judge name (see `judge list`)")
    run.add_argument("--samples", type=int, default=1, metavar="K",
                     help=f"verdicts per item and dimension, 1 to {MAX_SAMPLES} (default 1)")
    run.add_argument("--swap", action="store_true",
                     help="pairwise tasks: also run with response A and B exchanged, stored as "
                          "NAME@swapped")
    run.add_argument("--limit", type=int, metavar="N",
                     help="at most N items, a random sample (the same on every rerun)")
    run.add_argument("--only-with-humans", action="store_true",
                     help="only the items with a human label")
    run.add_argument("--concurrency", type=int, default=8, metavar="C",
                     help=f"calls at once, 1 to {MAX_CONCURRENCY} (default %(default)s)")
    run.add_argument("--user", help=user_help)
    runs = actions.add_parser("runs", help="list a project's judge runs, newest first, with "
                                           "their status and progress")
    runs.add_argument("--project", required=True, help="project name")
    runs.add_argument("--limit", type=positive_int, default=20, metavar="N",
                      help="at most N runs (default %(default)s)")
    runs.add_argument("--json", action="store_true", help="one JSON document instead of lines")
    runs.add_argument("--user", help=user_help)
    cancel = actions.add_parser("cancel", help="ask a run to stop (the worker carrying it out "
                                               "finishes the calls in flight; a queued run "
                                               "ends at once)")
    cancel.add_argument("run_id", metavar="RUN", type=positive_int,
                        help="the run's number (see `judge runs`)")
    cancel.add_argument("--user", help=user_help)
    answer = actions.add_parser("answer", help="ask the judge's model each question it judged "
                                               "and grade its answer against the reference "
                                               "(the audit's 'could it answer?' split)")
    answer.add_argument("--project", required=True, help="project name")
    answer.add_argument("--judge", required=True, help="judge name (see `judge list`)")
    answer.add_argument("--grader", choices=list(LEXICAL_JUDGES), default="contains",
                        help="the lexical judge that grades the answer (default %(default)s)")
    answer.add_argument("--limit", type=int, metavar="N", help="at most N questions")
    answer.add_argument("--concurrency", type=int, default=4, metavar="C",
                        help="calls at once (default %(default)s)")
    answer.add_argument("--user", help=user_help)


def cmd_judge(args: argparse.Namespace, db: Database) -> int:
    """Define, list and run LLM judges and lexical judges (admins only)."""
    from storage.authz import NotAllowed
    from storage.migrations import migrate

    migrate(db)
    actor = admin_user(args.user, db, what="judge commands", denied=NotAllowed)
    if actor.role != "admin":  # `judge list` writes nothing that would check it
        raise NotAllowed(f"judge commands are for admins only: {actor.name} is {actor.role}")
    action = {"add": judge_add, "list": judge_list, "run": judge_run, "runs": judge_runs,
              "cancel": judge_cancel, "answer": judge_answer}[args.judge_command]
    return action(args, db, actor)


def judge_add(args: argparse.Namespace, db: Database, actor: UserInfo) -> int:
    """Store the judge ``judge add`` describes; refusals name the flag."""
    from storage.judges import JudgeError, JudgeSpec, create_judge

    if args.lexical:
        endpoint_flags = [flag for flag, value in (("--base-url", args.base_url),
                                                   ("--model", args.model),
                                                   ("--api-key-env", args.api_key_env))
                          if value is not None]
        if endpoint_flags:
            raise JudgeError(f"--lexical: a lexical judge calls no endpoint; leave out "
                             f"{', '.join(endpoint_flags)}")
        spec = JudgeSpec(name=args.name, kind="lexical", lexical=args.lexical)
    else:
        missing = [flag for flag, value in (("--base-url", args.base_url), ("--model", args.model))
                   if not value]
        if missing:
            raise JudgeError(f"{' and '.join(missing)}: required for an LLM judge (or give "
                             "--lexical for an offline one)")
        spec = JudgeSpec(name=args.name, base_url=args.base_url, model=args.model,
                         api_key_env=args.api_key_env, temperature=args.temperature,
                         max_tokens=args.max_tokens, seed=args.seed, timeout_s=args.timeout,
                         price_input_per_million=args.price_input,
                         price_output_per_million=args.price_output, strategy=args.strategy,
                         reference_guided=args.reference, vision=args.vision,
                         family=args.family, size=args.size, provider=args.provider)
    try:
        with db.write() as session:
            judge = create_judge(session=session, spec=spec, actor=actor)
    except JudgeError as exc:
        raise JudgeError(flag_message(str(exc))) from None
    print(f"judge added: {judge_line(judge.spec)}")
    return 0


def judge_line(spec: object) -> str:
    """One line about a judge: name, what it calls, strategy, key variable, prices, metadata."""
    from storage.judges import JudgeSpec

    assert isinstance(spec, JudgeSpec)
    if spec.kind == "lexical":
        return f"{spec.name}  lexical {spec.lexical} (offline)"
    key = ("API key: none needed" if spec.api_key_env is None else
           f"API key: ${spec.api_key_env} "
           f"({'set' if os.environ.get(spec.api_key_env, '').strip() else 'not set'} here)")
    strategy = spec.strategy + (" + reference" if spec.reference_guided else "")
    parts = [f"{spec.name}  {spec.model} at {spec.base_url}", f"strategy {strategy}", key,
             f"temperature {spec.temperature}", f"max tokens {spec.max_tokens}"]
    if spec.seed is not None:
        parts.append(f"seed {spec.seed}")
    if spec.vision:
        parts.append("vision")
    if spec.price_input_per_million is not None or spec.price_output_per_million is not None:
        parts.append(f"prices per million tokens {spec.price_input_per_million} in / "
                     f"{spec.price_output_per_million} out")
    about = " ".join(value for value in (spec.family, spec.size, spec.provider) if value)
    if about:
        parts.append(about)
    return "; ".join(parts)


def judge_list(args: argparse.Namespace, db: Database, actor: UserInfo) -> int:
    """Print one line per judge; never a key, only its variable's name and whether it is set."""
    from storage.judges import list_judges

    with db.read() as session:
        judges = list_judges(session=session)
    if not judges:
        print("no judges yet: add one with `python cli.py judge add NAME --base-url URL "
              "--model MODEL`")
    for judge in judges:
        print(judge_line(judge.spec))
    return 0


def judge_answer(args: argparse.Namespace, db: Database, actor: UserInfo) -> int:
    """Ask the judge's model the questions and store whether it answered them correctly.

    Returns 0 when every call succeeded, 1 when some failed (a rerun retries them)."""
    from storage.own_answers import answer_questions

    summary = answer_questions(db, project=args.project, judge=args.judge, environ=os.environ,
                               actor=actor, grader=args.grader, limit=args.limit,
                               concurrency=args.concurrency)
    print(f"{summary.judge}: asked {summary.asked} question(s): {summary.correct} answered "
          f"correctly, {summary.incorrect} not ({args.grader}), {summary.failed} failed; "
          f"{summary.without_reference} without a reference or question left out")
    if summary.failed:
        print(f"first error: {summary.first_error}; run again to retry", file=sys.stderr)
        return 1
    return 0


def judge_run(args: argparse.Namespace, db: Database, actor: UserInfo) -> int:
    """Queue a run and carry it out in this process, printing its progress on stderr.

    Ctrl-C (or SIGTERM) asks the run to stop: the calls in flight finish, what finished is
    kept; a second Ctrl-C stops at once. Returns 0 when every verdict is stored, 1 when the run
    failed or calls failed (the message says why), 130 when it was cancelled.
    """
    from storage.judge_runs import (
        RunError,
        RunOptions,
        claim_run,
        enqueue_run,
        execute_run,
        request_cancel,
    )
    from storage.judge_worker import worker_name
    from storage.judges import JudgeError
    from storage.projects import get_project

    options = RunOptions(samples=args.samples, swap=args.swap, limit=args.limit,
                         only_with_humans=args.only_with_humans, concurrency=args.concurrency)
    try:
        with db.write() as session:
            project = get_project(session=session, name=args.project)
            run = enqueue_run(session=session, project_id=project.id, judge_name=args.judge,
                              options=options, actor=actor)
    except (RunError, JudgeError) as exc:
        raise type(exc)(flag_message(str(exc))) from None
    version = f" with prompt v{run.prompt_version}" if run.prompt_version else ""
    print(f"run {run.id} of {run.judge}{version} on {project.name}: queued", file=sys.stderr)
    progress = ProgressLine()

    def cancel() -> None:
        with db.write() as session:
            request_cancel(session=session, run_id=run.id, actor=actor)

    worker = worker_name("cli")
    with interrupts(cancel, "cancelling: the calls in flight finish, what is written is kept "
                            "(Ctrl-C again to stop at once)"):
        if claim_run(db, worker=worker, run_id=run.id) == run.id:
            info = execute_run(db, run.id, worker=worker, environ=os.environ,
                               on_progress=progress.show)
        else:  # a worker took it first (the app's, or `cli.py worker`): follow it
            info = follow_run(db, run.id, progress)
    progress.end()
    print(info.line())
    if info.status == "cancelled":
        return 130
    if info.status != "done" or info.done < info.total:
        state = "failed: " if info.status == "failed" else ""
        print(f"error: run {info.id} of {info.judge}: {state}{info.message or 'see the log'}",
              file=sys.stderr)
        return 1
    return 0


def judge_runs(args: argparse.Namespace, db: Database, actor: UserInfo) -> int:
    """Print the project's runs, newest first (``--json``: one document)."""
    from storage.judge_runs import project_runs
    from storage.projects import get_project

    with db.read() as session:
        project = get_project(session=session, name=args.project)
        runs = project_runs(session=session, project_id=project.id, limit=args.limit)
    if args.json:
        print(json.dumps({"project": project.name, "runs": [run.to_dict() for run in runs]},
                         ensure_ascii=False, indent=2))
    elif not runs:
        print(f"no judge runs on {project.name} yet: start one with `python cli.py judge run "
              f"--project {project.name} --judge NAME`")
    for run in [] if args.json else runs:
        started = run.created_at.strftime("%Y-%m-%d %H:%M")
        print(f"{started}  {run.line()}" + ("  (stop requested)" if run.cancel_requested
                                            and run.status == "running" else ""))
    return 0


def judge_cancel(args: argparse.Namespace, db: Database, actor: UserInfo) -> int:
    """Ask run ``RUN`` to stop and print its line; 0 even when it had already ended (the
    line says how)."""
    from storage.judge_runs import request_cancel

    with db.write() as session:
        info = request_cancel(session=session, run_id=args.run_id, actor=actor)
    print(info.line() + ("; stop requested: the worker finishes the calls in flight"
                         if info.status == "running" else ""))
    return 0


def follow_run(db: Database, run_id: int, progress: ProgressLine) -> RunInfo:
    """Show the progress of a run another worker carries out until it ends; return it."""
    import time

    from storage.judge_runs import run_info

    while True:
        with db.read() as session:
            info = run_info(session=session, run_id=run_id)
        if info.status not in ("queued", "running"):
            return info
        progress.show(info)
        time.sleep(1.0)


class ProgressLine:
    """The run's progress on stderr: one line redrawn in place on a terminal, else a line
    per update (at most one a second: the run reports after each written batch)."""

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()
        self.drawn = False
        self.last = ""

    def show(self, info: RunInfo) -> None:
        """Draw ``info``'s line (not again when nothing changed: the heartbeat reports too)."""
        line = info.line()
        if line == self.last:
            return
        self.last = line
        if self.tty:
            sys.stderr.write("\r\x1b[K" + line)
            self.drawn = True
        else:
            sys.stderr.write(line + "\n")
        sys.stderr.flush()

    def end(self) -> None:
        """End the redrawn line (a terminal)."""
        if self.drawn:
            sys.stderr.write("\n")
            sys.stderr.flush()


@contextlib.contextmanager
def interrupts(on_first: Callable[[], None], message: str) -> Iterator[None]:
    """Within: the first SIGINT (Ctrl-C) or SIGTERM prints ``message`` on stderr and runs
    ``on_first`` on a thread of its own (a signal handler must not wait for the database);
    a second one raises KeyboardInterrupt. Outside the main thread nothing is installed."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []

    def handler(signum: int, frame: object) -> None:
        received.append(signum)
        if len(received) > 1:
            raise KeyboardInterrupt
        print(message, file=sys.stderr)
        threading.Thread(target=on_first, name="docket-interrupt", daemon=True).start()

    previous = {number: signal.signal(number, handler) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for number, old in previous.items():
            signal.signal(number, old)


def worker_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the arguments of ``worker``."""
    parser.add_argument("--until-idle", action="store_true",
                        help="stop when no run is queued (default: wait for new runs)")
    parser.add_argument("--poll", type=float, default=2.0, metavar="SECONDS",
                        help="seconds between looks for a queued run (default %(default)s)")


def cmd_worker(args: argparse.Namespace, db: Database) -> int:
    """Carry out queued judge runs until stopped (Ctrl-C, SIGTERM) or, --until-idle, none is left."""
    from storage.judge_worker import run_worker, worker_name
    from storage.migrations import migrate

    migrate(db)
    for name in ("storage.judge_runs", "storage.judge_worker"):  # each run's line, without -v
        logging.getLogger(name).setLevel(min(logging.getLogger(name).getEffectiveLevel(),
                                             logging.INFO))
    stop = threading.Event()
    name = worker_name("cli")
    print(f"worker {name}: waiting for judge runs", file=sys.stderr)
    with interrupts(stop.set, f"worker {name}: stopping: the calls in flight finish, an "
                              "unfinished run goes back to the queue (again to stop at once)"):
        carried = run_worker(db, worker=name, environ=os.environ, stop=stop,
                             poll_seconds=args.poll, until_idle=args.until_idle)
    print(f"worker {name}: {carried} run{'s' if carried != 1 else ''} carried out")
    return 0


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
    "estimate": Command(cmd_estimate, estimate_arguments),
    "audit": Command(cmd_audit, audit_arguments),
    "export": Command(cmd_export, export_arguments),
    "judge": Command(cmd_judge, judge_arguments),
    "worker": Command(cmd_worker, worker_arguments),
    "jury": Command(cmd_jury, jury_arguments),
    "debate": Command(cmd_debate, debate_arguments),
    "token": Command(cmd_token, token_arguments),
    "probe": Command(cmd_probe, probe_arguments),
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
    """Run one CLI command; return its exit code (0 ok, 1 user error, 2 usage error, 130
    interrupted or cancelled with Ctrl-C)."""
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
    except KeyboardInterrupt:  # a second Ctrl-C: stopped at once, what was written stays
        print("error: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if not isinstance(exc, user_errors()):
            raise
        for line in str(exc).splitlines():
            print(f"error: {line}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
