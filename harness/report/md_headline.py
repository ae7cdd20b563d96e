"""The headline's MD line: how often each method's dynamics stayed stable, and on what n.

A stable fraction means little without its n: the trajectories behind it, how many trained
models (training seeds) they come from, and how long each ran. Per MD sweep and molecule the
line names the step sizes where every method stayed stable or every one failed, lists the
stable counts where they differ, tests ASTEROID against standard training there (Fisher's
exact test over trajectories) and says when the evidence is thin (``evidence``).
"""

from __future__ import annotations

import pandas as pd

from harness.report.evidence import THIN_TRAJECTORIES, fisher, p_text
from harness.report.names import method_name
from harness.report.summary import ASTEROID, STANDARD, number_text
from harness.report.tables import md_groups


def _span(values: pd.Series) -> str:
    low, high = int(values.min()), int(values.max())
    return str(low) if low == high else f"{low} to {high}"


def _steps(steps: list[float]) -> str:
    texts = [number_text(step) for step in steps]
    joined = texts[0] if len(texts) == 1 else f"{', '.join(texts[:-1])} and {texts[-1]}"
    return f"{joined} fs"


def training_seeds(runs: pd.DataFrame) -> pd.Series:
    """Trained models behind each arm's trajectories (by training seed, else by model run)."""
    for key in ("training_seed", "model_run_id"):
        ids = runs.get(key, pd.Series("", index=runs.index)).fillna("").astype(str)
        if (ids != "").any():
            return ids[ids != ""].groupby(runs["arm"]).nunique()
    return pd.Series(dtype=int)


def run_length_ps(runs: pd.DataFrame) -> float:
    """The logged duration; else the longest time to failure (censored at the run length)."""
    durations = runs.get("duration_ps", pd.Series(dtype=float)).dropna()
    return float(durations.max() if len(durations) else runs["time_to_failure_ps"].max())


def _setting(runs: pd.DataFrame, cells: pd.DataFrame) -> str:
    temperatures = runs.get("temperature_K", pd.Series(dtype=float)).dropna()
    dynamics = "Langevin" + (f" at {number_text(float(temperatures.max()))} K"
                             if len(temperatures) else "")
    seeds = training_seeds(runs)
    plural = "" if len(seeds) and int(seeds.max()) == 1 else "s"
    models = f", from {_span(seeds)} training seed{plural}" if len(seeds) else ""
    return (f"MD on {runs['molecule'].iloc[0]} ({runs['sweep'].iloc[0]} sweep; {dynamics}, "
            f"{number_text(run_length_ps(runs))} ps per trajectory; "
            f"{_span(cells['n'])} trajectories per method and step size{models})")


def _fisher_text(cells: pd.DataFrame, step: float, methods: dict[str, str]) -> str:
    if ASTEROID not in methods or STANDARD not in methods:
        return ""
    a, s = (cells.loc[(methods[key], step)] for key in (ASTEROID, STANDARD))
    p_value = fisher(int(a["stable"]), int(a["n"]), int(s["stable"]), int(s["n"]))
    return f" (ASTEROID against standard training, Fisher's exact test: {p_text(p_value)})"


def md_sentence(runs: pd.DataFrame) -> str:
    """One MD sweep and molecule in words, with n, run length and a caveat when thin."""
    cells = runs.groupby(["arm", "step_size_fs"], sort=False)["stable"].agg(
        stable="sum", n="count")
    methods = {method: arm for arm, method in runs.groupby("arm", sort=False)["method"].first()
               .items()}
    parts, all_stable, all_failed = [], [], []
    for step, at_step in cells.groupby(level="step_size_fs", sort=True):
        if (at_step["stable"] == at_step["n"]).all():
            all_stable.append(step)
        elif (at_step["stable"] == 0).all():
            all_failed.append(step)
        else:
            counts = ", ".join(f"{method_name(arm)} {int(row.stable)}/{int(row.n)}"
                               for (arm, _), row in at_step.sort_values(
                                   "stable", ascending=False).iterrows())
            parts.append(f"at {_steps([step])} stable: {counts}"
                         + _fisher_text(cells, step, methods))
    parts = ([f"every method stayed stable at {_steps(all_stable)}"] if all_stable else []) \
        + ([f"every method failed at {_steps(all_failed)}"] if all_failed else []) + parts
    return f"{_setting(runs, cells)}: {'; '.join(parts)}.{_md_caveat(runs, cells)}"


def _md_caveat(runs: pd.DataFrame, cells: pd.DataFrame) -> str:
    reasons = []
    if int(cells["n"].min()) < THIN_TRAJECTORIES:
        reasons.append(f"fewer than {THIN_TRAJECTORIES} trajectories per method and step size")
    seeds = training_seeds(runs)
    if len(seeds) and int(seeds.min()) < 2:
        reasons.append("one trained model per method, so a difference may be that model's "
                       "rather than the method's")
    return f" The evidence is thin: {'; '.join(reasons)}." if reasons else ""


def md_lines(md: pd.DataFrame) -> list[str]:
    """One line per MD sweep and molecule with finished runs."""
    done = md[(md["status"] == "FINISHED") & md["stable"].notna()] if len(md) else md
    return [md_sentence(group.frame) for group in md_groups(done)]
