"""The GPU slice's report: test force MAE per method beside the paper's malonaldehyde numbers.

Reads each trial's ``results.json`` (written by ``harness train``) and writes ``summary.json``
(every trial's test metrics, stages and timings) and ``summary.md`` (the tables). Force errors
are in kcal/mol/Angstrom, as in the paper. Training frames per second count optimiser steps
times batch size over the stages' own seconds (validation included), per process: with several
trials sharing one GPU, each sees a share of it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.data.store import write_json_atomically

# Malonaldehyde, DFT -> CCSD(T), test force MAE in kcal/mol/A (the paper's Tables 1 and 3).
PAPER_FORCE_MAE: dict[str, dict[str, float]] = {
    "standard": {"Table 1, EGNN": 1.466, "Table 3, GemNet": 0.776},
    "asteroid": {"Table 3, GemNet": 0.338},
    "no_bat": {"Table 3, GemNet": 0.347},
}


@dataclass
class TrialRecord:
    """One trial as the runner saw it; ``returncode`` None: it never started."""

    name: str
    method: str
    seed: int
    folder: str
    config: dict[str, Any]
    returncode: int | None = None
    wall_seconds: float | None = None
    stopped_at_deadline: bool = False
    results: dict[str, Any] | None = field(default=None)

    def load_results(self) -> dict[str, Any] | None:
        path = Path(self.folder) / "results.json"
        if self.folder and path.exists():
            self.results = json.loads(path.read_text())
        return self.results


def stage_kind(stage_name: str) -> str:
    """Which schedule a stage of ``harness.train.methods`` trains with."""
    if stage_name.startswith("stage2"):
        return "inaccurate"
    if stage_name.startswith("stage3"):
        return "fine_tune"
    return "accurate"  # standard, stage1


def training_frames_per_second(results: dict[str, Any], config: dict[str, Any]) -> float | None:
    """Frames seen by optimiser steps per second of the stages' own time."""
    frames = sum(stage["steps"] * config["schedules"][stage_kind(stage["name"])]["batch_size"]
                 for stage in results["stages"])
    seconds = sum(stage["seconds"] for stage in results["stages"])
    return frames / seconds if seconds > 0 else None


def trial_summary(record: TrialRecord) -> dict[str, Any]:
    results = record.load_results()
    row: dict[str, Any] = {"name": record.name, "method": record.method, "seed": record.seed,
                           "returncode": record.returncode, "wall_seconds": record.wall_seconds,
                           "stopped_at_deadline": record.stopped_at_deadline,
                           "finished": results is not None}
    if results is None:
        return row
    return {**row, "device": results["device"], "test": results["test"],
            "converged": not results["not_converged_stages"]
            and all(stage["converged"] for stage in results["stages"]),
            "stages": [{key: stage[key] for key in ("name", "steps", "stopped_by", "best_step",
                                                    "converged", "still_improving_at_cap",
                                                    "best_validation_loss",
                                                    "final_learning_rate", "seconds")}
                       for stage in results["stages"]],
            "training_seconds": results["training_seconds"],
            "training_frames_per_s": training_frames_per_second(results, record.config),
            "data": results["data"], "chosen_gamma": results["details"].get("chosen_gamma")}


def _spread(values: list[float]) -> float | None:
    return statistics.stdev(values) if len(values) > 1 else None


def method_summary(method: str, trials: list[dict[str, Any]]) -> dict[str, Any]:
    finished = [trial for trial in trials if trial["finished"]]
    maes = [trial["test"]["force_mae"] for trial in finished]
    rates = [trial["training_frames_per_s"] for trial in finished
             if trial["training_frames_per_s"] is not None]
    walls = [trial["wall_seconds"] for trial in trials if trial["wall_seconds"] is not None]
    return {"method": method, "trials": len(trials), "finished": len(finished),
            "force_mae_mean": statistics.fmean(maes) if maes else None,
            "force_mae_std": _spread(maes), "force_mae_by_seed": {
                str(trial["seed"]): trial["test"]["force_mae"] for trial in finished},
            "all_converged": bool(finished) and len(finished) == len(trials)
            and all(trial["converged"] for trial in finished),
            "wall_seconds_mean": statistics.fmean(walls) if walls else None,
            "wall_seconds_max": max(walls) if walls else None,
            "training_frames_per_s_mean": statistics.fmean(rates) if rates else None,
            "paper_force_mae": PAPER_FORCE_MAE.get(method, {})}


