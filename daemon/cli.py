"""``connector-watch``: the command line.

connector-watch watch  [--workspace DIR] [--json]                 live terminal (or JSON lines)
connector-watch run    [--workspace DIR] [--changed PATH ...] [--json] [--sarif FILE] [--junit FILE]
connector-watch check  [--workspace DIR] [--json] [--no-learn] [PATH ...]  static checks only
connector-watch impact [--workspace DIR] PATH ...                 which nodes a change reruns, and why
connector-watch serve  [--workspace DIR] [--port N]               WebSocket server + browser panel
connector-watch lsp    [--workspace DIR]                          language server over stdio (any LSP editor)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

from connector_watch.daemon import events as ev
from connector_watch.daemon.diagnostics import Diagnostic
from connector_watch.daemon.engine import Engine
from connector_watch.daemon.impact import Change, Selection, SpecChange, select_in
from connector_watch.daemon.index import Index
from connector_watch.daemon.options import engine_options
from connector_watch.daemon.report import (
    NodeResult,
    RunReport,
    diagnostics_document,
    render_junit,
    render_sarif,
    render_text,
)
from connector_watch.daemon.resume import read_saved
from connector_watch.daemon.static_checks import (
    Learnt,
    check_file,
    corpus_tables,
    learn_schemas,
    read_for_check,
)
from connector_watch.daemon.workspace import Workspace
from connector_watch.simulator.layout import Layout


class PathOutsideWorkspace(Exception):
    """A path argument that is not in the workspace (the command exits 2)."""


class Interrupted(Exception):
    """``run`` was stopped by a signal (the command exits 128 + the signal's number)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def workspace_paths(workspace: Workspace, raw_paths: list[str]) -> list[str]:
    """Path arguments as workspace paths: a relative one is taken from the workspace's root, or,
    when only the current directory has it (run from a folder inside the workspace), from there."""

    def as_given(raw: str) -> str:
        path = Path(raw)
        if path.is_absolute() or (workspace.root / path).exists() or not path.exists():
            return raw
        return str(path.resolve())

    try:
        return [workspace.inside(as_given(raw)) for raw in raw_paths]
    except ValueError as exc:
        raise PathOutsideWorkspace(str(exc)) from None


def _discovered_workspace() -> str:
    """The current directory, or, run from inside a workspace's folder (a source's tests), the
    nearest folder above it that holds the connectors and specs (said on stderr)."""
    here = Path.cwd().resolve()
    found = Layout.discover(here).root
    if found != here and found in here.parents:
        print(f"connector-watch: workspace {found} (found above the current directory)", file=sys.stderr)
        return str(found)
    return str(here)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--workspace",
        default=None,
        help="the workspace (default: the current directory, or the nearest one above it that holds the "
        "connectors and their specs, as pytest finds its rootdir)",
    )
    parser.add_argument("--jobs", type=int, default=None, help="parallel workers (default: number of cores)")
    parser.add_argument(
        "--timeout", type=float, default=30.0, help="per-test timeout in seconds (default 30)"
    )
    parser.add_argument(
        "--kill-after",
        type=float,
        default=15.0,
        metavar="SECONDS",
        help="kill a worker this long after --timeout when the timer cannot stop its test (default 15)",
    )
    parser.add_argument(
        "--spark",
        action="store_true",
        help="after a source's tests pass, read every table through Spark (the end-to-end stage)",
    )
    parser.add_argument("--spark-master", default=None, help="Spark master for that stage (default local[*])")
    parser.add_argument(
        "--mode",
        default=os.environ.get("CONNECTOR_TEST_MODE") or "simulate",
        choices=["simulate", "replay", "hybrid", "record", "live"],
        help="simulator mode",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="connector-watch", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)

    watch = commands.add_parser("watch", help="watch the workspace and rerun affected tests on every save")
    _common(watch)
    watch.add_argument("--json", action="store_true", help="print every event as one JSON object per line")
    watch.add_argument("--no-initial-run", action="store_true", help="do not run everything at start")

    run = commands.add_parser("run", help="run once (everything, or what --changed affects) and report")
    _common(run)
    run.add_argument(
        "--changed", nargs="+", metavar="PATH", help="run only what changes to these files affect"
    )
    run.add_argument(
        "--base",
        metavar="REF",
        default=None,
        help="git revision failures are compared with to find the change that caused them "
        "(default HEAD, limited to the --changed files when given)",
    )
    run.add_argument(
        "--no-causal", action="store_true", help="judge failures on their merits only (no counterfactual reruns)"
    )
    run.add_argument("--json", action="store_true", help="write the JSON report to stdout")
    run.add_argument("--sarif", metavar="FILE", help="also write a SARIF 2.1.0 report")
    run.add_argument("--junit", metavar="FILE", help="also write a JUnit XML report")

    check = commands.add_parser("check", help="static checks only (specs, corpora, Python syntax)")
    check.add_argument("--workspace", default=None)
    check.add_argument("--json", action="store_true")
    check.add_argument(
        "--no-learn",
        action="store_true",
        help="do not import connectors (in a sandboxed child) to learn the schemas corpus values are checked against",
    )
    check.add_argument("paths", nargs="*", metavar="PATH")

    impact = commands.add_parser("impact", help="which test nodes a change to these files would rerun")
    impact.add_argument("--workspace", default=None)
    impact.add_argument("paths", nargs="+", metavar="PATH")

    serve = commands.add_parser(
        "serve", help="run the daemon behind a WebSocket endpoint with a browser panel"
    )
    _common(serve)
    serve.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: any free port)")
    serve.add_argument("--no-initial-run", action="store_true")
    serve.add_argument("--quiet", action="store_true", help="do not print the panel URL")

    lsp = commands.add_parser(
        "lsp",
        help="a language server over stdio: diagnostics, verified quick fixes, hover, reruns (any LSP editor)",
        description="The workspace is --workspace, else the root the editor names in initialize.",
    )
    _common(lsp)
    lsp.set_defaults(workspace=None)
    lsp.add_argument("--no-initial-run", action="store_true", help="do not run everything at start")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.workspace is None and args.command != "lsp":  # ``lsp`` may learn it from the editor
        args.workspace = _discovered_workspace()
    if args.workspace is not None:
        workspace = Path(args.workspace).resolve()
        if not workspace.is_dir():
            print(f"connector-watch: workspace {workspace} is not a directory", file=sys.stderr)
            return 2
        args.workspace = workspace
    handlers = {
        "watch": cmd_watch,
        "run": cmd_run,
        "check": cmd_check,
        "impact": cmd_impact,
        "serve": cmd_serve,
        "lsp": cmd_lsp,
    }
    try:
        return handlers[args.command](args)
    except PathOutsideWorkspace as exc:
        print(f"connector-watch {args.command}: {exc}", file=sys.stderr)
        return 2
    except Interrupted as exc:
        print(f"connector-watch {args.command}: stopped by signal {exc.signum}", file=sys.stderr)
        return 128 + exc.signum
    except KeyboardInterrupt:
        return 130


