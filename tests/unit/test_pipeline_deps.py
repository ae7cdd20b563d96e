"""Each DVC stage depends on every source file its command runs, so that changing any of them
reruns the stage (a dependency left out lets `dvc repro` keep results of older code).

The code a stage runs is what its entry modules import, followed through the import graph of
``test_import_graph`` (imports inside functions included); the CLI's argument plumbing is left
out, as ``dvc.yaml`` says.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from test_import_graph import REPOSITORY_ROOT, import_graph, module_files

STAGE_ENTRIES = {
    "sweep": ("harness.sweeps.runner", "harness.sweeps.worker"),
    "md": ("harness.md.sweep", "harness.md.sweep_progress", "harness.md.results"),
    "report": ("harness.report.build",),
}


def reachable(graph: dict[str, set[str]], entries: tuple[str, ...]) -> set[str]:
    """The modules ``entries`` import, directly or not, with the entries themselves."""
    seen: set[str] = set()
    waiting = list(entries)
    while waiting:
        module = waiting.pop()
        if module not in seen:
            seen.add(module)
            waiting.extend(graph[module])
    return seen


def stage_dependencies(stage: str) -> list[Path]:
    stages = yaml.safe_load((REPOSITORY_ROOT / "dvc.yaml").read_text())["stages"]
    return [REPOSITORY_ROOT / dep for dep in stages[stage]["deps"] if "${" not in dep]


@pytest.mark.parametrize("stage", sorted(STAGE_ENTRIES))
def test_a_stage_depends_on_all_the_code_it_runs(stage: str) -> None:
    files = module_files(REPOSITORY_ROOT, ("harness", "models"))
    declared = stage_dependencies(stage)
    missing = sorted(
        str(files[module].relative_to(REPOSITORY_ROOT))
        for module in reachable(import_graph(), STAGE_ENTRIES[stage])
        if not any(files[module] == dep or dep in files[module].parents for dep in declared))
    assert missing == [], f"dvc.yaml stage '{stage}' runs these files without depending on them"
