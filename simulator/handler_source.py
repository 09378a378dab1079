"""Spec handlers read without running them: where a handler module's file is (under the
workspace's folders or ``sys.path``), its source, whether it defines the named function, and which
corpus tables it may read (string constants, or any table when it looks one up by a computed name).
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Sequence
from pathlib import Path

from connector_watch.simulator.errors import did_you_mean


def module_source(module_name: str, roots: Sequence[Path] = ()) -> str | None:
    """A handler module's source text: the imported module's file, else the file found under
    ``roots`` (and ``sys.path``) without importing it."""
    module = sys.modules.get(module_name)
    file = getattr(module, "__file__", None)
    path = Path(file) if file else module_file(module_name, roots)
    if path is None:
        return None
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def module_file(module_name: str, roots: Sequence[Path]) -> Path | None:
    """Where ``module_name`` lives under ``roots`` or ``sys.path``, found without importing it."""
    relative = Path(*module_name.split("."))
    for root in [*roots, *(Path(p) for p in sys.path if p)]:
        for candidate in (root / relative.with_suffix(".py"), root / relative / "__init__.py"):
            if candidate.is_file():
                return candidate
    return None


def corpus_reads(source: str) -> tuple[set[str], bool]:
    """The string constants of a handler module, and whether it looks a corpus table up by a
    computed name (``corpus.get(name)``, ``corpus[name]``) or uses the tables otherwise (``corpus.tables``
    iterated)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set(), True
    strings = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)}
    computed = False
    looked_up: set[int] = set()  # ``corpus.tables`` nodes used for a lookup
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get":
            target, key = node.func.value, node.args[0] if node.args else None
        elif isinstance(node, ast.Subscript):
            target, key = node.value, node.slice
        else:
            continue
        if not names_corpus(target):
            continue
        looked_up.add(id(target))
        if not (isinstance(key, ast.Constant) and isinstance(key.value, str)):
            computed = True
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr == "tables" and names_corpus(node.value):
            computed = computed or id(node) not in looked_up
    return strings, computed


def names_corpus(node: ast.AST) -> bool:
    """``corpus`` (any name holding the word) or ``corpus.tables``."""
    if isinstance(node, ast.Attribute) and node.attr == "tables":
        node = node.value
    return isinstance(node, ast.Name) and "corpus" in node.id.lower()


def static_handler_problem(module_name: str, func_name: str, roots: Sequence[Path]) -> str | None:
    """What is wrong with a handler, read from its module's source (None: it looks right)."""
    path = module_file(module_name, roots)
    if path is None:
        return f"module {module_name!r} is not found in the workspace"
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, SyntaxError) as exc:
        return f"module {module_name!r} does not parse: {exc}"
    names = [
        n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
    ] + [t.id for n in tree.body if isinstance(n, ast.Assign) for t in n.targets if isinstance(t, ast.Name)]
    if func_name in names:
        return None
    return f"module has no function {func_name!r}{did_you_mean(func_name, [n for n in names if not n.startswith('_')])}"
