"""The MD line of the headline gives stable counts with their n, run length and training seeds,
and says when the evidence is thin."""

from __future__ import annotations

from report_toy import md_frame_of, toy_md_runs

from harness.report.md_headline import md_lines


def _runs(trajectories: int, training_seeds: int) -> list[dict]:
    runs = []
    for method, stable_at_2fs in (("standard", 0.25), ("asteroid", 1.0)):
        for step in (0.5, 2.0, 4.0):
            for seed in range(trajectories):
                stable = step == 0.5 or (step == 2.0 and seed < stable_at_2fs * trajectories)
                runs.append({"tags": {"method": method, "step_size_fs": f"{step:g}",
                                      "seed": str(seed), "molecule": "ethanol",
                                      "training_seed": str(seed % training_seeds),
                                      "model_run_id": f"{method}{seed % training_seeds}",
                                      "sweep": "md"},
                             "metrics": {"md.stable": float(stable),
                                         "md.time_to_failure_ps": 2.0 if stable else 0.1},
                             "params": {"duration_ps": "2.0", "temperature_K": "500.0"},
                             "status": "FINISHED"})
    return runs


def test_stable_counts_come_with_n_length_and_a_test() -> None:
    [line] = md_lines(md_frame_of(_runs(16, 2)))
    assert line.startswith("MD on ethanol (md sweep; Langevin at 500 K, 2 ps per trajectory; "
                           "16 trajectories per method and step size, from 2 training seeds): ")
    assert "every method stayed stable at 0.5 fs; every method failed at 4 fs" in line
    assert "at 2 fs stable: ASTEROID 16/16, standard training 4/16 (ASTEROID against " \
           "standard training, Fisher's exact test: p < 0.001)" in line
    assert "thin" not in line


def test_few_trajectories_or_one_training_seed_are_called_thin() -> None:
    [few] = md_lines(md_frame_of(_runs(8, 2)))
    assert "The evidence is thin: fewer than 16 trajectories per method and step size." in few
    [one_model] = md_lines(md_frame_of(_runs(16, 1)))
    assert "from 1 training seed)" in one_model
    assert "The evidence is thin: one trained model per method" in one_model


def test_without_a_logged_duration_the_censored_time_to_failure_gives_the_length() -> None:
    runs = toy_md_runs()
    for run in runs:
        del run["params"]
    [line] = md_lines(md_frame_of(runs))
    assert "(toy-md sweep; Langevin, 1 ps per trajectory; 4 trajectories per method" in line


def test_the_toy_store_md_runs_are_read_with_their_parameters() -> None:
    [line] = md_lines(md_frame_of(toy_md_runs()))
    assert "Langevin at 500 K, 1 ps per trajectory" in line and "1 training seed" in line
