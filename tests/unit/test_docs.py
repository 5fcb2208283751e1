"""The README documents every configuration variable the Lambda reads, with its real default."""

from __future__ import annotations

import json
from pathlib import Path

from image_analysis.settings import defaults, env_name

README = (Path(__file__).parents[2] / "README.md").read_text()


def test_every_setting_is_in_the_readme_with_its_default() -> None:
    for name, default in defaults().items():
        rendered = default if isinstance(default, str) else json.dumps(default)
        assert f"| `{env_name(name)}` | `{rendered}` |" in README, env_name(name)
