"""Save → diagnostic in an LSP client (``connector-watch lsp``), against the WebSocket front end
(``connector-watch serve``) on the same edits in the same run.

Each front end is a subprocess on its own copy of the zendesk example; the client here notes
``time.monotonic()`` just before it writes a file (or sends ``didChange``) and when the first
matching ``publishDiagnostics`` arrives. Between edits the daemon settles (its run ends, then a
pause for the causal verdict and the fix check). Edits alternate broken / fixed, so every save
changes the file.

    .venv/bin/python bench/lsp_latency.py                 # 10 saves per edit; ~2-3 min
    .venv/bin/python bench/lsp_latency.py --saves 3 --output /tmp/lsp_quick.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from connector_watch.tests.support.workspace import copy_examples
from lsprotocol import types as t
from pygls.lsp.client import LanguageClient
from websockets.asyncio.client import connect

SPEC = "simulator/specs/zendesk/endpoints.yaml"
TICKETS = "simulator/specs/zendesk/corpus/tickets.json"
SETTLE = 2.0  # seconds after a run ends for the causal verdict and the fix check
HERE = Path(__file__).resolve().parent


def broken_spec(text: str) -> str:
    return text.replace("    corpus: tickets\n", "    corpus: [tickets\n", 1)


def broken_corpus(text: str) -> str:
    lines = text.splitlines(keepends=True)
    line = [i for i, row in enumerate(lines) if re.fullmatch(r'    "id": \d+,\n', row)][3]
    lines[line] = '    "id": "not-a-number",\n'
    return "".join(lines)


# (name, file, how to break it, what the awaited diagnostic looks like: (code, origin) → bool)
EDITS: list[tuple[str, str, Callable[[str], str], Callable[[str, str], bool]]] = [
    (
        "YAML syntax error → its diagnostic",
        SPEC,
        broken_spec,
        lambda code, origin: code == "spec.yaml-syntax",
    ),
    (
        "corpus value breaks the schema → static diagnostic",
        TICKETS,
        broken_corpus,
        lambda code, origin: origin == "static",
    ),
    (
        "corpus value breaks the schema → the test's diagnostic",
        TICKETS,
        broken_corpus,
        lambda code, origin: origin == "run",
    ),
]


async def until(predicate: Callable[[], Any], timeout: float = 120.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        await asyncio.sleep(0.001)
    raise TimeoutError("benchmark condition not met")


# ---------------------------------------------------------------------------- the LSP front end


class LspSide:
    name = "lsp"

    async def start(self, root: Path) -> None:
        self.root = root
        self.client = client = LanguageClient("lsp-bench", "1")
        self.arrivals: list[tuple[float, str, list[t.Diagnostic]]] = []
        self.progress: dict[Any, str] = {}  # token → last kind

        @client.feature(t.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        def published(params: t.PublishDiagnosticsParams) -> None:
            self.arrivals.append((time.monotonic(), params.uri, list(params.diagnostics)))

        @client.feature(t.WINDOW_WORK_DONE_PROGRESS_CREATE)
        def created(params: t.WorkDoneProgressCreateParams) -> None:
            self.progress[params.token] = "created"

        @client.feature(t.WINDOW_LOG_MESSAGE)
        def logged(params: t.LogMessageParams) -> None:
            pass

        @client.feature(t.PROGRESS)
        def progress(params: t.ProgressParams) -> None:
            self.progress[params.token] = (
                params.value.get("kind", "") if isinstance(params.value, dict) else ""
            )

        await client.start_io(sys.executable, "-m", "connector_watch.daemon", "lsp", "--jobs", "2")
        capabilities = t.ClientCapabilities(window=t.WindowClientCapabilities(work_done_progress=True))
        await client.initialize_async(t.InitializeParams(capabilities=capabilities, root_uri=root.as_uri()))
        client.initialized(t.InitializedParams())
        await until(lambda: self.progress)
        await self.settle()

    def runs_going(self) -> bool:
        return any(kind != "end" for kind in self.progress.values())

    async def settle(self) -> None:
        await asyncio.sleep(0.3)
        await until(lambda: not self.runs_going())
        await asyncio.sleep(SETTLE)

    def seen(self, since: float, path: str, match: Callable[[str, str], bool] | None) -> float | None:
        uri = (self.root / path).as_uri()
        for at, got, diagnostics in self.arrivals:
            if at < since or got != uri:
                continue
            if match is None and not diagnostics:
                return at
            if match is not None and any(
                match(str(d.code), (d.data or {}).get("origin", "")) for d in diagnostics
            ):
                return at
        return None

    async def stop(self) -> None:
        await self.client.shutdown_async(None)
        self.client.exit(None)
        await self.client.stop()


# ---------------------------------------------------------------------------- the WebSocket front end


class WsSide:
    name = "serve (WebSocket)"

    async def start(self, root: Path) -> None:
        self.root = root
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "connector_watch.daemon",
                "serve",
                "--workspace",
                str(root),
                "--quiet",
                "--jobs",
                "2",
            ],
            stdout=subprocess.DEVNULL,
        )
        discovery = root / ".connector-watch" / "daemon.json"
        info = await until(lambda: discovery.is_file() and json.loads(discovery.read_text()), 60)
        self.ws = await connect(f"{info['url']}?token={info['token']}", max_size=None)
        await self.ws.send(
            json.dumps(
                {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "1.0"}}
            )
        )
        self.arrivals: list[tuple[float, str, list[dict[str, Any]]]] = []
        self.finished_runs = 0
        self.started_runs = 0
        self.reader = asyncio.create_task(self._read())
        await until(lambda: self.started_runs >= 1, 120)
        await self.settle()

    async def _read(self) -> None:
        async for raw in self.ws:
            at = time.monotonic()
            message = json.loads(raw)
            method = message.get("method")
            if method == "textDocument/publishDiagnostics":
                self.arrivals.append((at, message["params"]["path"], message["params"]["diagnostics"]))
            elif method == "run/started":
                self.started_runs += 1
            elif method == "run/finished":
                self.finished_runs += 1

    async def settle(self) -> None:
        await asyncio.sleep(0.3)
        await until(lambda: self.finished_runs >= self.started_runs)
        await asyncio.sleep(SETTLE)

    def seen(self, since: float, path: str, match: Callable[[str, str], bool] | None) -> float | None:
        for at, got, diagnostics in self.arrivals:
            if at < since or got != path:
                continue
            if match is None and not diagnostics:
                return at
            codes = [(d["data"].get("check") or d["code"], d["data"].get("origin", "")) for d in diagnostics]
            if match is not None and any(match(code, origin) for code, origin in codes):
                return at
        return None

    async def stop(self) -> None:
        self.reader.cancel()
        await self.ws.close()
        self.process.terminate()
        self.process.wait(timeout=60)


# ---------------------------------------------------------------------------- measuring


async def measure_saves(side: Any, saves: int) -> dict[str, list[float]]:
    figures: dict[str, list[float]] = {name: [] for name, *_ in EDITS}
    for name, path, breaks, match in EDITS:
        file = side.root / path
        original = file.read_text(encoding="utf-8")
        for _ in range(saves):
            since = time.monotonic()
            file.write_text(breaks(original), encoding="utf-8")
            at = await until(lambda since=since, path=path, match=match: side.seen(since, path, match))
            figures[name].append((at - since) * 1000)
            await side.settle()
            file.write_text(original, encoding="utf-8")
            await until(lambda since=since, path=path: side.seen(since, path, None))
            await side.settle()
    return figures


async def measure_buffer(side: LspSide, saves: int) -> list[float]:
    """An unsaved spec buffer with a YAML error → its diagnostic (the 120 ms debounce included)."""
    uri = (side.root / SPEC).as_uri()
    text = (side.root / SPEC).read_text(encoding="utf-8")
    side.client.text_document_did_open(t.DidOpenTextDocumentParams(t.TextDocumentItem(uri, "yaml", 1, text)))
    figures, version = [], 1
    for _ in range(saves):
        for content, match in (
            (broken_spec(text), lambda code, origin: code == "spec.yaml-syntax"),
            (text, None),
        ):
            version += 1
            since = time.monotonic()
            side.client.text_document_did_change(
                t.DidChangeTextDocumentParams(
                    t.VersionedTextDocumentIdentifier(version, uri),
                    [t.TextDocumentContentChangeWholeDocument(content)],
                )
            )
            at = await until(lambda since=since, match=match: side.seen(since, SPEC, match))
            if match is not None:
                figures.append((at - since) * 1000)
            await asyncio.sleep(0.3)
    side.client.text_document_did_close(t.DidCloseTextDocumentParams(t.TextDocumentIdentifier(uri)))
    return figures


async def main(saves: int, output: Path) -> None:
    results: dict[str, Any] = {"saves": saves, "loadavg_before": os.getloadavg(), "fronts": {}}
    with tempfile.TemporaryDirectory(prefix="lsp-bench-") as scratch:
        for side in (LspSide(), WsSide()):
            root = copy_examples(Path(scratch) / side.name.split()[0], sources=("zendesk",))
            await side.start(root)
            try:
                figures = await measure_saves(side, saves)
                if isinstance(side, LspSide):
                    figures[
                        "unsaved buffer: YAML syntax error → its diagnostic (120 ms debounce)"
                    ] = await measure_buffer(side, saves)
            finally:
                await side.stop()
            results["fronts"][side.name] = {
                name: {"p50_ms": round(statistics.median(values), 1), "all_ms": [round(v, 1) for v in values]}
                for name, values in figures.items()
            }
    results["loadavg_after"] = os.getloadavg()
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    lsp, ws = results["fronts"]["lsp"], results["fronts"]["serve (WebSocket)"]
    print(f"{'edit':<72} {'lsp p50':>9} {'serve p50':>10} {'ratio':>6}")
    for name, figure in lsp.items():
        other = ws.get(name)
        ratio = f"{figure['p50_ms'] / other['p50_ms']:.2f}" if other else "-"
        print(
            f"{name:<72} {figure['p50_ms']:>7.0f}ms {other['p50_ms'] if other else '-':>8}{'ms' if other else ''} {ratio:>6}"
        )
    print(
        f"load average before {results['loadavg_before'][0]:.2f}, after {results['loadavg_after'][0]:.2f}; {output}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--saves", type=int, default=10)
    parser.add_argument("--output", type=Path, default=HERE / "results" / "lsp_latency.json")
    args = parser.parse_args()
    asyncio.run(main(args.saves, args.output))
