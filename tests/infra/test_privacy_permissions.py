"""The permissions of faces, text understanding and people: granted only while switched on, each
scoped as narrowly as its service allows."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.infra.conftest import Synth, synth
from tests.infra.test_processing import role_statements


@pytest.fixture(scope="module")
def private(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    """Faces off (and everything else that reads people or words in an image)."""
    return synth(Path(tmp_path_factory.mktemp("cdk.out")), {"enable_faces": False})


def rekognition_actions(synthesized: Synth) -> set[str]:
    role = synthesized.logical_id("Processing/Role")
    return {a for actions, _, _ in role_statements(synthesized, role) for a in actions if a.startswith("rek")}


def test_detect_faces_is_granted_only_while_faces_are_on(default: Synth, private: Synth) -> None:
    assert "rekognition:DetectFaces" in rekognition_actions(default)
    assert rekognition_actions(private) == {
        "rekognition:DetectLabels", "rekognition:DetectModerationLabels", "rekognition:DetectText"
    }  # fmt: skip
