"""Merge a connector into one file that registers it as a PySpark data source.

    python -m connector_watch.simulator.tools.merge_source github          # sources/github/_generated_github_python_source.py
    python -m connector_watch.simulator.tools.merge_source all
    python -m connector_watch.simulator.tools.merge_source github -o /tmp/github_source.py
    python -m connector_watch.simulator.tools.merge_source github --check  # exit 1 when the file is stale

The file concatenates, in order: ``sources/parsing.py`` and
``sources/interface.py`` (the shared runtime), the source package's other
modules (dependencies first), ``sources/<name>/<name>.py``, then the data
source readers (``sources/spark/readers.py``, after its parts ``problems.py``, ``read_options.py``
and ``arrow.py``: batch drains, partitions, streams, deletes;
:mod:`connector_watch.simulator.tools.datasource_template` where a workspace has none). Imports from this
repository are removed (their definitions are in the file; ``import X as Y``
becomes ``Y = X``), every other import is hoisted to the top once, and the
template's ``LakeflowConnectImpl`` line names the connector class.

Unlike the public tool's output, the definitions are at module level, so the
file can be imported and tested without Spark; ``register_lakeflow_source(spark)``
registers the data source. The output is deterministic: the same inputs give
the same bytes. The merge fails, naming the files, when an import from the
repository cannot be removed (inside a function), when two files define the
same top-level name differently, or when the connector class is not found.
"""

from __future__ import annotations

import argparse
import ast
import difflib
import hashlib
import sys
from dataclasses import dataclass, field
from pathlib import Path

from connector_watch.simulator.layout import Layout

INTERNAL_ROOTS = ("sources", "simulator", "tests", "daemon", "connector_watch")
RUNTIME = ("sources/parsing.py", "sources/interface.py")
TEMPLATE_MODULE = "sources/spark/readers.py"  # the Spark data source's readers (issue 8)
#: The default template's own modules, merged before it (dependencies first).
TEMPLATE_PARTS = ("sources/spark/problems.py", "sources/spark/read_options.py", "sources/spark/arrow.py")
IMPL_MARKER = "# __LAKEFLOW_CONNECT_IMPL__"
EXCLUDE_SUFFIXES = ("_test.py", "_tests.py", "_test_utils.py")
#: Top-level names that may repeat across files (module plumbing, not definitions).
SHARED_NAMES = frozenset({"__all__", "logger", "annotations"})


class MergeError(Exception):
    """The connector cannot be merged; the message says which file and why."""


@dataclass
class SourceFile:
    path: Path
    display: str
    module: str
    tree: ast.Module
    text: str
    internal_deps: set[str] = field(default_factory=set)


def _is_internal(module: str | None) -> bool:
    return bool(module) and module.split(".")[0] in INTERNAL_ROOTS  # type: ignore[union-attr]


def _module_name(root: Path, path: Path) -> str:
    return ".".join(path.relative_to(root).with_suffix("").parts)


def _load(root: Path, path: Path) -> SourceFile:
    text = path.read_text(encoding="utf-8")
    try:
        tree = ast.parse(text, filename=str(path))
    except SyntaxError as exc:
        raise MergeError(f"{path}:{exc.lineno}: cannot parse: {exc.msg}")
    source = SourceFile(path, path.relative_to(root).as_posix(), _module_name(root, path), tree, text)
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.level == 0 and _is_internal(node.module):
            source.internal_deps.add(node.module or "")
        elif isinstance(node, ast.Import):
            source.internal_deps.update(a.name for a in node.names if _is_internal(a.name))
    for node in ast.walk(tree):
        if node in tree.body:
            continue
        if isinstance(node, ast.ImportFrom) and (node.level or _is_internal(node.module)):
            if not _inside_type_checking(tree, node):
                raise MergeError(
                    f"{source.display}:{node.lineno}: a nested import from the repository "
                    f"({'.' * node.level}{node.module or ''}) cannot be merged; import it at module level"
                )
        elif isinstance(node, ast.Import) and any(_is_internal(a.name) for a in node.names):
            raise MergeError(
                f"{source.display}:{node.lineno}: a nested import from the repository cannot be merged"
            )
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.level:
            raise MergeError(
                f"{source.display}:{node.lineno}: relative imports cannot be merged; use sources.<name>..."
            )
    return source


def _inside_type_checking(tree: ast.Module, target: ast.AST) -> bool:
    for node in tree.body:
        if (
            isinstance(node, ast.If)
            and "TYPE_CHECKING" in ast.unparse(node.test)
            and any(child is target for child in ast.walk(node))
        ):
            return True
    return False


