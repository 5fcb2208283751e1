"""Issue 13, item 7: the Node.js version the README asks for is one the pinned CDK CLI accepts (its
package.json `engines`) and one the jsii runtime under the Python CDK still supports."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from tests.support import PROJECT_ROOT

# The CDK's jsii runtime: in the development venv, not in .venv313 (the Lambda's requirements only).
jsii = pytest.importorskip("jsii", reason="the CDK's jsii package is not installed in this venv")

ASKED = re.compile(r"Node\.js (\d+) or newer")


def asked(page: str) -> int:
    found = {int(major) for major in ASKED.findall((PROJECT_ROOT / page).read_text())}
    assert len(found) == 1, f"{page} should ask for one Node.js major version, found {found}"
    return found.pop()


def pinned_cdk_cli() -> str:
    found = re.search(r"aws-cdk@([\d.]+)", (PROJECT_ROOT / "Makefile").read_text())
    assert found is not None
    return found.group(1)


def test_readme_and_deploy_guide_ask_for_the_same_node() -> None:
    assert asked("README.md") == asked("docs/deploy.md")
    assert f"aws-cdk@{pinned_cdk_cli()}" in (PROJECT_ROOT / "README.md").read_text()


def test_the_pinned_cdk_cli_accepts_it() -> None:
    version = pinned_cdk_cli()
    manifests = [
        m
        for m in (PROJECT_ROOT / ".cache" / "npm" / "_npx").glob("*/node_modules/aws-cdk/package.json")
        if json.loads(m.read_text()).get("version") == version
    ]
    if not manifests:
        pytest.skip(
            f"aws-cdk@{version} is not in .cache/npm yet (any `make synth` or `make deploy` fetches it)"
        )
    engines = json.loads(manifests[0].read_text())["engines"]["node"]
    minimum = re.fullmatch(r">=\s*(\d+)(?:\.\d+){0,2}", engines.strip())
    assert minimum is not None, f"unexpected engines range {engines!r}: read it and update this test"
    assert asked("README.md") >= int(minimum.group(1))


def test_the_jsii_runtime_still_supports_it() -> None:
    """@jsii/check-node's release table, as shipped in the installed jsii package."""
    runtime = next(
        (Path(jsii.__file__).parent / "_embedded" / "jsii").glob("bin__jsii-runtime.js")
    ).read_text()
    releases = dict(re.findall(r"new NodeRelease\((\d+),\{([^}]*)\}\)", runtime))
    major = str(asked("README.md"))
    assert major in releases, f"jsii does not know Node.js {major}"
    assert "untested" not in releases[major]
    end = re.search(r'endOfJsiiSupport:new Date\("([\d-]+)"\)', releases[major])
    today = datetime.now(UTC).date()
    assert end is None or date.fromisoformat(end.group(1)) > today, (
        f"jsii dropped Node.js {major} on {end.group(1)}"
    )
