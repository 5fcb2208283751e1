"""The function's asset, really bundled (once): the package plus linux/arm64 wheels, offline, no Docker,
with its bytecode compiled for the Lambda's Python (3.13).

This machine cannot import the arm64 native code, so the checks read it: ELF headers and wheel tags
(tests/runtime/ runs the asset on arm64 under qemu). Needs the wheelhouse `make install` downloads
(`make test` runs it first) and a CPython 3.13 to compile with.
"""

from __future__ import annotations

import _imp
import ast
import json
import re
import shutil
import struct
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from aws_cdk import FileSystem

from infra.bundling import (
    MAX_UNZIPPED_BYTES,
    PACKAGE,
    TASK_ROOT,
    UNUSED_PACKAGES,
    BundlingError,
    bundle,
    compile_bytecode,
)
from infra.wheelhouse import LAMBDA_SOURCE, PLATFORM_TAG, PYTHON_VERSION, REQUIREMENTS, find_interpreter
from tests.infra.asset import Bundled, bundled_asset

pytestmark = pytest.mark.slow

EM_AARCH64 = 183
CP = "cp" + PYTHON_VERSION.replace(".", "")
# CPython 3.13's bytecode magic number (Lib/importlib/_bootstrap_external.py, fixed for all 3.13.x):
# an interpreter ignores a .pyc whose first four bytes differ from its own.
MAGIC_313 = (3571).to_bytes(2, "little") + b"\r\n"
CACHE_TAG = "cpython-" + PYTHON_VERSION.replace(".", "")
UNCHECKED_HASH = 0b01  # PEP 552 flags: hash-based, source not checked


@pytest.fixture(scope="module")
def bundled(tmp_path_factory: pytest.TempPathFactory) -> Bundled:
    return bundled_asset(tmp_path_factory)


def elf_machine(path: Path) -> int:
    header = path.read_bytes()[:20]
    assert header[:4] == b"\x7fELF", f"{path} is not an ELF file"
    assert header[4] == 2 and header[5] == 1, f"{path} is not 64-bit little-endian"
    return int(struct.unpack_from("<H", header, 18)[0])


def test_bundle_holds_the_lambda_package(bundled: Bundled) -> None:
    sources = {
        p.relative_to(LAMBDA_SOURCE) for p in LAMBDA_SOURCE.rglob("*.py") if "__pycache__" not in p.parts
    }
    assert Path("__init__.py") in sources
    for relative in sources:
        copied = bundled.asset / PACKAGE / relative
        assert copied.read_bytes() == (LAMBDA_SOURCE / relative).read_bytes(), relative
    if (LAMBDA_SOURCE / "handler.py").exists():
        assert (bundled.asset / PACKAGE / "handler.py").is_file()


def test_bundle_has_no_scripts_or_bytecode_from_this_machine(bundled: Bundled) -> None:
    assert not (bundled.asset / "bin").exists()
    assert not [p for p in bundled.asset.rglob("*.pyc") if not p.name.endswith(f".{CACHE_TAG}.pyc")]


def test_every_module_ships_bytecode_for_python_313(bundled: Bundled) -> None:
    """Lambda's /var/task is read-only: a module without a valid 3.13 .pyc is compiled at every cold start."""
    sources = [p for p in bundled.asset.rglob("*.py") if "__pycache__" not in p.parts]
    assert len(sources) > 300
    pycs = set(bundled.asset.rglob("*.pyc"))
    for source in sources:
        pyc = source.parent / "__pycache__" / f"{source.stem}.{CACHE_TAG}.pyc"
        assert pyc in pycs, f"no 3.13 bytecode for {source.relative_to(bundled.asset)}"
        header = pyc.read_bytes()[:16]
        # Given the .pyc header (PEP 552): magic, flags, then the source's hash
        assert header[:4] == MAGIC_313, f"{pyc}: magic {header[:4]!r} is not CPython 3.13's"
        assert int.from_bytes(header[4:8], "little") == UNCHECKED_HASH, pyc
        # Then it was compiled from exactly the source shipped beside it (3.13's keyed SipHash)
        key = int.from_bytes(MAGIC_313, "little")
        assert header[8:16] == _imp.source_hash(key, source.read_bytes()), f"{pyc} is stale"
    assert len(pycs) == len(sources)