def _order(files: list[SourceFile]) -> list[SourceFile]:
    """Dependencies first (a stable topological sort by module name)."""
    by_module = {f.module: f for f in files}
    ordered: list[SourceFile] = []
    state: dict[str, str] = {}

    def visit(source: SourceFile, chain: list[str]) -> None:
        mark = state.get(source.module)
        if mark == "done":
            return
        if mark == "visiting":
            raise MergeError(f"import cycle: {' -> '.join([*chain, source.module])}")
        state[source.module] = "visiting"
        for dep in sorted(source.internal_deps):
            if dep in by_module:
                visit(by_module[dep], [*chain, source.module])
        state[source.module] = "done"
        ordered.append(source)

    for source in sorted(files, key=lambda f: f.module):
        visit(source, [])
    return ordered


def _top_level_names(source: SourceFile) -> dict[str, str]:
    names: dict[str, str] = {}
    for node in source.tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names[node.name] = ast.unparse(node)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Name):
                    names[target.id] = ast.unparse(node)
    return names


@dataclass
class _Imports:
    """External imports of every merged file, combined per module."""

    plain: set[str] = field(default_factory=set)
    names: dict[str, set[str]] = field(default_factory=dict)

    def add(self, node: ast.Import | ast.ImportFrom) -> None:
        if isinstance(node, ast.Import):
            for alias in node.names:
                self.plain.add(f"import {alias.name}" + (f" as {alias.asname}" if alias.asname else ""))
            return
        bucket = self.names.setdefault(node.module or "", set())
        for alias in node.names:
            bucket.add(alias.name + (f" as {alias.asname}" if alias.asname else ""))

    def lines(self) -> list[str]:
        future = (
            [f"from __future__ import {', '.join(sorted(self.names['__future__']))}"]
            if "__future__" in self.names
            else []
        )
        stdlib, third = [], []
        for line in sorted(self.plain):
            (third if _third_party(line.split()[1]) else stdlib).append(line)
        for module in sorted(m for m in self.names if m != "__future__"):
            line = f"from {module} import {', '.join(sorted(self.names[module]))}"
            (third if _third_party(module) else stdlib).append(line)
        out = future + ([""] if future else []) + stdlib
        return out + ([""] if stdlib and third else []) + third


def _third_party(module: str) -> bool:
    return module.split(".")[0] in ("requests", "pyspark", "yaml", "pyarrow", "urllib3")


def _body(source: SourceFile, imports: _Imports) -> str:
    """The file without its docstring and top-level imports (collected into ``imports``)."""
    lines = source.text.splitlines()
    drop: set[int] = set()
    aliases: dict[int, list[str]] = {}
    body = source.tree.body
    first = body[0] if body else None
    if (
        isinstance(first, ast.Expr)
        and isinstance(first.value, ast.Constant)
        and isinstance(first.value.value, str)
    ):
        drop.update(range(first.lineno - 1, first.end_lineno or first.lineno))
    for node in body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            span = range(node.lineno - 1, node.end_lineno or node.lineno)
            drop.update(span)
            module = node.module if isinstance(node, ast.ImportFrom) else None
            if isinstance(node, ast.ImportFrom) and _is_internal(module):
                renames = [f"{a.asname} = {a.name}" for a in node.names if a.asname and a.asname != a.name]
                if renames:
                    aliases[node.lineno - 1] = renames
            elif isinstance(node, ast.Import) and any(_is_internal(a.name) for a in node.names):
                external = [a for a in node.names if not _is_internal(a.name)]
                if external:
                    imports.add(ast.Import(names=external))
            else:
                imports.add(node)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets):
                drop.update(range(node.lineno - 1, node.end_lineno or node.lineno))
    out: list[str] = []
    for index, line in enumerate(lines):
        if index in aliases:
            out.extend(aliases[index])
        if index not in drop:
            out.append(line)
    text = "\n".join(out).strip("\n")
    return text


def sources_for(layout: Layout, name: str) -> list[SourceFile]:
    package = layout.source_dir(name)
    main = package / f"{name}.py"
    if not main.is_file():
        raise MergeError(f"no connector at {layout.relative(main)}")
    root = layout.root
    files = [
        _load(root, path)
        for path in sorted(package.rglob("*.py"))
        if path.name != "__init__.py"
        and not path.name.startswith("_generated_")
        and not path.name.startswith("test_")
        and not path.name.endswith(EXCLUDE_SUFFIXES)
        and "configs" not in path.relative_to(package).parts
    ]
    return files


def connector_class(source: SourceFile) -> str:
    found = [
        node.name
        for node in source.tree.body
        if isinstance(node, ast.ClassDef) and any("LakeflowConnect" in ast.unparse(b) for b in node.bases)
    ]
    if len(found) != 1:
        raise MergeError(
            f"{source.display}: expected exactly one class deriving from LakeflowConnect, found {found or 'none'}"
        )
    return found[0]


