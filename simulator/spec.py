"""The one loader for ``endpoints.yaml``.

Everything that reads a spec (the simulator, the validator, the corpus tools,
the daemon's static checks) calls :func:`check_spec` or :func:`load_spec`.

The allowed keys, roles, ops and pagination styles are read from the JSON
Schema shipped beside this module (``endpoints.schema.json``), so the schema
editors use and the loader can never disagree; the loader adds the checks a
schema cannot express (a path filter naming a missing placeholder, a handler
that does not import, a corpus file that does not exist, ...). Every problem is
an :class:`~connector_watch.simulator.errors.Issue` with file, line and column.

This module is the entry point callers import (the loader, the model, the errors); its parts
are ``spec_schema`` (the schema and its errors in words), ``spec_reader`` (the model pass and the
checks a schema cannot express), ``handler_source`` (handlers read without running them) and
``spec_model`` (the data classes).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from connector_watch.simulator.errors import Issue, SpecError
from connector_watch.simulator.locations import (
    LocatedSyntaxError,
    Span,
    decode_utf8,
    display_path,
    load_yaml,
)
from connector_watch.simulator.spec_model import (
    Endpoint,
    ErrorResponse,
    FutureRecords,
    Param,
    ResponseSpec,
    Spec,
    Wrapper,
)
from connector_watch.simulator.spec_reader import SpecReader

__all__ = [
    "Endpoint",
    "ErrorResponse",
    "FutureRecords",
    "Issue",
    "Param",
    "ResponseSpec",
    "Spec",
    "SpecError",
    "Wrapper",
    "check_spec",
    "load_spec",
]


def check_spec(
    path: str | Path,
    corpus_dir: str | Path | None = None,
    *,
    text: str | None = None,
    display: str | None = None,
    check_files: bool = True,
    handler_roots: Sequence[Path] | None = None,
) -> tuple[Spec | None, list[Issue]]:
    """Load a spec without raising: ``(spec or None, every issue found)``.

    ``spec`` is None when a blocking issue (syntax, unknown key, ...) prevents
    serving it. ``text`` overrides the file contents (the daemon checks unsaved
    or just-saved text); ``display`` is the path to print in messages.
    ``handler_roots``: check handlers by finding their module under these folders (and
    ``sys.path``) and reading it, without importing it (the daemon never runs user code).
    """
    path = Path(path)
    corpus_dir = Path(corpus_dir) if corpus_dir is not None else path.parent / "corpus"
    file = display or display_path(path)
    try:
        source = text if text is not None else decode_utf8(path.read_bytes(), file)
    except OSError as exc:
        return None, [Issue(file, Span.point(1, 1), f"cannot read spec: {exc.strerror or exc}", code="io")]
    except LocatedSyntaxError as exc:
        return None, [Issue(file, exc.span, exc.message, code="encoding")]
    try:
        doc = load_yaml(source, file)
    except LocatedSyntaxError as exc:
        return None, [Issue(file, exc.span, exc.message, code="yaml-syntax")]
    reader = SpecReader(doc, path, corpus_dir, check_files, handler_roots)
    for dup_path, span in doc.duplicate_keys:
        reader.issues.append(
            Issue(
                file,
                span,
                f"duplicate key {dup_path[-1]!r}: the later value wins",
                severity="warning",
                code="duplicate-key",
                blocking=False,
            )
        )
    reader.schema_issues()
    if any(i.blocking for i in reader.issues):
        return None, reader.issues
    endpoints = reader.build()
    if any(i.blocking for i in reader.issues):
        return None, reader.issues
    return Spec(path, file, endpoints, corpus_dir, reader.issues, doc), reader.issues


_loaded: dict[tuple[Any, ...], Spec] = {}


def load_spec(path: str | Path, corpus_dir: str | Path | None = None, *, check_files: bool = True) -> Spec:
    """Load a spec, raising :class:`SpecError` (a ``ValueError``) on any blocking issue.

    A spec whose file (and corpus directory) did not change since it was last loaded in this
    process is returned again rather than parsed and validated again; specs are read-only.
    """
    path = Path(path)
    corpus = Path(corpus_dir) if corpus_dir is not None else path.parent / "corpus"
    key = (str(path.resolve()), str(corpus), check_files, _stamp(path), _stamp(corpus))
    cached = _loaded.get(key)
    if cached is not None:
        return cached
    spec, issues = check_spec(path, corpus_dir, check_files=check_files)
    if spec is None:
        raise SpecError([i for i in issues if i.blocking])
    if len(_loaded) > 32:
        _loaded.clear()
    _loaded[key] = spec
    return spec


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_size