def test_bytecode_does_not_depend_on_where_it_was_built(bundled: Bundled, tmp_path: Path) -> None:
    """The asset hash is taken from the output: compiling the same sources elsewhere gives the same bytes."""
    # Given the bundle's Python sources (only) copied to another directory
    copy = tmp_path / "elsewhere"

    def not_source(folder: str, names: list[str]) -> list[str]:
        return [n for n in names if not n.endswith(".py") and not (Path(folder) / n).is_dir()]

    shutil.copytree(bundled.asset, copy, ignore=not_source)
    # When they are compiled again
    compile_bytecode(copy)
    # Then every .pyc is byte for byte the shipped one, and records Lambda's path, not this machine's
    for pyc in bundled.asset.rglob("*.pyc"):
        assert (copy / pyc.relative_to(bundled.asset)).read_bytes() == pyc.read_bytes(), pyc
    handler = (bundled.asset / PACKAGE / "__pycache__" / f"handler.{CACHE_TAG}.pyc").read_bytes()
    assert f"{TASK_ROOT}/{PACKAGE}/handler.py".encode() in handler
    assert str(bundled.asset).encode() not in handler


def test_exactly_the_pinned_requirements_are_installed(bundled: Bundled) -> None:
    """The requirements are the complete set (installed --no-deps): nothing else, e.g. no botocore."""
    pins = re.findall(
        r"^([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?==(\S+)", REQUIREMENTS.read_text(), flags=re.MULTILINE
    )
    assert pins
    expected = {f"{re.sub(r'[-_.]+', '_', name).lower()}-{version}.dist-info" for name, version in pins}
    assert {p.name.lower() for p in bundled.asset.glob("*.dist-info")} == expected


def test_pillow_is_built_for_linux_arm64(bundled: Bundled) -> None:
    extensions = list((bundled.asset / "PIL").glob("*.so"))
    assert extensions, "Pillow's native extensions"
    assert {elf_machine(so) for so in extensions} == {EM_AARCH64}
    [wheel] = (bundled.asset).glob("pillow-*.dist-info/WHEEL")
    tags = re.findall(r"^Tag: (\S+)$", wheel.read_text(), flags=re.MULTILINE)
    assert f"{CP}-{CP}-{PLATFORM_TAG}" in tags


def test_all_native_code_is_for_linux_arm64(bundled: Bundled) -> None:
    shared = [p for p in bundled.asset.rglob("*.so*") if p.is_file()]
    assert len(shared) > 10
    wrong = [str(p.relative_to(bundled.asset)) for p in shared if elf_machine(p) != EM_AARCH64]
    assert not wrong
    for wheel in bundled.asset.glob("*.dist-info/WHEEL"):
        for tag in re.findall(r"^Tag: (\S+)$", wheel.read_text(), flags=re.MULTILINE):
            assert tag.endswith(("-none-any", "_aarch64")), f"{wheel.parent.name}: {tag}"
            assert tag.startswith(("py", f"{CP}-{CP}-")) or "-abi3-" in tag, f"{wheel.parent.name}: {tag}"


def test_bundle_fits_in_lambda(bundled: Bundled) -> None:
    size = sum(p.stat().st_size for p in bundled.asset.rglob("*") if p.is_file())
    assert size < MAX_UNZIPPED_BYTES


def test_asset_hash_is_taken_from_the_bundle(bundled: Bundled) -> None:
    """AssetHashType.OUTPUT: a changed dependency changes the hash, so it is never deployed stale."""
    assert FileSystem.fingerprint(str(bundled.asset)) == bundled.asset_hash


def test_bundling_with_a_missing_wheelhouse_says_to_run_make_install(tmp_path: Path) -> None:
    output = tmp_path / "bundle"
    output.mkdir()
    with pytest.raises(BundlingError, match="make install"):
        bundle(output, wheelhouse=tmp_path / "no-wheels")


