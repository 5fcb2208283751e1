"""CPython 3.13 for linux/arm64 (Debian trixie's), run under qemu-user: the Lambda's platform, here.

`make test` (its `arm64-python` target) installs Debian's qemu-user-static and mmdebstrap where they
are missing (as root or through sudo), then runs `python -m tests.runtime.sysroot`, which builds once,
into .cache/arm64-python313/:

* root/     trixie's arm64 python3.13 and libstdc++6 with their dependencies, unpacked by
            `mmdebstrap --variant=extract` (no maintainer script runs, so nothing is emulated), plus the
            merged-/usr links a normal install has, and its standard library compiled to bytecode;
* runtime/  boto3 and its dependencies, pure Python: the Lambda runtime provides them (in /var/runtime,
            after /var/task on sys.path), the asset does not include them. boto3's pin is
            requirements-dev.txt's;
* READY     what root/ and runtime/ were built from: a later run with the same inputs does nothing.

qemu is called directly (`qemu-aarch64-static -L root/ root/usr/bin/python3.13`): no binfmt_misc
registration is needed, which a container often cannot do. A consequence: the arm64 interpreter cannot
start another arm64 program (no subprocesses, no multiprocessing), which the function never does.

When it cannot be built on this machine (no qemu or mmdebstrap, and no root or sudo to install them),
UNAVAILABLE says why, and the tests that need it skip with that reason. Any other failure (the
archive unreachable, a broken package) fails `make test`.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Final

from infra.wheelhouse import PYTHON_VERSION, ROOT, InterpreterNotFound, find_interpreter

CACHE: Final = ROOT / ".cache" / f"arm64-python{PYTHON_VERSION.replace('.', '')}"
SYSROOT: Final = CACHE / "root"
RUNTIME: Final = CACHE / "runtime"
READY: Final = CACHE / "READY"
UNAVAILABLE: Final = CACHE / "UNAVAILABLE"

SUITE: Final = "trixie"  # Debian 13, whose python3.13 is the Lambda runtime's Python version
ARCHITECTURE: Final = "arm64"
# The interpreter, and the C++ runtime that pillow-heif's and tzfpy's native code link to (manylinux
# wheels do not carry it; Lambda's Amazon Linux has it).
PACKAGES: Final = ("python3.13", "libstdc++6", "libgcc-s1")
# A mirror other than the one apt uses on this machine, e.g. http://host/debian.
MIRROR_VARIABLE: Final = "IMGPIPE_DEBIAN_MIRROR"
RUNTIME_PLATFORMS: Final = ("manylinux_2_28_aarch64", "manylinux_2_17_aarch64")
QEMU_NAMES: Final = ("qemu-aarch64-static", "qemu-aarch64")


class SysrootError(RuntimeError):
    pass


def qemu() -> str | None:
    for name in QEMU_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def python_command() -> list[str]:
    """The argv prefix that runs the arm64 python3.13 (only valid once READY exists)."""
    emulator = qemu()
    if emulator is None:
        raise SysrootError("qemu-aarch64-static is not installed")
    return [emulator, "-L", str(SYSROOT), str(SYSROOT / "usr" / "bin" / f"python{PYTHON_VERSION}")]


def unavailable_reason() -> str | None:
    """Why the arm64 Python cannot be used here, or None when it is built and current."""
    if UNAVAILABLE.exists():
        return UNAVAILABLE.read_text().strip()
    if not READY.exists():
        return "the arm64 Python 3.13 is not built: run `make arm64-python` (`make test` does)"
    if READY.read_text().strip() != inputs_digest():
        return "the arm64 Python 3.13 is out of date: run `make arm64-python` (`make test` does)"
    if qemu() is None:
        return "qemu-aarch64-static is not installed (Debian package qemu-user-static)"
    return None


def boto3_pin() -> str:
    pins = re.findall(r"^boto3==\S+", (ROOT / "requirements-dev.txt").read_text(), flags=re.MULTILINE)
    if len(pins) != 1:
        raise SysrootError("requirements-dev.txt must pin boto3 (boto3==X.Y.Z) exactly once")
    return str(pins[0])


def inputs_digest() -> str:
    """What the cache is built from: this file (the recipe) and the boto3 pin."""
    recipe = Path(__file__).read_bytes() + boto3_pin().encode()
    return hashlib.sha256(recipe).hexdigest()


def debian_mirror() -> str:
    """The Debian archive apt uses on this machine (its sources), unless MIRROR_VARIABLE says otherwise."""
    if os.environ.get(MIRROR_VARIABLE):
        return os.environ[MIRROR_VARIABLE]
    sources = Path("/etc/apt")
    texts = [
        p.read_text()
        for p in [sources / "sources.list", *sorted(sources.glob("sources.list.d/*"))]
        if p.is_file() and p.suffix in (".list", ".sources")
    ]
    for text in texts:
        for uri in re.findall(r"^\s*(?:deb\s+(?:\[[^\]]*\]\s+)?|URIs:\s*)(\S+)", text, flags=re.MULTILINE):
            if uri.rstrip("/").endswith("/debian"):
                return str(uri)
    raise SysrootError(f"no Debian archive in /etc/apt's sources: set {MIRROR_VARIABLE} to one")


def _run(command: list[str], what: str) -> str:
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        output = (done.stdout + done.stderr).strip()[-3000:]
        raise SysrootError(f"{what} failed (exit {done.returncode}): {' '.join(command)}\n{output}")
    return done.stdout


def _unavailable(reason: str) -> int:
    CACHE.mkdir(parents=True, exist_ok=True)
    UNAVAILABLE.write_text(reason + "\n")
    READY.unlink(missing_ok=True)
    print(f"arm64 Python {PYTHON_VERSION} not available, its tests will be skipped: {reason}")
    return 0


def build() -> int:
    digest = inputs_digest()
    if READY.exists() and READY.read_text().strip() == digest and qemu():
        print(f"arm64 Python {PYTHON_VERSION}: up to date in {CACHE.relative_to(ROOT)}/")
        return 0
    UNAVAILABLE.unlink(missing_ok=True)
    mmdebstrap = shutil.which("mmdebstrap")
    if qemu() is None or mmdebstrap is None:
        missing = [n for n, ok in (("qemu-user-static", qemu()), ("mmdebstrap", mmdebstrap)) if not ok]
        return _unavailable(f"Debian's {' and '.join(missing)} not installed (needs root or sudo)")
    try:
        host_python = find_interpreter()
    except InterpreterNotFound as error:
        return _unavailable(str(error))
    print(f"Building arm64 Python {PYTHON_VERSION} ({SUITE}) in {CACHE.relative_to(ROOT)}/ (once)")
    CACHE.mkdir(parents=True, exist_ok=True)
    READY.unlink(missing_ok=True)
    root, runtime = CACHE / "root.new", CACHE / "runtime.new"
    for folder in (root, runtime):
        shutil.rmtree(folder, ignore_errors=True)

    command = [mmdebstrap, "--quiet", "--variant=extract", f"--architectures={ARCHITECTURE}"]
    command += [f"--include={','.join(PACKAGES)}", "--skip=output/dev,output/mknod"]
    command += [SUITE, str(root), f"deb {debian_mirror()} {SUITE} main"]
    try:
        _run(command, f"unpacking {SUITE}'s arm64 python{PYTHON_VERSION}")
    except SysrootError as error:
        if os.geteuid() != 0:  # mmdebstrap without root needs user namespaces, which may be refused
            return _unavailable(f"mmdebstrap could not run without root: {error}")
        raise
    for link in ("bin", "lib", "sbin"):  # the merged-/usr links (the dynamic loader is /lib/ld-linux-*)
        if not (root / link).exists() and (root / "usr" / link).is_dir():
            (root / link).symlink_to(Path("usr") / link)
    # Debian compiles the standard library when the package is configured, which extract skips.
    # A 3.13 .pyc is the same for any 3.13.x (one magic number), so this machine's 3.13 compiles it,
    # in seconds, where the emulated interpreter would take minutes.
    stdlib = root / "usr" / "lib" / f"python{PYTHON_VERSION}"
    _run([str(host_python), "-I", "-m", "compileall", "-q", "-j", "0", str(stdlib)], "compiling the stdlib")

    command = [sys.executable, "-m", "pip", "install", "--quiet", "--no-compile"]
    command += ["--target", str(runtime), "--only-binary=:all:", "--implementation", "cp"]
    command += ["--python-version", PYTHON_VERSION, *(f"--platform={p}" for p in RUNTIME_PLATFORMS)]
    _run([*command, boto3_pin()], "installing boto3 for the arm64 runtime")
    shutil.rmtree(runtime / "bin", ignore_errors=True)
    _run([str(host_python), "-I", "-m", "compileall", "-q", "-j", "0", str(runtime)], "compiling boto3")

    for new, final in ((root, SYSROOT), (runtime, RUNTIME)):
        shutil.rmtree(final, ignore_errors=True)
        new.rename(final)
    probe = "import platform, sys; print(platform.machine(), '%d.%d' % sys.version_info[:2])"
    answer = _run([*python_command(), "-I", "-c", probe], "starting the arm64 python").split()
    if answer != ["aarch64", PYTHON_VERSION]:
        raise SysrootError(f"the arm64 python reports {answer}, expected aarch64 {PYTHON_VERSION}")
    READY.write_text(digest + "\n")
    print(f"arm64 Python {PYTHON_VERSION} ready: {' '.join(python_command())}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(build())
    except SysrootError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(1)
