"""Code and data versions of the trials a table summarises: a table never mixes them silently.

Every trial run carries ``code_version`` (hash of the source it ran) and ``data_hash`` (hash of
its dataset's files). A sweep reruns trials whose versions changed, so a table normally holds
one version; results kept with ``--keep-stale-results`` (or runs older than these tags) make it
hold several. The newest run's version is then the reference: every cell with a run of another
version gets ``MARK`` and the table's note lists the versions. The report's provenance lists
them all, with the date it was made and the profile of its trials.
"""

from __future__ import annotations

from datetime import datetime, timezone

import pandas as pd

MARK = "†"
VERSION_TAGS = ("code_version", "data_hash")
UNRECORDED = "unrecorded"


def version_labels(frame: pd.DataFrame) -> pd.Series:
    """``code <hash>, data <hash>`` of each run ("unrecorded" where a tag is missing)."""
    if frame.empty:
        return pd.Series("", index=frame.index, dtype=object)
    parts = [frame[tag].astype(object).fillna(UNRECORDED).replace("", UNRECORDED) if tag in frame
             else pd.Series(UNRECORDED, index=frame.index) for tag in VERSION_TAGS]
    return "code " + parts[0].astype(str) + ", data " + parts[1].astype(str)


def reference_version(frame: pd.DataFrame) -> str | None:
    """The version of the most recently started run (what the sweep last ran)."""
    if frame.empty:
        return None
    labels = version_labels(frame)
    if "start_time" not in frame:
        return str(labels.iloc[-1])
    return str(labels.loc[frame["start_time"].fillna(0).idxmax()])


def other_versions(frame: pd.DataFrame) -> pd.Series:
    """True for runs of another version than the reference (all False when one version)."""
    labels = version_labels(frame)
    if labels.nunique() <= 1:
        return pd.Series(False, index=frame.index)
    return labels != reference_version(frame)


def mixed_note(frame: pd.DataFrame) -> str:
    """The sentence a table's note gets when its runs mix versions ("" otherwise)."""
    labels = version_labels(frame)
    if labels.nunique() <= 1:
        return ""
    counts = labels.value_counts()
    others = "; ".join(f"{label} ({n} run{'s' if n > 1 else ''})"
                       for label, n in counts.items() if label != reference_version(frame))
    return (f"{MARK}: MIXED VERSIONS. Cells marked {MARK} include runs of other code or data "
            f"than the newest ({reference_version(frame)}): {others}.")


def summary_lines(trials: pd.DataFrame) -> list[str]:
    """One warning line when the trials of the report mix versions, else none."""
    labels = version_labels(trials)
    if labels.nunique() <= 1:
        return []
    return [f"Warning: these results mix {labels.nunique()} code/data versions; tables mark "
            f"cells with runs of versions other than the newest by {MARK}."]


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
    lines = [f"Made {made.astimezone(timezone.utc):%Y-%m-%d %H:%M} UTC by harness report from "
             f"{len(trials)} trial runs of profile {shown}, started "
             f"{_dates(trials.get('start_time', pd.Series(dtype=float)))}."]
    for tag, recorded in counts(trials).items():
        listed = "; ".join(f"{value} ({n} run{'s' if n > 1 else ''})"
                           for value, n in recorded.items())
        lines.append(f"{tag.replace('_', ' ').capitalize()}: {listed}.")
    return lines
