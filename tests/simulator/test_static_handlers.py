"""The daemon checks a spec's handlers by reading their modules, never running them."""

from __future__ import annotations

from pathlib import Path

from connector_watch.simulator.spec import check_spec

SPEC = "endpoints:\n  - path: /items\n    method: GET\n    handler: shophandlers.items:{name}\n"


def write(tmp_path: Path, name: str) -> Path:
    package = tmp_path / "shophandlers"
    package.mkdir(exist_ok=True)
    (package / "__init__.py").write_text("")
    marker = tmp_path / "imported"
    (package / "items.py").write_text(
        f"open({str(marker)!r}, 'w').write('ran')\n\ndef serve(request, ctx):\n    return None\n"
    )
    spec = tmp_path / "endpoints.yaml"
    spec.write_text(SPEC.format(name=name))
    return spec


def test_a_handler_is_found_without_running_its_module(tmp_path: Path) -> None:
    spec, issues = check_spec(write(tmp_path, "serve"), check_files=False, handler_roots=[tmp_path])
    assert spec is not None and [i for i in issues if i.code == "bad-handler"] == []
    assert not (tmp_path / "imported").exists()


def test_a_misspelled_handler_is_located_without_running_its_module(tmp_path: Path) -> None:
    _, issues = check_spec(write(tmp_path, "serv"), check_files=False, handler_roots=[tmp_path])
    [issue] = [i for i in issues if i.code == "bad-handler"]
    assert "no function 'serv'" in issue.message and "did you mean 'serve'" in issue.message
    assert issue.span.start.line == 4
    assert not (tmp_path / "imported").exists()
