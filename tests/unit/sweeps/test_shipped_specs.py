"""Every training sweep spec the project ships parses and plans, each of its profiles, so that a
renamed setting cannot leave a spec behind. A spec that needs its data to plan (a measured cost
ratio) and whose data are not on this machine (fetched or labelled first, as its header says)
is skipped with the reason."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from harness.errors import HarnessError
from harness.sweeps.plan import make_plan
from harness.sweeps.spec import load_spec, profile_names

PROJECT_ROOT = Path(__file__).resolve().parents[3]
TRAINING_SPECS = sorted(path for path in (PROJECT_ROOT / "sweeps").glob("*.yaml")
                        if "from_sweep" not in yaml.safe_load(path.read_text()))


def missing_data(path: Path) -> list[str]:
    """The data paths of the spec and of its profiles that are not on this machine."""
    content = yaml.safe_load(path.read_text())
    datasets = [*content.get("datasets", []),
                *(dataset for profile in (content.get("profiles") or {}).values()
                  for dataset in (profile or {}).get("datasets", []))]
    paths = {source["path"] for dataset in datasets for role in ("accurate", "unlabeled")
             if (source := dataset.get(role))}
    paths |= {source["path"] for dataset in datasets for source in dataset.get("inaccurate", [])}
    return sorted(path for path in paths if not (PROJECT_ROOT / path).exists())


@pytest.mark.parametrize("path", TRAINING_SPECS, ids=lambda path: path.name)
def test_a_shipped_sweep_spec_plans_in_every_profile(path: Path, monkeypatch: pytest.MonkeyPatch
                                                     ) -> None:
    monkeypatch.chdir(PROJECT_ROOT)  # the specs' data paths are relative to the project
    for profile in profile_names(path):
        try:
            plan = make_plan(load_spec(path, profile))
        except HarnessError:
            if missing := missing_data(path):
                pytest.skip(f"{path.name}: data not on this machine: {', '.join(missing)}")
            raise
        assert plan.trials, f"{path.name} profile {profile} plans no trial"