def test_bundling_with_a_stale_wheelhouse_says_to_run_make_install(tmp_path: Path) -> None:
    wheelhouse = tmp_path / "wheels"
    wheelhouse.mkdir()
    (wheelhouse / "unrelated-1.0-py3-none-any.whl").write_bytes(b"")
    output = tmp_path / "bundle"
    output.mkdir()
    with pytest.raises(BundlingError, match="make install"):
        bundle(output, wheelhouse=wheelhouse)


def elf_needed(path: Path) -> list[str]:
    """The DT_NEEDED entries of a 64-bit little-endian ELF file (what the dynamic linker must find)."""
    data = path.read_bytes()
    (section_offset,) = struct.unpack_from("<Q", data, 0x28)
    entry_size, count = struct.unpack_from("<HH", data, 0x3A)
    sections = [
        struct.unpack_from("<IIQQQQIIQQ", data, section_offset + i * entry_size) for i in range(count)
    ]
    needed: list[str] = []
    for _name, kind, _flags, _addr, offset, size, link, *_ in sections:
        if kind != 6:  # SHT_DYNAMIC
            continue
        strings_offset = sections[link][4]
        for position in range(offset, offset + size, 16):
            tag, value = struct.unpack_from("<qQ", data, position)
            if tag == 1:  # DT_NEEDED
                end = data.index(b"\x00", strings_offset + value)
                needed.append(data[strings_offset + value : end].decode())
    return needed


def test_pruned_pillow_parts_are_gone_and_nothing_left_links_to_them(bundled: Bundled) -> None:
    # Given the bundle without Pillow's AVIF codec and text rendering
    assert not list(bundled.asset.glob("PIL/_avif.*.so"))
    assert not list(bundled.asset.glob("PIL/_imagingft.*.so"))
    assert not list(bundled.asset.glob("pillow.libs/libfreetype-*"))
    # Then every vendored library any remaining native file needs is still in the bundle
    vendored = {p.name for p in bundled.asset.glob("*.libs/*")}
    for library in bundled.asset.rglob("*.so*"):
        for name in elf_needed(library):
            if re.search(r"-[0-9a-f]{8}\.so", name):  # auditwheel's renamed, bundled copies
                assert name in vendored, f"{library.name} needs {name}, which is not in the bundle"
    # and the decoders the pipeline uses are there
    assert list(bundled.asset.glob("PIL/_imaging.*.so")) and list(bundled.asset.glob("PIL/_webp.*.so"))
    assert list(bundled.asset.glob("_pillow_heif.*.so")) and list(bundled.asset.glob("PIL/_imagingcms.*.so"))


POWERTOOLS = "aws_lambda_powertools"
# The imports of pruned Powertools parts left in the bundle's code, by module and the `def` or `if`
# around them, and why none can run: each needs pydantic, which neither the asset nor the Lambda
# runtime provides (and nothing the function does imports it).
PYDANTIC_ONLY = {
    # `if has_pydantic:`, where has_pydantic = "pydantic" in sys.modules: the batch types' parser models
    (f"{POWERTOOLS}.utilities.batch.types", "if has_pydantic"),
    # called for an object with a `json` attribute (is_pydantic) by Logger.inject_lambda_context's
    # log_event, which the function leaves off; its event is a dict, returned before that check anyway
    (f"{POWERTOOLS}.shared.functions", "def pydantic_to_dict"),
}


DYNAMIC_IMPORTS = ("import_module", "__import__", "LazyLoader")


