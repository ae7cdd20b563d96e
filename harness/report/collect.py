"""MLflow -> pandas: the sweeps' trial runs and the MD runs, as docs/mlflow-record.md describes
them (names from ``harness.mlflow_record``); a frame's columns are named after the tags.

Trial runs (role ``trial``) carry the tags sweep, molecule, model, method, budget, cost_ratio,
accurate_level, inaccurate_level, gamma ("" when not applicable), seed, trial_key, selected,
code_version and data_hash (runs of an older generation, which a sweep reran for a change of
code or data, carry superseded=true and are left out); their metrics are test.force_mae,
test.force_rmse (kcal/mol/A), test.energy_mae (kcal/mol), validation_loss and wall_seconds.
MD runs (role ``md``) carry method, step_size_fs, seed (of the trajectory), training_seed,
molecule, md.* metrics and the params duration_ps and temperature_K (and superseded=true once
their cell ran again, which leaves them out).

Nothing here is created in the store: a tracking URI that names a missing database or an
unreachable server is an error, not an empty report.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np
import pandas as pd

from harness.errors import ConfigError
from harness.mlflow_record import (
    SETTING_TAGS,
    Artifacts,
    Metrics,
    Params,
    Role,
    Tags,
    bias_diagnostic_metric,
    flag_from_tag,
    md_metric,
    metric_on_test,
    number_from_tag,
    run_filter,
)
from harness.network import check_server, server_address
from harness.redaction import redact, redact_text
from harness.report.versions import RUNTIME_TAGS
from harness.train.tracking import resolve_tracking_uri

TRIAL_TAGS = (Tags.SWEEP, Tags.PROFILE, *SETTING_TAGS, Tags.GAMMA, Tags.SEED, Tags.TRIAL_KEY,
              Tags.SELECTED, Tags.FAILURE_REASON, Tags.CODE_VERSION, Tags.DATA_HASH,
              Tags.SUPERSEDED, *RUNTIME_TAGS)
TRIAL_METRICS = {**{metric_on_test(name): name
                    for name in ("force_mae", "force_rmse", "energy_mae")},
                 Metrics.VALIDATION_LOSS: "validation_loss",
                 Metrics.WALL_SECONDS: "wall_seconds",
                 Metrics.STAGES_STILL_IMPROVING: "stages_still_improving",
                 Metrics.FINE_TUNING_WORSE: "fine_tuning_worse",
                 Metrics.KEPT_STAGE_ONE: "kept_stage1",
                 bias_diagnostic_metric("spearman_vs_true_bias"): "bias_spearman",
                 bias_diagnostic_metric("worst_decile_found"): "bias_worst_found",
                 bias_diagnostic_metric("ess_fraction_at_chosen_gamma"): "ess_fraction"}
MD_TAGS = (Tags.SWEEP, Tags.MOLECULE, Tags.MODEL, Tags.METHOD, Tags.LABEL, Tags.BUDGET,
           Tags.STEP_SIZE_FS, Tags.SEED, Tags.TRAINING_SEED, Tags.MODEL_RUN_ID, Tags.SUPERSEDED)
MD_PARAMS = (Params.DURATION_PS, Params.TEMPERATURE_K)
MD_METRICS = {md_metric(name): name
              for name in ("stable", "time_to_failure_ps", "steps_per_second", "hr_mae",
                           "energy_drift_per_atom_per_ps")}
RESULT_COLUMNS = ("sweep", "molecule", "model", "method", "budget", "cost_ratio",
                  "inaccurate_level", "gamma", "selected", "seed", "force_mae", "force_rmse",
                  "energy_mae", "wall_seconds", "status", "code_version", "data_hash",
                  "run_id")
# The training settings a report reads from each trial's params: what its gamma means, and
# whether its weights are per frame or per atom.
GAMMA_SCALE_PARAM = "asteroid.gamma_scale"
WEIGHT_RESOLUTION_PARAM = "asteroid.weight_resolution"
PAGE_SIZE = 1000
PROGRESS_BAR = "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"


@dataclass(frozen=True)
class Store:
    """An opened tracking store and the experiments the report covers (id -> name)."""

    uri: str
    client: Any  # mlflow.tracking.MlflowClient, imported lazily (slow import)
    experiments: dict[str, str]


def check_reachable(uri: str) -> None:
    """Fail fast, without creating anything, when ``uri`` names no store (errors name it with
    its password hidden)."""
    parsed, shown = urlparse(uri), redact(uri)
    if parsed.scheme == "sqlite":
        database = uri.removeprefix("sqlite:///")
        if database != ":memory:" and not Path(database).is_file():
            raise ConfigError(shown, "tracking_uri", f"no MLflow database at {database}: run a "
                              "sweep first or pass --tracking-uri")
    elif server_address(uri) is not None:
        # MLflow itself retries an unreachable server or database for minutes
        check_server(uri, shown, "tracking_uri", "tracking server")
    elif parsed.scheme in ("", "file"):
        folder = Path(parsed.path if parsed.scheme == "file" else uri)
        if not folder.is_dir():
            raise ConfigError(shown, "tracking_uri", f"no MLflow store folder at {folder}")


def _connect(uri: str) -> tuple[Any, dict[str, str]]:
    """A client of the store and its active experiments, name -> id."""
    from mlflow.tracking import MlflowClient

    found: dict[str, str] = {}
    token = None
    try:
        client = MlflowClient(tracking_uri=uri)
        while True:
            page = client.search_experiments(max_results=PAGE_SIZE, page_token=token)
            found.update({experiment.name: experiment.experiment_id for experiment in page})
            token = page.token
            if not token:
                return client, found
    except Exception as error:  # any failure of the first contact means: no usable store
        first_line = redact_text(str(error).splitlines()[0], uri)
        raise ConfigError(redact(uri), "tracking_uri", f"cannot read the tracking store "
                          f"({type(error).__name__}: {first_line})") from None


def open_store(tracking_uri: str | None, experiment_names: list[str] | None = None) -> Store:
    """The store at ``tracking_uri`` (else $MLFLOW_TRACKING_URI, else the project's mlflow.db)
    and the named experiments, or every active one when none is named."""
    uri = resolve_tracking_uri(tracking_uri)
    check_reachable(uri)
    client, known = _connect(uri)
    names = experiment_names or sorted(known)
    unknown = [name for name in names if name not in known]
    if unknown:
        raise ConfigError(redact(uri), "experiment", f"no active MLflow experiment named "
                          f"{', '.join(map(repr, unknown))}; known: {sorted(known) or 'none'}")
    return Store(uri, client, {known[name]: name for name in names})


def _search(store: Store, role: str) -> list[Any]:
    runs: list[Any] = []
    token = None
    while store.experiments:
        page = store.client.search_runs(list(store.experiments), run_filter(role),
                                        max_results=PAGE_SIZE, page_token=token)
        runs.extend(page)
        token = page.token
        if not token:
            break
    return runs


def _records(store: Store, runs: list[Any], tags: tuple[str, ...], metrics: dict[str, str],
             params: tuple[str, ...] = ()) -> pd.DataFrame:
    records = []
    for run in runs:
        record: dict[str, Any] = {"experiment": store.experiments[run.info.experiment_id],
                                  "run_id": run.info.run_id, "status": run.info.status,
                                  "start_time": run.info.start_time}
        record.update({name: run.data.tags.get(name, "") for name in tags})
        record.update({column: run.data.metrics.get(key, math.nan)
                       for key, column in metrics.items()})
        record.update({name: run.data.params.get(name, "") for name in params})
        records.append(record)
    columns = ["experiment", "run_id", "status", "start_time", *tags, *metrics.values(),
               *params]
    return pd.DataFrame.from_records(records, columns=columns)


def _numbers(tags: pd.Series) -> pd.Series:
    """Numbers of a column of tags; a missing or empty tag (not applicable) is NaN."""
    return tags.astype(object).fillna("").map(number_from_tag).astype(float)


def _flags(tags: pd.Series) -> pd.Series:
    """Flags of a column of tags; a missing tag is false."""
    return tags.astype(object).fillna("").map(flag_from_tag).astype(bool)


def typed_trials(frame: pd.DataFrame) -> pd.DataFrame:
    """Tags as numbers where they are numbers; one row per trial (a trial's stale duplicate
    runs, left KILLED by a resumed sweep, give way to its finished run; superseded runs, of
    code or data the sweep has rerun since, are dropped); metrics only of finished runs."""
    frame = frame[~_flags(frame["superseded"])].copy()
    # a trial that did not finish (failed, diverged) has no results, whatever its run logged
    frame.loc[frame["status"] != "FINISHED", list(TRIAL_METRICS.values())] = math.nan
    frame["sweep"] = frame["sweep"].where(frame["sweep"] != "", frame["experiment"])
    frame["budget"] = _numbers(frame["budget"])
    frame["gamma"] = _numbers(frame["gamma"])
    # "" where not recorded (runs of methods without gamma, or older than the setting)
    for setting in ("gamma_scale", "weight_resolution"):
        frame[setting] = frame[setting].astype(object).fillna("") if setting in frame else ""
    frame["seed"] = _numbers(frame["seed"]).astype("Int64")
    frame["selected"] = _flags(frame["selected"])
    frame["finished_first"] = frame["status"] != "FINISHED"
    frame = frame.sort_values(["finished_first", "start_time"], ascending=[True, False])
    keyed = frame["trial_key"] != ""
    # profiles of one spec share its experiment and trial keys: a trial is one per profile
    unique = frame[keyed].drop_duplicates(["experiment", "profile", "trial_key"])
    return pd.concat([unique, frame[~keyed]]).drop(columns="finished_first").sort_index()


def typed_md(frame: pd.DataFrame) -> pd.DataFrame:
    """MD runs with typed columns; runs of a model that was replaced since are left out."""
    frame = frame[~_flags(frame["superseded"])].copy()
    frame["sweep"] = frame["sweep"].where(frame["sweep"] != "", frame["experiment"])
    frame["arm"] = frame["label"].where(frame["label"] != "", frame["method"])
    frame["step_size_fs"] = _numbers(frame["step_size_fs"])
    frame["seed"] = _numbers(frame["seed"]).astype("Int64")
    for name in MD_PARAMS:
        frame[name] = _numbers(frame[name]) if name in frame else math.nan
    return frame


def trial_runs(store: Store) -> pd.DataFrame:
    frame = _records(store, _search(store, Role.TRIAL), TRIAL_TAGS, TRIAL_METRICS,
                     (GAMMA_SCALE_PARAM, WEIGHT_RESOLUTION_PARAM))
    return typed_trials(frame.rename(columns={GAMMA_SCALE_PARAM: "gamma_scale",
                                              WEIGHT_RESOLUTION_PARAM: "weight_resolution"}))


def of_profile(trials: pd.DataFrame, profile: str | None) -> pd.DataFrame:
    """The trials of one sweep profile (None: all): smoke and default runs of one spec share
    its MLflow experiment, and a report must not average them together."""
    return trials if profile is None else trials[trials["profile"] == profile]


def of_seeds(trials: pd.DataFrame, md: pd.DataFrame, seeds: list[int] | None
             ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The trials of these training seeds and the MD runs of their models (None: all): the
    finished seeds of a sweep whose last seed has run only part of its gamma grid."""
    if seeds is None:
        return trials, md
    return (trials[trials["seed"].isin(seeds)],
            md[_numbers(md["training_seed"]).isin(seeds)] if len(md) else md)


def md_runs(store: Store) -> pd.DataFrame:
    return typed_md(_records(store, _search(store, Role.MD), MD_TAGS, MD_METRICS, MD_PARAMS))


def results_table(trials: pd.DataFrame) -> pd.DataFrame:
    """results.csv: one row per trial, sorted by sweep, molecule, model, level, method,
    budget, cost ratio, gamma and seed."""
    order = ["sweep", "molecule", "model", "inaccurate_level", "method", "budget",
             "cost_ratio", "gamma", "seed"]
    return trials.sort_values(order, na_position="first").loc[:, list(RESULT_COLUMNS)] \
        .reset_index(drop=True)


def download_bias_tables(store: Store, trials: pd.DataFrame, folder: Path
                         ) -> dict[str, dict[str, np.ndarray]]:
    """The per-frame bias and weight table of every finished bias-aware trial that logged one,
    by run id (columns frame_id, bias, bias_used and weight_gamma<g>)."""
    os.environ.setdefault(PROGRESS_BAR, "false")  # one bar per tiny file buries the output
    tables = {}
    candidates = trials[(trials["status"] == "FINISHED") & trials["gamma"].notna()]
    for run_id in candidates["run_id"]:
        listed = {info.path
                  for info in store.client.list_artifacts(run_id, Artifacts.BIAS_FOLDER)}
        if Artifacts.BIAS_TABLE not in listed:
            continue
        destination = folder / run_id
        destination.mkdir(parents=True, exist_ok=True)
        local = store.client.download_artifacts(run_id, Artifacts.BIAS_TABLE, str(destination))
        with np.load(local) as stored:
            tables[run_id] = {name: stored[name] for name in stored.files}
    return tables
