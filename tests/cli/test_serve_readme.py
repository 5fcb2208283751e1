"""Issue 13, item 3: `imgpipe local --serve` keeps the emulated stack running, and the README's AWS CLI
and boto3 examples run verbatim against it, from a checkout-like folder (.venv, .imgpipe/samples)."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from imgpipe.samples import write_samples
from tests.support import PROJECT_ROOT

SECTION = "### Query the results with the AWS CLI or boto3"


def readme_blocks() -> list[tuple[str, str]]:
    """(language, code) of each fenced block in the README's section on the served stack."""
    text = (PROJECT_ROOT / "README.md").read_text()
    section = text.split(SECTION, 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```(\w+)\n(.*?)```", section, re.DOTALL)


def bash(code: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-ec", code], cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_the_readme_examples_run_verbatim_against_the_served_stack(tmp_path: Path, synthesized: Path) -> None:
    (serve, shell), (language, python) = readme_blocks()[:2], readme_blocks()[2]
    assert serve[0] == shell[0] == "bash" and language == "python"
    checkout = tmp_path / "checkout"
    write_samples(checkout / ".imgpipe" / "samples")
    shutil.copytree(synthesized, checkout / ".imgpipe" / "cdk.out")  # same inputs: no second synth
    (checkout / ".venv").symlink_to(Path(sys.prefix))
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_ENDPOINT_URL")}
    server = subprocess.Popen(
        ["bash", "-c", "exec " + serve[1].strip()],
        cwd=checkout,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        env_file = checkout / ".imgpipe" / "serve.env"
        deadline = time.monotonic() + 600
        while not env_file.exists() and server.poll() is None and time.monotonic() < deadline:
            time.sleep(0.5)
        assert env_file.exists(), "the server never said how to reach it"

        done = bash(f"source .imgpipe/serve.env\n.venv/bin/python - <<'EOF'\n{python}EOF\n", checkout, env)
        assert done.returncode == 0, done.stderr
        found = re.findall(r"^images/\S+ \d+(?:\.\d+)?$", done.stdout, re.MULTILINE)
        assert found, done.stdout  # the simulated services' "Gray" label, read through the by-label index

        stats = bash(
            "source .imgpipe/serve.env\n.venv/bin/imgpipe stats --stack ImagePipeline --json", checkout, env
        )
        assert stats.returncode == 0 and '"complete": 8' in stats.stdout, stats.stdout + stats.stderr

        if shutil.which("aws", path=env.get("PATH")) and bash("aws --version", checkout, env).returncode == 0:
            cli = bash(shell[1], checkout, env)
            assert cli.returncode == 0, cli.stderr
            assert "images/travel/paris-eiffel-tower.jpg" in cli.stdout.split()
        else:
            print("the AWS CLI is not installed here: its example was not run")  # boto3's was
    finally:
        server.send_signal(signal.SIGINT)
        output, _ = server.communicate(timeout=120)
    assert server.returncode == 0, output
    assert "Stopped serving; the state is saved." in output
    assert not env_file.exists()  # a stale environment would point at a port nobody serves
