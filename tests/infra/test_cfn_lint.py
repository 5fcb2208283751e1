"""The synthesized template passes cfn-lint (errors and warnings) in several regions."""

from __future__ import annotations

import copy

from tests.infra.templates import CFN_LINT_IGNORED, Synth, cfn_lint


def test_template_passes_cfn_lint(default: Synth) -> None:
    assert cfn_lint(default.json, default.outdir) == []


def test_cfn_lint_would_catch_a_broken_template(default: Synth) -> None:
    """Guards the test above against a linter that silently checks nothing."""
    broken = copy.deepcopy(default.json)
    function = broken["Resources"][default.logical_id("Processing/Function")]
    function["Properties"]["Runtime"] = "python2.0"
    assert any(line.startswith("E3030") for line in cfn_lint(broken, default.outdir))


def test_only_cdks_own_redundant_dependencies_are_ignored() -> None:
    assert CFN_LINT_IGNORED == ("W3005",)