def module_name(asset: Path, path: Path) -> str:
    parts = list(path.relative_to(asset).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_names(tree: ast.Module, name: str, is_package: bool) -> Iterator[tuple[str, str, int]]:
    """(module imported, the innermost `def NAME` or `if TEST` around it, line) for every import in a
    module: top level, in functions, under `if TYPE_CHECKING`, in `try`, and importlib/LazyLoader calls
    whose argument is a literal. `from X import Y` yields X and X.Y (Y may be a submodule)."""
    package = name.split(".") if is_package else name.split(".")[:-1]

    def visit(node: ast.AST, where: str) -> Iterator[tuple[str, str, int]]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import):
                for alias in child.names:
                    yield alias.name, where, child.lineno
            elif isinstance(child, ast.ImportFrom):
                parent = package[: len(package) - child.level + 1] if child.level else []
                base = ".".join([*parent, *([child.module] if child.module else [])])
                yield base, where, child.lineno
                for alias in child.names:
                    yield f"{base}.{alias.name}", where, child.lineno
            elif isinstance(child, ast.Call) and ast.unparse(child.func).endswith(DYNAMIC_IMPORTS):
                for argument in child.args:
                    if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
                        yield argument.value, where, child.lineno
            inner = where
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                inner = f"def {child.name}"
            elif isinstance(child, ast.If):
                inner = f"if {ast.unparse(child.test)}"
            yield from visit(child, inner)

    yield from visit(tree, "module")


def test_pruned_powertools_parts_are_gone_and_nothing_left_imports_them(bundled: Bundled) -> None:
    """Every import in every remaining Powertools module, wherever it is (failure paths and lazy imports
    included), finds its module in the bundle, but for the declared pydantic-only ones."""
    # Given the bundle without the Powertools subpackages the function never uses
    for package in UNUSED_PACKAGES:
        assert not (bundled.asset / package).exists(), package
    pruned = [package.replace("/", ".") for package in UNUSED_PACKAGES]

    def exists(name: str) -> bool:
        path = bundled.asset.joinpath(*name.split("."))
        return (path / "__init__.py").is_file() or path.with_suffix(".py").is_file()

    # When every module left is scanned for imports
    sources = sorted((bundled.asset / POWERTOOLS).rglob("*.py"))
    assert len(sources) > 100
    dangling: dict[tuple[str, str], list[str]] = {}
    for source in sources:
        name = module_name(bundled.asset, source)
        tree = ast.parse(source.read_bytes(), filename=str(source))
        for imported, where, line in imported_names(tree, name, source.name == "__init__.py"):
            if any(imported == p or imported.startswith(f"{p}.") for p in pruned):
                dangling.setdefault((name, where), []).append(f"{imported} (line {line})")
            elif imported.split(".")[0] == POWERTOOLS:
                # `from X import Y`: X is there, and X.Y is a module or a name X defines
                assert exists(imported) or exists(imported.rpartition(".")[0]), f"{name}:{line}: {imported}"
    # Then the only imports of pruned parts are the pydantic-only ones, and pydantic is not shipped
    assert set(dangling) == PYDANTIC_ONLY, dangling
    assert not (bundled.asset / "pydantic").exists()
    assert not list(bundled.asset.glob("pydantic*.dist-info"))
    # and what the function imports from Powertools is there
    for used in ("utilities.batch", "utilities.data_classes.sqs_event", "utilities.typing", "metrics"):
        assert exists(f"{POWERTOOLS}.{used}"), used


def test_every_powertools_module_left_imports_from_the_bundle_on_python_313(bundled: Bundled) -> None:
    """Imported, not only read: each remaining Powertools module by CPython 3.13 with the bundle as
    sys.path[0] and no site-packages (-S), so nothing missing is found elsewhere; no bytecode written."""
    names = [module_name(bundled.asset, p) for p in sorted((bundled.asset / POWERTOOLS).rglob("*.py"))]
    script = (
        "import importlib, json, sys\n"
        "sys.path.insert(0, sys.argv[1])\n"
        "failed = {}\n"
        "for name in json.loads(sys.argv[2]):\n"
        "    try:\n"
        "        importlib.import_module(name)\n"
        "    except Exception as error:\n"
        "        failed[name] = f'{type(error).__name__}: {error}'\n"
        "print(json.dumps({'failed': failed, 'pydantic': 'pydantic' in sys.modules}))\n"
    )
    done = subprocess.run(
        [str(find_interpreter()), "-I", "-S", "-B", "-c", script, str(bundled.asset), json.dumps(names)],
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result == {"failed": {}, "pydantic": False}
    assert len(names) > 100
