"""Code and data versions of the trials a table summarises: a table never mixes them silently.

Every trial run carries ``code_version`` (hash of the source it ran) and ``data_hash`` (hash of
its dataset's files). A sweep reruns trials whose versions changed, so a table normally holds
one version; results kept with ``--keep-stale-results`` (or runs older than these tags) make it
hold several. The newest run's code is then the reference, and for data the newest run of the
same datasets (two molecules' runs rightly differ): every cell with a run of another version gets
``MARK`` and the table's note lists the versions. The report's provenance lists
them all, with the date it was made and the profile of its trials.
"""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import pandas as pd

from harness.mlflow_record import Tags
from harness.report.summary import MULTI_MOLECULE

MARK = "†"
VERSION_TAGS = ("code_version", "data_hash")
UNRECORDED = "unrecorded"
# The machine a trial trained on: its digits depend on it (results/README.md).
RUNTIME_TAGS = (Tags.TORCH_VERSION, Tags.CPU_CAPABILITY, Tags.ACCELERATOR)
# The trial columns that name the datasets a run read (with the multi-molecule method).
DATA_SETTING = ("molecule", "accurate_level", "inaccurate_level")


def version_labels(frame: pd.DataFrame) -> pd.Series:
    """``code <hash>, data <hash>`` of each run ("unrecorded" where a tag is missing)."""
    if frame.empty:
        return pd.Series("", index=frame.index, dtype=object)
    code, data = (_tag(frame, tag) for tag in VERSION_TAGS)
    return "code " + code + ", data " + data


def _tag(frame: pd.DataFrame, tag: str) -> pd.Series:
    if tag not in frame:
        return pd.Series(UNRECORDED, index=frame.index, dtype=object)
    return frame[tag].astype(object).fillna(UNRECORDED).replace("", UNRECORDED).astype(str)


def _data_settings(frame: pd.DataFrame) -> pd.Series:
    """Which datasets each run read: runs of one setting must share a data hash, runs of two
    (two molecules, levels, or a multi-molecule pre-training) rightly differ."""
    parts = [frame[column].astype(str) if column in frame
             else pd.Series("", index=frame.index, dtype=object) for column in DATA_SETTING]
    multi = (frame["method"] == MULTI_MOLECULE).astype(str) if "method" in frame else ""
    return parts[0].str.cat(parts[1:], sep="/") + "/" + multi


def _newest(values: np.ndarray, start_times: np.ndarray) -> str:
    """The value of the most recently started run (the last one when none says when)."""
    return str(values[int(np.argmax(start_times))] if len(start_times) else values[-1])


def _start_times(frame: pd.DataFrame) -> np.ndarray:
    """When each run started (row order where the record does not say)."""
    if "start_time" not in frame:
        return np.arange(len(frame), dtype=float)
    return frame["start_time"].fillna(0).to_numpy(dtype=float)


def other_versions(frame: pd.DataFrame) -> pd.Series:
    """True for runs of other code than the newest run, or of other data than the newest run
    of the same data setting (all False when every run agrees)."""
    if frame.empty:
        return pd.Series(False, index=frame.index)
    code, data = (_tag(frame, tag).to_numpy() for tag in VERSION_TAGS)
    started = _start_times(frame)
    stale = code != _newest(code, started)
    settings = _data_settings(frame).to_numpy()
    for setting in dict.fromkeys(settings):
        rows = settings == setting
        stale[rows] |= data[rows] != _newest(data[rows], started[rows])
    return pd.Series(stale, index=frame.index)


def mixed_note(frame: pd.DataFrame) -> str:
    """The sentence a table's note gets when its runs mix versions ("" otherwise)."""
    stale = other_versions(frame)
    if not stale.any():
        return ""
    labels = version_labels(frame)
    started = _start_times(frame)
    counts = labels[stale].value_counts()
    others = "; ".join(f"{label} ({n} run{'s' if n > 1 else ''})" for label, n in counts.items())
    return (f"{MARK}: MIXED VERSIONS. Cells marked {MARK} include runs of other code or data "
            f"than the newest ({_newest(labels.to_numpy(), started)}) of the same dataset: "
            f"{others}.")


def summary_lines(trials: pd.DataFrame) -> list[str]:
    """One warning line when the trials of the report mix versions, else none."""
    if not other_versions(trials).any():
        return []
    return [f"Warning: these results mix {version_labels(trials).nunique()} code/data "
            f"versions; tables mark cells with runs of versions other than the newest by "
            f"{MARK}."]


def counts(trials: pd.DataFrame) -> dict[str, dict[str, int]]:
    """Runs per code version and per data hash (for metrics.json)."""
    return {tag: {str(value): int(n) for value, n in
                  trials[tag].replace("", UNRECORDED).value_counts().items()}
            for tag in VERSION_TAGS if tag in trials}


def _dates(start_times: pd.Series) -> str:
    """The span of the runs' start dates (UTC), from MLflow's milliseconds."""
    times = pd.to_datetime(start_times.dropna(), unit="ms", utc=True)
    if times.empty:
        return "unrecorded"
    first, last = times.min().strftime("%Y-%m-%d"), times.max().strftime("%Y-%m-%d")
    return first if first == last else f"{first} to {last}"


def provenance(trials: pd.DataFrame, profile: str | None, made: datetime) -> list[str]:
    """Where the numbers come from: when the report was made, from which profile, and the
    code versions and data hashes of its trials with their run counts."""
    profiles = sorted(set(trials.get("profile", pd.Series(dtype=str))) - {""})
    shown = profile or ", ".join(profiles) or UNRECORDED
    seeds = sorted(trials.get("seed", pd.Series(dtype="Int64")).dropna().unique())
    of_seeds = f" and seed{'s' if len(seeds) > 1 else ''} {', '.join(map(str, seeds))}" \
        if seeds else ""
    lines = [f"Made {made.astimezone(timezone.utc):%Y-%m-%d %H:%M} UTC by harness report from "
             f"{len(trials)} trial runs of profile {shown}{of_seeds}, started "
             f"{_dates(trials.get('start_time', pd.Series(dtype=float)))}."]
    for tag, recorded in counts(trials).items():
        lines.append(f"{tag.replace('_', ' ').capitalize()}: {_listed(recorded)}.")
    return lines + _machines(trials)


def _listed(counted: dict[str, int]) -> str:
    return "; ".join(f"{value} ({n} run{'s' if n > 1 else ''})" for value, n in counted.items())


def _machines(trials: pd.DataFrame) -> list[str]:
    """The line naming the torch release, CPU kernels and accelerator the trials trained on
    (none when no trial recorded them: runs of code older than these tags)."""
    torch_version, kernels, accelerator = (_tag(trials, tag) for tag in RUNTIME_TAGS)
    machines = ("torch " + torch_version + ", CPU kernels " + kernels + ", accelerator "
                + accelerator).where(torch_version != UNRECORDED, UNRECORDED)
    if (machines == UNRECORDED).all():
        return []
    return [f"Trained on: {_listed(machines.value_counts().to_dict())}."]