# ---------------------------------------------------------------------------- index on disk


def load_index(root: Path) -> Index:
    return read_saved(root)[0]


# ---------------------------------------------------------------------------- watch


def cmd_watch(args: argparse.Namespace) -> int:
    async def go() -> None:
        engine = Engine(args.workspace, engine_options(args))
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        if args.json:
            from connector_watch.daemon.terminal import JsonLines

            engine.subscribe(JsonLines(engine.wire))
            await engine.start(initial_run=not args.no_initial_run)
            await stop.wait()
        else:
            from connector_watch.daemon.terminal import run_screen

            start = asyncio.create_task(engine.start(initial_run=not args.no_initial_run))
            screen = asyncio.create_task(run_screen(engine))
            await start
            await asyncio.wait(
                {screen, asyncio.create_task(stop.wait())}, return_when=asyncio.FIRST_COMPLETED
            )
            screen.cancel()
        await engine.stop()

    asyncio.run(go())
    return 0


# ---------------------------------------------------------------------------- run


def cmd_run(args: argparse.Namespace) -> int:
    if not args.changed and not Workspace(args.workspace).test_files():
        # Nothing to run is not green: most likely the wrong folder (pytest says "no tests ran").
        layout = Workspace(args.workspace).layout
        print(
            f"connector-watch run: no test files under {layout.tests_dir()}: is {args.workspace} the "
            "workspace (the folder with the connectors, their specs and tests)? Use --workspace.",
            file=sys.stderr,
        )
        return 5
    report = asyncio.run(_run_once(args))
    if args.json:
        sys.stdout.write(json.dumps(report.to_json(), indent=2) + "\n")
    else:
        sys.stdout.write(render_text(report) + "\n")
    if args.sarif:
        Path(args.sarif).write_text(json.dumps(render_sarif(report), indent=2) + "\n", encoding="utf-8")
    if args.junit:
        Path(args.junit).write_bytes(render_junit(report))
    return 1 if report.failed else 0


