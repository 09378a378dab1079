"""Generate a workspace of N sources: copies of the bundled examples under new names.

The toolkit (the ``simulator`` package with its schema, the test harness, the shared
``sources`` modules, ``pyproject.toml``) is copied as it is in this checkout; then source
``i`` is a copy of example ``EXAMPLES[i % 4]`` named ``f"{base}{i}"``: its connector package
(``sources/zendesk/zendesk.py`` becomes ``sources/zendesk7/zendesk7.py``), its spec and corpus
(``simulator/specs/zendesk7/``) and its tests (``tests/unit/sources/zendesk7/``, with the test
module, the helper modules, the imports, ``simulator_source`` and the test class renamed). The
original examples are left out, so the workspace has exactly N sources.
"""

from __future__ import annotations

import fnmatch
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = ("github", "zendesk", "hubspot", "msgraph")
_SKIP = ("__pycache__", "cassettes", ".connector-watch", "*.pyc", "_generated_*", ".testmondata*")


@dataclass
class GeneratedWorkspace:
    root: Path
    sources: list[str]
    bases: dict[str, str] = field(default_factory=dict)  # new name -> example it copies

    def pick(self, base: str) -> str:
        """The copy of ``base`` nearest the middle of the workspace (the one the benchmark edits)."""
        candidates = [name for name in self.sources if self.bases[name] == base]
        if not candidates:
            raise ValueError(f"no copy of {base!r} among {len(self.sources)} sources (need at least 2)")
        middle = len(self.sources) // 2
        return min(candidates, key=lambda name: abs(self.sources.index(name) - middle))


def _ignore_examples(*skip: str):  # type: ignore[no-untyped-def]
    patterns = shutil.ignore_patterns(*_SKIP)

    def ignore(directory: str, names: list[str]) -> set[str]:
        ignored = set(patterns(directory, names))
        ignored.update(name for name in names if name in skip)
        return ignored

    return ignore


def copy_toolkit(destination: Path, repo: Path = REPO) -> None:
    """Everything but the example sources: simulator, shared source modules, harness, pyproject."""
    destination.mkdir(parents=True, exist_ok=True)
    examples = set(EXAMPLES)
    shutil.copytree(repo / "sources", destination / "sources", ignore=_ignore_examples(*examples))
    shutil.copytree(repo / "simulator", destination / "simulator", ignore=_ignore_examples(*examples))
    (destination / "tests" / "unit").mkdir(parents=True)
    shutil.copy(repo / "tests" / "__init__.py", destination / "tests" / "__init__.py")
    shutil.copy(repo / "tests" / "unit" / "__init__.py", destination / "tests" / "unit" / "__init__.py")
    shutil.copytree(repo / "tests" / "harness", destination / "tests" / "harness", ignore=_ignore_examples())
    shutil.copytree(
        repo / "tests" / "unit" / "sources",
        destination / "tests" / "unit" / "sources",
        ignore=_ignore_examples(*examples),
    )
    shutil.copy(repo / "pyproject.toml", destination / "pyproject.toml")


def rename_text(text: str, base: str, new: str, index: int) -> str:
    """Rewrite a copied file of example ``base`` for its copy ``new``: imports, names, test class."""
    # Module paths: sources.zendesk.zendesk_schemas -> sources.zendesk7.zendesk7_schemas, and
    # tests.unit.sources.zendesk.zendesk_test_utils -> tests.unit.sources.zendesk7.zendesk7_test_utils.
    package = r"(?<![\w.])((?:tests\.unit\.)?sources)\." + re.escape(base)
    text = re.sub(package + r"\." + re.escape(base) + r"(\w*)\b", rf"\1.{new}.{new}\2", text)
    text = re.sub(package + r"\b", rf"\1.{new}", text)
    text = re.sub(
        r"(simulator_source\s*=\s*)([\"'])" + re.escape(base) + r"\2", rf"\g<1>\g<2>{new}\g<2>", text
    )
    text = re.sub(r"\b(sources|specs)/" + re.escape(base) + r"/", rf"\1/{new}/", text)
    capital = base[:1].upper() + base[1:]
    # class TestZendeskConnector -> class TestZendesk7Connector (unique names across the workspace)
    return re.sub(r"\bclass Test" + re.escape(capital) + r"(?=\w|\(|:)", f"class Test{capital}{index}", text)


def _copy_renamed(source_dir: Path, target_dir: Path, base: str, new: str, index: int) -> None:
    for path in sorted(source_dir.rglob("*")):
        relative = path.relative_to(source_dir)
        if any(fnmatch.fnmatch(part, pattern) for part in relative.parts for pattern in _SKIP):
            continue
        name = path.name
        if name.startswith(base):
            name = new + name[len(base) :]
        elif name.startswith(f"test_{base}"):
            name = f"test_{new}" + name[len(base) + 5 :]
        target = target_dir / relative.parent / name
        if path.is_dir():
            target.mkdir(parents=True, exist_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix == ".py":
            target.write_text(
                rename_text(path.read_text(encoding="utf-8"), base, new, index), encoding="utf-8"
            )
        else:
            shutil.copyfile(path, target)


def generate(destination: Path, count: int, repo: Path = REPO) -> GeneratedWorkspace:
    """A workspace of ``count`` sources at ``destination`` (which must not exist or be empty)."""
    destination = Path(destination)
    copy_toolkit(destination, repo)
    workspace = GeneratedWorkspace(destination.resolve(), [])
    for i in range(count):
        base = EXAMPLES[i % len(EXAMPLES)]
        new = f"{base}{i}"
        _copy_renamed(repo / "sources" / base, destination / "sources" / new, base, new, i)
        _copy_renamed(
            repo / "simulator" / "specs" / base, destination / "simulator" / "specs" / new, base, new, i
        )
        _copy_renamed(
            repo / "tests" / "unit" / "sources" / base,
            destination / "tests" / "unit" / "sources" / new,
            base,
            new,
            i,
        )
        workspace.sources.append(new)
        workspace.bases[new] = base
    return workspace


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("destination", type=Path)
    parser.add_argument("count", type=int)
    args = parser.parse_args(argv)
    workspace = generate(args.destination, args.count)
    print(f"{len(workspace.sources)} sources in {workspace.root}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
