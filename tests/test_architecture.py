"""The layout rules: imports go one way (pages, api, jobs, cli -> core; inside core, higher
packages -> lower ones, no cycles: the import-linter contracts of pyproject.toml), core never
imports a web, dashboard or scheduler framework, and no test module imports another one."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN_IN_CORE = {"streamlit", "fastapi", "starlette", "schedule", "api", "jobs", "cli", "pages", "app"}
# what a test module may import from tests/: the shared factories and the SMTP test server
SHARED_TEST_MODULES = ("tests.factories", "tests.smtp")


def _imports(path: Path) -> set[str]:
    """The absolute module names ``path`` imports (anywhere in the file, functions included)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
            names |= {f"{node.module}.{a.name}" for a in node.names}
    return names


def _roots(names: set[str]) -> set[str]:
    return {n.split(".")[0] for n in names}


def test_core_imports_no_framework_and_nothing_above_it():
    offenders = {}
    for path in sorted((ROOT / "core").rglob("*.py")):
        bad = _roots(_imports(path)) & FORBIDDEN_IN_CORE
        if bad:
            offenders[str(path.relative_to(ROOT))] = sorted(bad)
    assert offenders == {}


def test_the_checker_sees_a_forbidden_import(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text(  # an import inside a function counts too
        "import streamlit as st\nfrom fastapi import FastAPI\n\n\ndef f():\n    from jobs import x\n"
    )
    assert {"streamlit", "fastapi", "jobs"} <= _roots(_imports(bad))


def _test_module_imports(names: set[str]) -> set[str]:
    """The imports of ``names`` that reach into another test module (not a shared one)."""
    return {
        n for n in names
        if n.split(".")[0] == "tests"
        and n != "tests"
        and not any(n == m or n.startswith(m + ".") for m in SHARED_TEST_MODULES)
    }


def test_no_test_module_imports_another():
    """Tests share code through tests.factories (and tests.smtp), never by importing another
    test module or a conftest (fixtures reach tests through pytest, not imports)."""
    offenders = {}
    for path in sorted((ROOT / "tests").rglob("*.py")):
        bad = _test_module_imports(_imports(path))
        if bad:
            offenders[str(path.relative_to(ROOT))] = sorted(bad)
    assert offenders == {}


def test_the_test_import_checker(tmp_path):
    mod = tmp_path / "test_x.py"
    mod.write_text(
        "from tests.factories import ADMIN\nfrom tests.factories.knowledge import seed\n"
        "from tests.smtp import Inbox\nfrom tests.api.test_chat import make_kb\n"
        "from tests.pages.conftest import page\n\ndef f():\n    import tests.core.kb_helpers\n"
    )
    assert _test_module_imports(_imports(mod)) == {
        "tests.api.test_chat", "tests.api.test_chat.make_kb", "tests.pages.conftest",
        "tests.pages.conftest.page", "tests.core.kb_helpers",
    }


def _lint_imports() -> list[str]:
    exe = Path(sys.executable).with_name("lint-imports")
    if exe.exists():
        return [str(exe)]
    found = shutil.which("lint-imports")
    if found is None:
        pytest.skip("import-linter is not installed (pip install -e '.[test]')")
    return [found]


def test_import_contracts_are_kept():
    """The import-linter contracts of pyproject.toml (layers of core, no cycle inside a core
    package, api/jobs/cli independent, core never imports a framework). On failure the report
    lists each broken contract and the import chains that break it."""
    proc = subprocess.run(
        [*_lint_imports(), "--no-cache", "--no-logo"], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    if proc.returncode != 0:
        out = proc.stdout + proc.stderr
        start = out.find("Broken contracts")
        report = out[start:] if start >= 0 else out
        kept = [ln for ln in out.splitlines() if ln.rstrip().endswith(("KEPT", "BROKEN"))]
        pytest.fail("import-linter contracts are broken:\n\n" + "\n".join(kept) + "\n\n" + report.strip(),
                    pytrace=False)