async def _run_once(args: argparse.Namespace) -> RunReport:
    from connector_watch.daemon.xdist_runner import XdistRunner

    options = engine_options(args)
    started = time.perf_counter()
    workspace = Workspace(args.workspace)
    # One shot: no session history; failures are compared with git (the --changed files vs HEAD,
    # or everything that differs from --base).
    options.history = False
    options.causal = not args.no_causal
    options.base = args.base or "HEAD"
    if args.changed and not args.base:
        options.base_paths = workspace_paths(workspace, args.changed)
    stopped_by = _stop_on_signals()
    if args.changed:
        index = load_index(workspace.root)
        selection = _impact(workspace, index, workspace_paths(workspace, args.changed))
    else:
        index = Index()
        selection = Selection()
        for test_file in workspace.test_files():
            selection.add_file(test_file, "full run")
    workers = options.jobs if not args.changed and len(selection.files) + len(selection.nodes) > 1 else 1
    engine = Engine(
        workspace.root,
        options,
        runner=lambda root, log_dir: XdistRunner(
            root,
            workers=workers,
            node_timeout=options.node_timeout,
            hard_timeout_margin=options.kill_after,
            log_dir=log_dir,
        ),
    )
    engine.index = index
    results: dict[str, NodeResult] = {}

    def collect(event: ev.Event) -> None:
        if isinstance(event, ev.TestFinished):
            results[event.node_id] = NodeResult(
                event.node_id, event.outcome, event.duration_ms, list(event.diagnostics), event.message
            )
        elif isinstance(event, ev.TestRevised) and event.node_id in results:
            results[event.node_id].diagnostics = list(event.diagnostics)

    engine.subscribe(collect)
    try:
        await _until_signal(engine.start(watch=False, initial_run=False), stopped_by)
        if not selection.empty():
            engine.request(selection, "ci", list(args.changed or []))
            await _until_signal(engine.wait_idle(), stopped_by)
    except Interrupted:
        await engine.stop()  # cancels the run and kills its process groups
        raise
    await _until_signal(engine.schemas_learnt(), stopped_by)
    changed = workspace_paths(workspace, args.changed) if args.changed else []
    touched_files = {node_id.split("::")[0] for node_id in results} | set(changed)
    touched = {workspace.classify(path).source for path in touched_files} - {None}
    touched |= {r.source for n in results if (r := engine.index.nodes.get(n)) is not None and r.source}
    for source in sorted(touched):
        for corpus in workspace.corpus_files(source):
            engine.static_check(corpus)
    # Static findings of the sources the run touched (and of the files it ran or was given).
    static = [
        d
        for path, diagnostics in engine.results.static.items()
        if path in touched_files or workspace.classify(path).source in touched
        for d in diagnostics
    ]
    engine.save_index()
    await engine.stop()
    return RunReport(
        sorted(results.values(), key=lambda r: r.node_id), static, (time.perf_counter() - started) * 1000
    )


def _stop_on_signals() -> asyncio.Future[int]:
    """A future that a SIGINT or SIGTERM resolves to the signal's number."""
    loop = asyncio.get_running_loop()
    stopped: asyncio.Future[int] = loop.create_future()

    def on_signal(signum: int) -> None:
        if not stopped.done():
            stopped.set_result(signum)

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, on_signal, signum)
    return stopped


