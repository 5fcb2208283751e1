"""The Lambda package's layers (docs/architecture.md, "Layers"), read from the source with `ast`: who may
import whom. Nothing is imported or run, so a violation is reported even where Python would cope."""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support import PROJECT_ROOT

PACKAGE_DIR = PROJECT_ROOT / "lambdas" / "image_analysis"
PACKAGE = "image_analysis"
SUBPACKAGES = ("domain", "imaging", "adapters")
# The application modules, lowest first: each may import the ones before it, never one after it.
APPLICATION = (
    "observability",
    "fingerprints",
    "runtime",
    "people",
    "embedding",
    "analysis",
    "result",
    "removal",
    "pipeline",
    "batch",
)
HANDLER_MAY_IMPORT = {"settings", "runtime", "batch", "observability"}
# Third-party distributions each layer may use besides the standard library (None: any).
THIRD_PARTY = {
    "settings": set(),
    "domain": set(),
    "imaging": {"PIL", "pillow_heif", "tzfpy"},
    "adapters": {"botocore", "boto3"},
    "application": None,
    "handler": None,
    "package": set(),
}
TYPE_STUBS = "mypy_boto3_"  # boto3's type stubs: for annotations only (under TYPE_CHECKING)


@dataclass(frozen=True)
class Import:
    importer: str  # module path inside the package, e.g. "domain.models" ("" for the package itself)
    target: str  # "pipeline", "domain.models", or an outside top-level name such as "PIL"
    internal: bool
    type_only: bool  # under `if TYPE_CHECKING:`
    line: int

    def __str__(self) -> str:
        where = "image_analysis" + (f".{self.importer}" if self.importer else "")
        kind = " (type-only)" if self.type_only else ""
        return f"{where} line {self.line} imports {self.target}{kind}"


def modules() -> dict[str, Path]:
    """Every module of the package by its path inside it ("domain.models"; "" is __init__.py)."""
    found = {}
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE_DIR).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


MODULES = modules()


def layer(module: str) -> str:
    top = module.split(".")[0]
    if module == "":
        return "package"
    if top in SUBPACKAGES:
        return top
    if module in APPLICATION:
        return "application"
    if module in ("settings", "handler"):
        return module
    raise AssertionError(
        f"image_analysis.{module} belongs to no layer: move it into domain/, imaging/ or adapters/, "
        "or add it to APPLICATION here and to the Layers section of docs/architecture.md"
    )


def imports_of(module: str) -> list[Import]:
    path = MODULES[module]
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: list[Import] = []

    def visit(node: ast.AST, type_only: bool) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.body:
                visit(child, True)
            for child in node.orelse:
                visit(child, type_only)
            return
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.append(_classify(module, alias.name, type_only, node.lineno))
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                base = package.split(".") if package else []
                base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
                target = ".".join([*base, *([node.module] if node.module else [])])
                for alias in node.names:
                    submodule = f"{target}.{alias.name}" if target else alias.name
                    name = submodule if submodule in MODULES else target
                    found.append(Import(module, name, True, type_only, node.lineno))
            elif node.module and node.module != "__future__":
                found.append(_classify(module, node.module, type_only, node.lineno))
        for child in ast.iter_child_nodes(node):
            visit(child, type_only)

    visit(tree, False)
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _classify(importer: str, dotted: str, type_only: bool, line: int) -> Import:
    if dotted == PACKAGE or dotted.startswith(PACKAGE + "."):
        return Import(importer, dotted.removeprefix(PACKAGE).lstrip("."), True, type_only, line)
    return Import(importer, dotted.split(".")[0], False, type_only, line)


ALL_IMPORTS = [imp for module in MODULES for imp in imports_of(module)]


def internal_allowed(imp: Import) -> bool:
    """The layer rules for imports inside the package."""
    source, target = layer(imp.importer), layer(imp.target)
    if source == "settings" or source == "package":
        return False  # settings imports nothing from the package (the CDK app and the CLI import it)
    if source == "domain":
        return target == "domain"
    if source == "imaging":
        return target in ("domain", "imaging")
    if source == "adapters":
        # imaging's data types (Rendition) for annotations; never its code, so no Pillow at import
        return target in ("domain", "adapters") or (target == "imaging" and imp.type_only)
    if source == "application":
        if target == "application":
            return APPLICATION.index(imp.target) < APPLICATION.index(imp.importer)
        return target in ("domain", "imaging", "adapters", "settings")
    if source == "handler":
        return imp.target in HANDLER_MAY_IMPORT
    raise AssertionError(source)


def external_allowed(imp: Import) -> bool:
    if imp.target in sys.stdlib_module_names:
        return True
    if imp.target.startswith(TYPE_STUBS):
        return imp.type_only and layer(imp.importer) not in ("domain", "imaging", "settings")
    allowed = THIRD_PARTY[layer(imp.importer)]
    return allowed is None or imp.target in allowed


def test_every_module_belongs_to_a_layer() -> None:
    assert {layer(module) for module in MODULES} == {
        "package",
        "settings",
        "domain",
        "imaging",
        "adapters",
        "application",
        "handler",
    }


def test_the_imports_are_read_from_the_source() -> None:
    # A few edges the code is known to have: if the reader broke, the rules below would pass vacuously.
    edges = {(imp.importer, imp.target) for imp in ALL_IMPORTS if imp.internal}
    assert {
        ("handler", "batch"),
        ("batch", "pipeline"),
        ("pipeline", "removal"),
        ("pipeline", "result"),
        ("result", "analysis"),
        ("analysis", "runtime"),
        ("runtime", "adapters.s3"),
        ("adapters.s3", "domain.errors"),
        ("imaging.prepare", "domain.errors"),
        ("domain.records", "domain.table"),
    } <= edges
    assert ("adapters.bedrock", "imaging.renditions") in {
        (imp.importer, imp.target) for imp in ALL_IMPORTS if imp.type_only
    }


@pytest.mark.parametrize("module", sorted(MODULES), ids=lambda m: m or "__init__")
def test_imports_inside_the_package_follow_the_layers(module: str) -> None:
    wrong = [str(imp) for imp in imports_of(module) if imp.internal and not internal_allowed(imp)]
    assert wrong == [], "upward or sideways imports:\n" + "\n".join(wrong)


@pytest.mark.parametrize("module", sorted(MODULES), ids=lambda m: m or "__init__")
def test_each_layer_uses_only_its_own_libraries(module: str) -> None:
    wrong = [str(imp) for imp in imports_of(module) if not imp.internal and not external_allowed(imp)]
    assert wrong == [], f"libraries the {layer(module)} layer must not use:\n" + "\n".join(wrong)


def test_nothing_imports_the_handler() -> None:
    assert [str(imp) for imp in ALL_IMPORTS if imp.internal and imp.target == "handler"] == []
