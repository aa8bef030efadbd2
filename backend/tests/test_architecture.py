"""The shape of `backend/app`: small modules, small folders, packages without import cycles.

Imports are read with `ast` (also those inside functions and under TYPE_CHECKING: a lazy
import that breaks a cycle at run time still ties the two packages together).
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

APP_DIR = Path(__file__).resolve().parents[1] / "app"
MAX_MODULE_LINES = 500
MAX_MODULES_PER_FOLDER = 12

# Today's known offenders, while the moves of the current restructuring land; each entry
# names what has to go. Shrink these as they are fixed; the goal is empty sets.
LONG_MODULES_ALLOWED: set[str] = set()
CROWDED_FOLDERS_ALLOWED: set[str] = set()
MUTUAL_IMPORTS_ALLOWED: set[frozenset[str]] = set()


def python_modules() -> list[Path]:
    return sorted(path for path in APP_DIR.rglob("*.py") if "__pycache__" not in path.parts)


def module_name(path: Path) -> str:
    parts = ["app", *path.relative_to(APP_DIR).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, known: set[str]) -> set[str]:
    """The `app` modules `path` imports (a `from package import name` counts the module
    `package.name` when it is one, else the package)."""
    this = module_name(path)
    package = this if path.name == "__init__.py" else this.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                source = f"{base}.{node.module}" if node.module else base
            else:
                source = node.module or ""
            for alias in node.names:
                candidate = f"{source}.{alias.name}"
                found.add(candidate if candidate in known else source)
    return {name for name in found if name == "app" or name.startswith("app.")}


def test_no_module_is_over_500_lines() -> None:
    long_modules = {
        path.relative_to(APP_DIR).as_posix()
        for path in python_modules()
        if len(path.read_text(encoding="utf-8").splitlines()) > MAX_MODULE_LINES
    }
    assert long_modules <= LONG_MODULES_ALLOWED, sorted(long_modules - LONG_MODULES_ALLOWED)
    assert not LONG_MODULES_ALLOWED - long_modules, "fixed: shrink LONG_MODULES_ALLOWED"


def test_no_folder_holds_over_12_modules() -> None:
    per_folder: dict[str, int] = defaultdict(int)
    for path in python_modules():
        per_folder[path.parent.relative_to(APP_DIR).as_posix()] += 1
    crowded = {folder for folder, count in per_folder.items() if count > MAX_MODULES_PER_FOLDER}
    assert crowded <= CROWDED_FOLDERS_ALLOWED, sorted(crowded - CROWDED_FOLDERS_ALLOWED)
    assert not CROWDED_FOLDERS_ALLOWED - crowded, "fixed: shrink CROWDED_FOLDERS_ALLOWED"


def test_no_two_packages_import_each_other() -> None:
    paths = python_modules()
    known = {module_name(path) for path in paths}
    packages = {module_name(path.parent / "__init__.py") for path in paths} - {"app"}
    top_packages = {name for name in packages if name.count(".") == 1}
    imports: dict[str, set[str]] = defaultdict(set)
    for path in paths:
        source = module_name(path)
        for target in imported_modules(path, known):
            # Every level: app.X against app.Y, and app.X.a against app.X.b inside a package.
            source_parts, target_parts = source.split("."), target.split(".")
            depth = 0
            while (
                depth < min(len(source_parts), len(target_parts)) - 1
                and source_parts[depth] == target_parts[depth]
            ):
                depth += 1
            source_unit = ".".join(source_parts[: depth + 1])
            target_unit = ".".join(target_parts[: depth + 1])
            if source_unit != target_unit and (source_unit in packages or target_unit in packages):
                imports[source_unit].add(target_unit)
    mutual = {
        frozenset((source, target))
        for source, targets in imports.items()
        for target in targets
        if source in imports.get(target, set()) and (source in packages and target in packages)
    }
    assert top_packages, "no packages found under app"
    assert mutual <= MUTUAL_IMPORTS_ALLOWED, sorted(
        sorted(pair) for pair in mutual - MUTUAL_IMPORTS_ALLOWED
    )
    assert not MUTUAL_IMPORTS_ALLOWED - mutual, "fixed: shrink MUTUAL_IMPORTS_ALLOWED"


def test_the_production_app_never_imports_the_simulators() -> None:
    importers = {
        module_name(path)
        for path in python_modules()
        if any(name.split(".")[0] == "sandbox" for name in _all_imports(path))
    }
    assert importers <= {"app.embedded"}, sorted(importers)


def _all_imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            names.add(node.module)
    return names
