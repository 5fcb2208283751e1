"""The function's asset, really bundled (once): the package plus linux/arm64 wheels, offline, no Docker.

This machine cannot import the arm64 native code, so the checks read it: ELF headers and wheel tags.
Needs the wheelhouse `make install` downloads (`make test` runs it first).
"""

from __future__ import annotations

import re
import struct
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from aws_cdk import FileSystem

from infra.bundling import MAX_UNZIPPED_BYTES, PACKAGE, BundlingError, bundle
from infra.wheelhouse import LAMBDA_SOURCE, PLATFORM_TAG, PYTHON_VERSION, REQUIREMENTS
from tests.infra.conftest import Synth, synth

pytestmark = pytest.mark.slow

EM_AARCH64 = 183
CP = "cp" + PYTHON_VERSION.replace(".", "")


@dataclass
class Bundled:
    synth: Synth
    asset: Path
    asset_hash: str
    seconds: float


@pytest.fixture(scope="module")
def bundled(tmp_path_factory: pytest.TempPathFactory) -> Bundled:
    start = time.monotonic()
    result = synth(tmp_path_factory.mktemp("cdk.out"), bundling=True)
    seconds = time.monotonic() - start
    code = result.json["Resources"][result.logical_id("Processing/Function")]["Properties"]["Code"]
    asset_hash = code["S3Key"].removesuffix(".zip")
    return Bundled(
        synth=result, asset=result.outdir / f"asset.{asset_hash}", asset_hash=asset_hash, seconds=seconds
    )


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


def test_bundle_has_no_bytecode_or_scripts_from_this_machine(bundled: Bundled) -> None:
    assert not [p for p in bundled.asset.rglob("*") if p.name == "__pycache__" or p.suffix == ".pyc"]
    assert not (bundled.asset / "bin").exists()


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
