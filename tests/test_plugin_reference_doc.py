"""docs/plugin-reference.md is generated from the code and kept up to date; the tutorial
and the README point at it."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import fields

from helpers import REPO

from wfsched_core.authoring.workflow import _ATTRIBUTE_TYPES
from wfsched_core.base.config import Settings
from wfsched_core.base.records import Execution, SchedulerRow, StepRecord

PAGE = REPO / "docs" / "plugin-reference.md"


def test_the_reference_page_is_up_to_date() -> None:
    result = subprocess.run([sys.executable, str(REPO / "scripts" / "plugin_reference_doc.py"),
                             "--check"], capture_output=True, text=True)
    assert result.returncode == 0, \
        f"docs/plugin-reference.md is stale: run python scripts/plugin_reference_doc.py\n" \
        f"{result.stderr}"


def test_every_field_of_every_record_a_hook_receives_is_on_the_page() -> None:
    text = PAGE.read_text()
    for record in (Execution, StepRecord, SchedulerRow, Settings):
        section = text.split(f".{record.__name__}`", 1)[1].split("\n### ", 1)[0]
        for field in fields(record):
            assert f"| `{field.name}` |" in section, f"{record.__name__}.{field.name}"


def test_every_workflow_attribute_is_on_the_page_with_its_default() -> None:
    section = PAGE.read_text().split("## Workflow attributes", 1)[1]
    for attribute in _ATTRIBUTE_TYPES:
        assert f"| `{attribute}` |" in section, attribute
    assert "| `retries` | `int` | `0` | a whole number from 0 to 1000 |" in section
    assert "one of `all`, `latest`, `none`" in section


def test_the_scheduler_table_is_reserved_and_a_plugins_table_is_named() -> None:
    section = PAGE.read_text().split("## Reserved", 1)[1]
    assert "| `scheduler` |" in section and "| `workflows` |" in section
    assert "A plugin's own table is `[plugins.NAME]`" in section


def test_the_docs_link_to_each_other() -> None:
    readme = (REPO / "README.md").read_text()
    assert "docs/writing-plugins.md" in readme
    tutorial = (REPO / "docs" / "writing-plugins.md").read_text()
    assert "plugin-reference.md" in tutorial
    assert "docs/plugin-reference.md" in (REPO / "sample_workflows" / "README.md").read_text()
