"""A report never mixes code or data versions silently: mixed cells are marked, and noted."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
from report_toy import frame_of, standard, toy_trials, trial

from harness.report import tables, versions
from harness.report.build import assemble
from harness.report.render import markdown


def versioned(run: dict, code: str, data: str = "sha256:d") -> dict:
    run["tags"].update({"code_version": code, "data_hash": data})
    return run


def test_one_version_leaves_the_tables_unmarked() -> None:
    frame = frame_of([versioned(run, "src:a") for run in toy_trials()])
    for table in tables.accuracy_tables(frame) + tables.gamma_tables(frame):
        assert versions.MARK not in table.note
        assert not table.cells.map(lambda text: versions.MARK in text).to_numpy().any()
    assert versions.summary_lines(frame) == []


def test_cells_with_runs_of_older_code_are_marked_and_the_note_names_the_versions() -> None:
    runs = [versioned(standard(25, 0, 1.0), "src:old"),
            *(versioned(standard(budget, seed, value), "src:new")
              for budget, seed, value in ((25, 1, 1.2), (100, 0, 0.6), (100, 1, 0.7)))]
    [table] = tables.accuracy_tables(frame_of(runs))
    assert table.cells.at["standard training", "budget 25"].endswith(versions.MARK)
    assert not table.cells.at["standard training", "budget 100"].endswith(versions.MARK)
    assert "MIXED VERSIONS" in table.note
    assert "code src:old, data sha256:d (1 run)" in table.note
    assert "newest (code src:new, data sha256:d)" in table.note


def test_other_data_is_marked_as_well() -> None:
    runs = [versioned(standard(25, 0, 1.0), "src:a", "sha256:old-labels"),
            versioned(standard(25, 1, 1.2), "src:a", "sha256:new-labels")]
    [table] = tables.accuracy_tables(frame_of(runs))
    assert table.cells.at["standard training", "budget 25"].endswith(versions.MARK)
    assert "sha256:old-labels" in table.note


def test_the_report_warns_in_its_headline_and_lists_versions(tmp_path: Path) -> None:
    runs = [versioned(run, "src:new") for run in toy_trials()]
    runs[0] = versioned(runs[0], "src:old")
    frame = frame_of(runs)
    report, metrics = assemble("toy", frame, pd.DataFrame(columns=["sweep", "molecule", "arm",
                                                                     "step_size_fs"]), {},
                               tmp_path)
    assert any("mix 2 code/data versions" in line for line in report.headline)
    assert metrics["versions"]["code_version"] == {"src:new": len(runs) - 1, "src:old": 1}
    assert "MIXED VERSIONS" in markdown(report)


def test_superseded_runs_are_left_out() -> None:
    old = standard(25, 0, 9.0)
    old["tags"]["superseded"] = "true"
    frame = frame_of([old, standard(25, 0, 1.0), trial("asteroid", 25, 0, 0.5, gamma=0.5)])
    assert sorted(frame["force_mae"]) == [0.5, 1.0]


def test_provenance_names_date_profile_code_versions_and_data_hashes() -> None:
    runs = [versioned(run, "src:new") for run in toy_trials()]
    runs[0] = versioned(runs[0], "src:old", "sha256:e")
    made = datetime(2025, 3, 4, 5, 6, tzinfo=timezone.utc)
    made_line, code, data = versions.provenance(frame_of(runs), "smoke", made)
    assert made_line.startswith(f"Made 2025-03-04 05:06 UTC by harness report from {len(runs)} "
                                "trial runs of profile smoke and seeds 0, 1, 2, started "
                                "1970-01-01.")
    assert code == f"Code version: src:new ({len(runs) - 1} runs); src:old (1 run)."
    assert data == f"Data hash: sha256:d ({len(runs) - 1} runs); sha256:e (1 run)."
    assert "profile default and" in versions.provenance(frame_of(runs), None, made)[0]


def test_provenance_names_the_machines_the_trials_trained_on() -> None:
    runs = toy_trials()
    made = datetime(2025, 3, 4, 5, 6, tzinfo=timezone.utc)
    assert not any(line.startswith("Trained on")
                   for line in versions.provenance(frame_of(runs), "smoke", made))
    for run in runs[1:]:
        run["tags"].update({"torch_version": "2.13.0+cpu", "cpu_capability": "AVX512",
                            "accelerator": "none"})
    machines = versions.provenance(frame_of(runs), "smoke", made)[-1]
    assert machines == (f"Trained on: torch 2.13.0+cpu, CPU kernels AVX512, accelerator none "
                        f"({len(runs) - 1} runs); unrecorded (1 run).")


def test_two_molecules_data_differ_without_mixing_versions() -> None:
    runs = [versioned(standard(25, 0, 1.0), "src:a", "sha256:ethanol"),
            versioned(standard(25, 1, 1.2), "src:a", "sha256:ethanol")]
    other = [versioned(standard(25, seed, 2.0), "src:a", "sha256:malonaldehyde")
             for seed in (0, 1)]
    for run in other:
        run["tags"]["molecule"] = "malonaldehyde"
    frame = frame_of(runs + other)
    assert not versions.other_versions(frame).any()
    assert versions.summary_lines(frame) == []


def test_a_report_of_some_seeds_keeps_their_trials_and_md_runs_and_names_them() -> None:
    import pandas as pd

    from harness.report.collect import of_seeds

    trials = frame_of(toy_trials())
    md = pd.DataFrame({"training_seed": ["0", "1", "2"], "stable": [1.0, 0.0, 1.0]})
    kept, kept_md = of_seeds(trials, md, [0, 1])
    assert set(kept["seed"]) == {0, 1} and len(kept) == (trials["seed"] != 2).sum()
    assert list(kept_md["stable"]) == [1.0, 0.0]
    made = datetime(2025, 3, 4, 5, 6, tzinfo=timezone.utc)
    assert "of profile smoke and seeds 0, 1, started" in versions.provenance(kept, "smoke",
                                                                             made)[0]
    assert of_seeds(trials, md, None) == (trials, md)
