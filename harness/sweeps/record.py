"""A sweep's finished trials as a small folder that can be committed and loaded elsewhere.

A sweep that needs more hours than one machine stays up (a session, a lent GPU, a CI box) goes
on elsewhere only if its finished trials go with it. ``save`` copies, of every complete trial,
what its training wrote besides checkpoints: ``results.json`` (metrics and every stage's
validation history), ``config.yaml``, the model file(s), the bias table (``bias_weights.npz``)
and the versions stamp, to ``<record>/trials/<trial key>/``, beside ``record.json`` (sweep,
profile, and the code version and git commit it was saved with). A model file larger than
``max_model_mb`` (a fine-tuned ANI-1ccx ensemble is 10 MB) is left out, and ``record.json``
names it: its trial's metrics load, but it has no model to run MD with. ``load`` puts them back as
trial folders of a sweep that has not run on this machine; ``harness sweep run`` then logs
each to the study and MLflow from its folder (the worker's record path: nothing is trained)
and trains only the trials the record lacks.

Only the same code and data reuse a saved trial, as for any resumed trial (``trial_folder``):
``load`` leaves out the trials saved with other code or data (they train again) and refuses a
record none of whose trials this checkout can reuse, naming the commit that can.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from harness.data.store import write_json_atomically
from harness.errors import ConfigError
from harness.mlflow_record import Artifacts, Tags
from harness.sweeps.databases import sqlite_path
from harness.sweeps.plan import make_plan
from harness.sweeps.runner import state_dir_of
from harness.sweeps.spec import load_spec
from harness.sweeps.status import existing_study
from harness.sweeps.study import completed, default_storage, key_states
from harness.sweeps.trial_folder import STAMP, trial_folder
from harness.versions import Versions, code_version, trial_versions

RECORD_FILE = "record.json"
SAVED_FILES = ("results.json", "config.yaml", STAMP)
DEFAULT_MAX_MODEL_MB = 5.0
MEGABYTE = 1 << 20


@dataclass(frozen=True)
class SavedTrials:
    """What ``save`` or ``load`` did, as lines for the console."""

    done: int
    left_out: dict[str, int]
    folder: Path
    verb: str
    notes: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        lines = [f"{self.verb} {self.done} trial(s): {self.folder}"]
        lines += [f"left out {count} trial(s): {why}"
                  for why, count in self.left_out.items() if count]
        return lines + self.notes


def _trial_files(folder: Path, max_model_bytes: float) -> tuple[list[str], list[str]]:
    """The files of a finished trial folder worth keeping, and its model files left out for
    their size, relative to it."""
    results = json.loads((folder / "results.json").read_text())
    models = results.get("model_files", [])
    too_large = [name for name in models if (folder / name).stat().st_size > max_model_bytes]
    bias = Path(Artifacts.BIAS_FOLDER) / Artifacts.BIAS_TABLE_FILE
    extra = [*(name for name in models if name not in too_large),
             *([bias.as_posix()] if (folder / bias).is_file() else [])]
    return [*SAVED_FILES, *extra], too_large


def save_record(spec_path: str, profile: str, out: Path, storage_url: str | None = None,
                state_root: Path | None = None,
                max_model_mb: float = DEFAULT_MAX_MODEL_MB) -> SavedTrials:
    """Copy every complete trial of the sweep into the record folder ``out`` (replaced whole,
    written beside it first, so that a failed save leaves the old record), without model files
    over ``max_model_mb`` megabytes."""
    spec = load_spec(spec_path, profile, [])
    plan = make_plan(spec, spec_path)
    states = key_states(existing_study(spec, spec_path, storage_url, state_root), plan)
    state_dir = state_dir_of(spec, state_root)
    partial = out.with_name(f"{out.name}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    saved, without_folder, models_left_out = [], 0, {}
    for trial in plan.trials:
        if completed(states[trial.key]) is None:
            continue
        folder = trial_folder(state_dir, trial.key)
        if not (folder / "results.json").is_file() or not (folder / STAMP).is_file():
            without_folder += 1
            continue
        kept, too_large = _trial_files(folder, max_model_mb * MEGABYTE)
        if too_large:
            models_left_out[trial.key] = too_large
        for name in kept:
            target = trial_folder(partial, trial.key) / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(folder / name, target)
        saved.append(trial.key)
    write_json_atomically(partial / RECORD_FILE, {
        "sweep": spec.name, "profile": spec.profile, "saved_with": code_version(),
        "trials": saved, "max_model_mb": max_model_mb, "models_left_out": models_left_out})
    if out.exists():
        shutil.rmtree(out)
    partial.rename(out)
    without_model = [f"saved {len(models_left_out)} trial(s) without their model file(s) over "
                     f"{max_model_mb:g} MB (metrics only, no MD on them): "
                     f"{', '.join(models_left_out)}"] if models_left_out else []
    return SavedTrials(len(saved), {"complete in the study, but their folder is gone":
                                    without_folder}, out, "saved", without_model)


def _read_record(record: Path) -> dict[str, Any]:
    path = record / RECORD_FILE
    try:
        content = json.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(str(path), RECORD_FILE, "no saved sweep here "
                          "(`harness sweep save` writes one)") from None
    except json.JSONDecodeError as error:
        raise ConfigError(str(path), RECORD_FILE, f"not JSON: {error}") from None
    for name in ("sweep", "profile", "saved_with", "trials"):
        if name not in content:
            raise ConfigError(str(path), name, "missing")
    return content


def _regenerate_bias_table(folder: Path) -> None:
    """The bias CSV and histogram the training wrote beside the npz (not saved: derived)."""
    npz = folder / Artifacts.BIAS_FOLDER / Artifacts.BIAS_TABLE_FILE
    if npz.is_file():
        from harness.train.experiment import write_bias_table

        with np.load(npz) as table:
            write_bias_table({name: table[name] for name in table.files}, npz.parent)


def load_record(spec_path: str, profile: str, record: Path,
                state_root: Path | None = None) -> SavedTrials:
    """Put the record's trials that this checkout's code and data would train the same into
    the trial folders of a sweep not yet run here; ``harness sweep run`` then records them."""
    content = _read_record(record)
    spec = load_spec(spec_path, profile, [])
    source = str(record / RECORD_FILE)
    if (content["sweep"], content["profile"]) != (spec.name, spec.profile):
        raise ConfigError(source, "sweep", f"saved from sweep {content['sweep']} (profile "
                          f"{content['profile']}), not {spec.name} (profile {spec.profile})")
    state_dir = state_dir_of(spec, state_root)
    if sqlite_path(default_storage(state_dir)).exists():
        raise ConfigError(source, "sweep", f"{state_dir} already holds this sweep's study: "
                          "load into a sweep that has not run on this machine (move that "
                          "folder away first)")
    planned = {trial.key: trial for trial in make_plan(spec, spec_path).trials}
    loaded, other_versions, unplanned = 0, 0, 0
    for key in content["trials"]:
        if key not in planned:
            unplanned += 1
            continue
        saved = trial_folder(record, key)
        stamp = json.loads((saved / STAMP).read_text())
        if Versions.recorded(stamp) != trial_versions(planned[key].config):
            other_versions += 1
            continue
        target = trial_folder(state_dir, key)
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(saved, target)
        write_json_atomically(target / STAMP, {**stamp, "generation": 0})  # a fresh study's
        _regenerate_bias_table(target)
        loaded += 1
    if other_versions and not loaded:
        saved_with = content["saved_with"]
        raise ConfigError(source, "saved_with", f"its {other_versions} trial(s) ran with other "
                          f"code or data than this checkout ({saved_with.get(Tags.CODE_VERSION)} "
                          f"at git {saved_with.get(Tags.GIT_SHA)}): check that commit out to "
                          "go on with them")
    return SavedTrials(loaded, {"ran with other code or data (they train again)": other_versions,
                                "not in this spec's plan": unplanned}, state_dir, "loaded")