def summarise(records: list[TrialRecord], run_info: dict[str, Any]) -> dict[str, Any]:
    trials = [trial_summary(record) for record in records]
    methods = list(dict.fromkeys(record.method for record in records))
    by_method = [method_summary(method, [trial for trial in trials if trial["method"] == method])
                 for method in methods]
    return {**run_info, "units": "kcal/mol/A", "methods": by_method, "trials": trials,
            "all_trials_finished": all(trial["finished"] for trial in trials),
            "all_converged": all(row["all_converged"] for row in by_method)}


def _number(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def format_markdown(summary: dict[str, Any]) -> str:
    """The method table (mean +- sample std over seeds, paper beside it) and the trial table."""
    lines = [f"# GPU slice: malonaldehyde, CCSD(T) + rMD17 PBE ({summary['size']} size, "
             f"{summary['device']}, {summary['workers']} trials at once)", "",
             f"Slice wall time {summary['slice_wall_seconds']:.1f} s. Test force MAE in "
             "kcal/mol/A; ± is the sample standard deviation over seeds.", "",
             "| method | trials finished | force MAE | paper | all stages converged | "
             "wall s per trial (mean / max) | training frames/s per trial |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for row in summary["methods"]:
        paper = "; ".join(f"{where} {value}" for where, value in row["paper_force_mae"].items())
        spread = "" if row["force_mae_std"] is None else f" ± {row['force_mae_std']:.3f}"
        lines.append(f"| {row['method']} | {row['finished']}/{row['trials']} | "
                     f"{_number(row['force_mae_mean'])}{spread} | {paper or '-'} | "
                     f"{'yes' if row['all_converged'] else 'NO'} | "
                     f"{_number(row['wall_seconds_mean'], 1)} / "
                     f"{_number(row['wall_seconds_max'], 1)} | "
                     f"{_number(row['training_frames_per_s_mean'], 0)} |")
    lines += ["", "| trial | force MAE | converged | stages (steps, stopped by) | wall s |",
              "| --- | --- | --- | --- | --- |"]
    for trial in summary["trials"]:
        if not trial["finished"]:
            why = "stopped at the deadline" if trial["stopped_at_deadline"] else \
                f"exit status {trial['returncode']}"
            lines.append(f"| {trial['name']} | - | - | not finished: {why} | "
                         f"{_number(trial['wall_seconds'], 1)} |")
            continue
        stages = ", ".join(f"{stage['name']} {stage['steps']} {stage['stopped_by']}"
                           for stage in trial["stages"])
        lines.append(f"| {trial['name']} | {trial['test']['force_mae']:.3f} | "
                     f"{'yes' if trial['converged'] else 'NO'} | {stages} | "
                     f"{_number(trial['wall_seconds'], 1)} |")
    return "\n".join(lines) + "\n"


def write_summary(records: list[TrialRecord], out_dir: Path, run_info: dict[str, Any]
                  ) -> dict[str, Any]:
    summary = summarise(records, run_info)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_json_atomically(out_dir / "summary.json", summary)
    (out_dir / "summary.md").write_text(format_markdown(summary))
    return summary


def bench_rows(out_dir: Path) -> list[dict[str, Any]]:
    """Rows of the ``harness bench models`` files beside the summary, CUDA first."""
    rows: list[dict[str, Any]] = []
    for device in ("cuda", "cpu"):
        path = out_dir / f"bench-models-{device}.json"
        if path.exists():
            rows += json.loads(path.read_text())["rows"]
    return rows


def format_bench_table(rows: list[dict[str, Any]]) -> str:
    lines = ["", "`harness bench models` (one process alone on the device; EGNN at its "
             "defaults, 5 x 128; settings in bench-models-*.json):", "",
             "| model | device | threads | molecule | training frames/s | force ms |",
             "| --- | --- | --- | --- | --- | --- |"]
    lines += [f"| {row['model']} | {row['device']} | {row['threads']} | {row['molecule']} | "
              f"{row['train_frames_per_s']:.0f} | {row['force_ms']:.2f} |" for row in rows]
    return "\n".join(lines) + "\n"


def add_bench_figures(out_dir: Path) -> None:
    """Append the benchmark rows to summary.md and summary.json (after the benchmarks ran)."""
    rows = bench_rows(out_dir)
    if not rows:
        return
    summary = json.loads((out_dir / "summary.json").read_text())
    summary["bench_models"] = rows
    write_json_atomically(out_dir / "summary.json", summary)
    (out_dir / "summary.md").write_text(format_markdown(summary) + format_bench_table(rows))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="add the bench models figures to the summary")
    parser.add_argument("--out", required=True, help="folder of summary.json and the bench files")
    add_bench_figures(Path(parser.parse_args(argv).out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
