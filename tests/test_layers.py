"""The layers hold: pages reach storage only through core, and core never imports streamlit."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
UI_FILES = sorted([ROOT / "app.py", *(ROOT / "pages").glob("*.py")])
CORE_FILES = sorted((ROOT / "core").rglob("*.py"))


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, at any depth (inside functions too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
    return found


def top_level(modules: set[str]) -> set[str]:
    return {module.split(".")[0] for module in modules}


@pytest.mark.parametrize("path", UI_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_a_page_reaches_storage_only_through_core(path: Path) -> None:
    forbidden = top_level(imported_modules(path)) & {"db", "sqlalchemy", "sqlmodel", "psycopg"}
    assert forbidden == set(), f"{path.name} imports {sorted(forbidden)}: ask core instead"


@pytest.mark.parametrize("path", CORE_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_core_never_imports_streamlit(path: Path) -> None:
    assert "streamlit" not in top_level(imported_modules(path))


def test_the_check_sees_an_import_hidden_inside_a_function(tmp_path: Path) -> None:
    page = tmp_path / "page.py"
    page.write_text("def f():\n    from sqlalchemy.exc import DBAPIError\n    import db.engine\n")
    assert top_level(imported_modules(page)) == {"sqlalchemy", "db"}


def hand_rolled_actions(path: Path) -> list[int]:
    """Lines where a page opens a write transaction itself, or catches errors around one:
    pages act through `_ui.run_action`, which commits, rolls back and shows the refusal."""
    writes = {"write_session", "_write_session"}
    sessions = {"read_session", *writes}
    found: list[int] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Attribute) and node.attr in writes:
            found.append(node.lineno)
        elif isinstance(node, ast.Try) and node.handlers:
            found += [inner.lineno for statement in node.body for inner in ast.walk(statement)
                      if isinstance(inner, ast.Attribute) and inner.attr in sessions]
    return sorted(set(found))


@pytest.mark.parametrize("path", [p for p in UI_FILES if p.name != "_ui.py"],
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_a_page_acts_through_run_action(path: Path) -> None:
    assert hand_rolled_actions(path) == [], f"{path.name}: use _ui.run_action"


def test_the_check_sees_a_transaction_caught_by_hand(tmp_path: Path) -> None:
    page = tmp_path / "page.py"
    page.write_text("try:\n    with _ui.read_session() as s:\n        x(s)\nexcept E:\n    pass\n"
                    "with _ui._write_session() as s:\n    y(s)\n")
    assert hand_rolled_actions(page) == [2, 6]