async def _until_signal(work: Any, stopped_by: asyncio.Future[int]) -> None:
    """Await ``work``; raise :class:`Interrupted` if a signal comes first."""
    task = asyncio.ensure_future(work)
    await asyncio.wait({task, stopped_by}, return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        task.result()
        return
    task.cancel()
    raise Interrupted(stopped_by.result())


# ---------------------------------------------------------------------------- check


def cmd_check(args: argparse.Namespace) -> int:
    workspace = Workspace(args.workspace)
    index = load_index(workspace.root)
    if args.paths:
        paths = workspace_paths(workspace, args.paths)
        missing = [
            raw for raw, path in zip(args.paths, paths, strict=True) if not workspace.absolute(path).is_file()
        ]
        if missing:
            sys.stderr.write(f"connector-watch check: no such file: {', '.join(missing)}\n")
            return 2
    else:
        paths = [p for p in workspace.watched_files() if p.endswith((".py", ".yaml", ".yml", ".json"))]
    corpus_sources = sorted(
        {kind.source for kind in map(workspace.classify, paths) if kind.kind == "corpus" and kind.source}
    )
    learnt, notes = ({}, []) if args.no_learn else learn_schemas(workspace, index, corpus_sources)
    diagnostics = static_diagnostics(workspace, index, paths, learnt)
    notes += _unlinted_sources_note(workspace, index, paths, learnt, explained=notes, learning=not args.no_learn)
    if args.json:
        sys.stdout.write(diagnostics_document(diagnostics, notes) + "\n")
    else:
        for d in diagnostics:
            sys.stdout.write(f"{d.location}: {d.severity}: [{d.blame}] {d.message}\n")
        errors = sum(d.severity == "error" for d in diagnostics)
        warnings = sum(d.severity == "warning" for d in diagnostics)
        informational = len(diagnostics) - errors - warnings
        sys.stdout.write(
            f"{len(paths)} file(s) checked: {errors} error(s), {warnings} warning(s)"
            + (f", {informational} note(s)" if informational else "")
            + "\n"
        )
        for note in notes:
            sys.stderr.write(f"note: {note}\n")
    return 1 if any(d.severity == "error" for d in diagnostics) else 0


def _unlinted_sources_note(
    workspace: Workspace,
    index: Index,
    paths: list[str],
    learnt: Learnt,
    *,
    explained: list[str] = (),  # type: ignore[assignment]
    learning: bool = True,
) -> list[str]:
    """Sources whose corpora were checked without the connector's schemas."""
    with_schemas = {source for (source, _), info in {**learnt, **index.tables}.items() if info.schema}
    checked = {
        kind.source for kind in map(workspace.classify, paths) if kind.kind == "corpus" and kind.source
    }
    unknown = [s for s in sorted(checked - with_schemas) if not any(n.startswith(f"{s}: ") for n in explained)]
    if not unknown:
        return []
    why = (
        "no test class of theirs gave a connector to ask"
        if learning
        else "--no-learn skips importing connectors; a run also reports them"
    )
    return [
        f"corpus records of {', '.join(unknown)} were checked for JSON syntax and consistency only, not "
        f"against their connectors' schemas: {why}"
    ]


def static_diagnostics(
    workspace: Workspace, index: Index, paths: list[str], learnt: Learnt | None = None
) -> list[Diagnostic]:
    from connector_watch.simulator.spec import check_spec

    specs: dict[str, Any] = {}

    def tables(corpus: str) -> list[Any]:
        source = workspace.classify(corpus).source
        if source not in specs:
            spec_file = workspace.layout.spec_file(source) if source else None
            specs[source] = check_spec(spec_file, handler_roots=workspace.layout.code_roots())[0] if spec_file and spec_file.is_file() else None
        return corpus_tables(index, specs[source], corpus, learnt)

    found: dict[tuple[Any, ...], Diagnostic] = {}
    for path in paths:
        kind = workspace.classify(path)
        try:
            text, unreadable = read_for_check(workspace.absolute(path), path, kind.kind)
        except OSError:
            continue
        if unreadable is not None:
            found.setdefault(unreadable.key(), unreadable)
            continue
        if text is None:
            continue
        result = check_file(workspace, path, text, kind, tables_for_corpus=tables, sent_params=index.sent_params)
        for diagnostics in result.diagnostics.values():
            for d in diagnostics:
                found.setdefault(d.key(), d)
    return sorted(found.values(), key=lambda d: (d.location.path, d.location.range.start.line))


# ---------------------------------------------------------------------------- impact


def _impact(workspace: Workspace, index: Index, paths: list[str]) -> Selection:
    """What changes to these workspace-relative paths rerun."""
    from connector_watch.daemon.dependencies import Dependencies
    from connector_watch.simulator.spec import check_spec

    changes, spec_changes = [], {}
    for path in paths:
        kind = workspace.classify(path)
        changes.append(Change(path, kind))
        if kind.kind == "spec":
            corpus_dir = workspace.layout.corpus_dir(kind.source) if kind.source else None
            spec, _ = check_spec(
                workspace.absolute(path), corpus_dir, display=path, handler_roots=workspace.layout.code_roots()
            )
            spec_changes[path] = SpecChange(
                before=None, after=spec, before_future=index.spec_future.get(path)
            )
    # The index holds requests already matched to endpoints: only imports and parsing are asked here.
    dependencies = Dependencies(workspace, lambda: index, lambda _path: None)
    return select_in(
        workspace,
        changes,
        index,
        spec_changes=spec_changes,
        importers=dependencies.importers,
        unloadable=dependencies.unloadable(
            changes, lambda p: p in spec_changes and spec_changes[p].after is not None
        ),
    )


def cmd_impact(args: argparse.Namespace) -> int:
    workspace = Workspace(args.workspace)
    index = load_index(workspace.root)
    selection = _impact(workspace, index, workspace_paths(workspace, args.paths))
    nodes = selection.reasons_by_node(index)
    for path, reasons in selection.files.items():
        if not index.nodes_of_file(path):
            nodes[path] = list(reasons)
    document = {
        "nodes": [{"nodeId": node_id, "reasons": reasons} for node_id, reasons in sorted(nodes.items())],
        "restartPool": selection.restart_pool,
        "indexed": bool(index.nodes),
    }
    sys.stdout.write(json.dumps(document, indent=2) + "\n")
    return 0


# ---------------------------------------------------------------------------- serve


def cmd_serve(args: argparse.Namespace) -> int:
    from connector_watch.daemon.server import serve_command

    return serve_command(args)


# ---------------------------------------------------------------------------- lsp


def cmd_lsp(args: argparse.Namespace) -> int:
    from connector_watch.daemon.lsp_stdio import lsp_command

    return lsp_command(args)