def merge(layout: Layout, name: str, template: Path | None = None) -> str:
    """The merged file's text for source ``name``."""
    root = layout.root
    runtime = [_load(root, root / rel) for rel in RUNTIME]
    package = _order(sources_for(layout, name))
    main = next(f for f in package if f.path.name == f"{name}.py")
    package = [f for f in package if f is not main] + [main]
    template_path = template or (root / TEMPLATE_MODULE)
    display = TEMPLATE_MODULE if template is None else str(template)
    parts: list[SourceFile] = []
    if not template_path.is_file():  # a workspace without sources/spark: the small bundled template
        template_path = Path(__file__).with_name("datasource_template.py")
        display = "simulator/tools/datasource_template.py"
    elif template is None:
        parts = [_load(root, root / rel) for rel in TEMPLATE_PARTS if (root / rel).is_file()]
    template_source = _load(template_path.parent, template_path)
    template_source.display = display
    impl = connector_class(main)
    files = [*runtime, *package, *parts, template_source]

    seen: dict[str, tuple[str, str]] = {}
    for source in files:
        for symbol, text in _top_level_names(source).items():
            if symbol in SHARED_NAMES or symbol == "LakeflowConnectImpl":
                continue
            if symbol in seen and seen[symbol][1] != text:
                raise MergeError(
                    f"'{symbol}' is defined differently in {seen[symbol][0]} and {source.display}; "
                    "rename one of them (the merged file has one namespace)"
                )
            seen.setdefault(symbol, (source.display, text))

    imports = _Imports()
    sections = []
    for source in files:
        body = _body(source, imports)
        if source is template_source:
            if IMPL_MARKER not in body:
                raise MergeError(f"{source.display}: the template has no '{IMPL_MARKER}' line")
            body = "\n".join(
                f"LakeflowConnectImpl = {impl}  {IMPL_MARKER}" if IMPL_MARKER in line else line
                for line in body.splitlines()
            )
        sections.append(f"# {'-' * 20} {source.display} {'-' * 20}\n\n{body}\n")
    digest = hashlib.sha256("".join(f.text for f in files).encode()).hexdigest()[:16]
    header = [
        f'"""The {name} connector as one file: a PySpark data source named "lakeflow_connect".',
        "",
        f"GENERATED by `python -m connector_watch.simulator.tools.merge_source {name}`; do not edit (edit the sources and",
        "regenerate). Nothing here is imported from the connector-watch repository.",
        "",
        "    register_lakeflow_source(spark)",
        '    spark.read.format("lakeflow_connect").option("tableName", "<table>").options(**config).load()',
        "",
        f"Connector class: {impl}. Inputs: {', '.join(f.display for f in files)}.",
        f"Input digest: {digest}.",
        '"""',
        "",
    ]
    return "\n".join(header + imports.lines()) + "\n\n\n" + "\n\n".join(sections)


def output_path(layout: Layout, name: str) -> Path:
    return layout.source_dir(name) / f"_generated_{name}_python_source.py"


def _names(layout: Layout, requested: str) -> list[str]:
    if requested != "all":
        return [requested]
    return [n for n in layout.source_names() if layout.connector_file(n).is_file()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m connector_watch.simulator.tools.merge_source", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("source", help="a source name, or 'all'")
    parser.add_argument("-o", "--output", type=Path, help="output file (one source only)")
    parser.add_argument(
        "--workspace", type=Path, help="workspace root (default: found from the current directory)"
    )
    parser.add_argument(
        "--template",
        type=Path,
        help="data source template module (default: sources/spark/readers.py, else the bundled one)",
    )
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if the generated file is missing or stale"
    )
    args = parser.parse_args(argv)
    layout = Layout.load(args.workspace) if args.workspace else Layout.discover()
    names = _names(layout, args.source)
    if args.output and len(names) != 1:
        print("error: -o/--output needs a single source", file=sys.stderr)
        return 2
    status = 0
    for name in names:
        try:
            text = merge(layout, name, args.template)
        except MergeError as exc:
            print(f"error: {name}: {exc}", file=sys.stderr)
            return 2
        target = args.output or output_path(layout, name)
        if args.check:
            current = target.read_text(encoding="utf-8") if target.is_file() else ""
            if current != text:
                diff = difflib.unified_diff(
                    current.splitlines(), text.splitlines(), str(target), "regenerated", lineterm=""
                )
                print("\n".join(list(diff)[:40]))
                print(
                    f"{layout.relative(target)} is stale: run python -m connector_watch.simulator.tools.merge_source {name}"
                )
                status = 1
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        print(f"wrote {layout.relative(target)} ({len(text.splitlines())} lines)")
    return status


if __name__ == "__main__":
    sys.exit(main())
