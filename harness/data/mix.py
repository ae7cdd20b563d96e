"""A cheap level of uneven quality: each frame labelled by one of several levels, drawn at random.

Bias-aware training should pay where the cheap labels are good on some frames and bad on
others; a single cheap level of the embedded data is wrong by much the same amount everywhere
(xTB: 5.0 to 7.9 kcal/mol/A from the 10th to the 90th percentile). ``mix_levels`` builds a pool
whose quality is uneven by construction, as a user's data is when it was collected at two levels
(two codes, two settings, a cheap and a cheaper one), by giving each frame the label of one level
drawn with the given shares. Each level's energies are shifted by a constant so that their mean
over the frames all levels label matches the first level's (an energy zero is a convention of
each method; the mixture must share one), and the cost of a mixed label is what its level cost.

The output is a copy of the source dataset folder with the mixed level added, so that the
accurate labels on the same geometries (and the true bias of every mixed frame) come with it.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np

from harness.data.store import read_description, read_level_labels, write_npz_atomically
from harness.errors import DataError

MIX_LEVEL_SEPARATOR = "+"


def default_name(levels: list[str]) -> str:
    return MIX_LEVEL_SEPARATOR.join(levels)


def mix_levels(source: str | Path, out: str | Path, shares: dict[str, float],
               name: str | None = None, seed: int = 0) -> Path:
    """Write ``out``: the dataset folder ``source`` plus level ``name`` (default the levels
    joined by '+'), each of whose frames carries the labels of one level of ``shares`` (level
    -> share of the frames, normalised), drawn with ``seed``, on the frames every level labels.
    """
    source, out = Path(source), Path(out)
    description = read_description(source)
    name = name or default_name(list(shares))
    _check_request(source, out, description, shares, name)
    labels = {level: read_level_labels(source, level) for level in shares}
    common = _frames_every_level_labels(labels, str(source / "labels"))
    rows = {level: np.searchsorted(values["frame_index"], common)
            for level, values in labels.items()}
    levels = list(shares)
    weights = np.asarray([shares[level] for level in levels], dtype=np.float64)
    drawn = np.random.default_rng(seed).choice(len(levels), size=len(common),
                                               p=weights / weights.sum())
    first = labels[levels[0]]["energies"][rows[levels[0]]]
    offsets = {level: float(first.mean() - labels[level]["energies"][rows[level]].mean())
               for level in levels}
    mixed = {key: np.empty((len(common), *labels[levels[0]][key].shape[1:]),
                           dtype=labels[levels[0]][key].dtype)
             for key in ("energies", "forces", "cpu_seconds")}
    for index, level in enumerate(levels):
        chosen = drawn == index
        picked = rows[level][chosen]
        mixed["energies"][chosen] = labels[level]["energies"][picked] + offsets[level]
        mixed["forces"][chosen] = labels[level]["forces"][picked]
        mixed["cpu_seconds"][chosen] = labels[level]["cpu_seconds"][picked]
    staging = out.with_name(out.name + ".partial")
    if staging.exists():
        shutil.rmtree(staging)
    shutil.copytree(source, staging)
    write_npz_atomically(staging / "labels" / name / "chunk_0000.npz", frame_index=common,
                         source_level=drawn, **mixed)
    description["levels"][name] = {
        "method": f"mixture of {', '.join(levels)}",
        "mixed_from": {level: float(share) for level, share in
                       zip(levels, weights / weights.sum(), strict=True)},
        "frames_per_level": {level: int((drawn == index).sum())
                             for index, level in enumerate(levels)},
        "energy_offsets_kcal_per_mol": offsets, "seed": seed,
        "note": "each frame carries the labels of one level (labels/<level>/source_level "
                "indexes mixed_from); energies shifted to the first level's zero"}
    (staging / "dataset.json").write_text(json.dumps(description, indent=2, sort_keys=True)
                                          + "\n")
    os.replace(staging, out)
    return out


def _check_request(source: Path, out: Path, description: dict, shares: dict[str, float],
                   name: str) -> None:
    where = str(source / "dataset.json")
    if len(shares) < 2:
        raise DataError(where, "levels", "a mixture needs two or more levels")
    unknown = sorted(set(shares) - set(description["levels"]))
    if unknown:
        raise DataError(where, "levels", f"no level {unknown}; the dataset has "
                        f"{sorted(description['levels'])}")
    if any(not share > 0 for share in shares.values()):
        raise DataError(where, "shares", f"every share must be positive, got {shares}")
    if name in description["levels"]:
        raise DataError(where, "levels", f"the dataset already has a level '{name}': "
                        "name the mixture otherwise")
    if out.exists():
        raise DataError(str(out), "out", "exists: delete it or choose another folder")


def _frames_every_level_labels(labels: dict[str, dict[str, np.ndarray]], where: str
                               ) -> np.ndarray:
    common = None
    for values in labels.values():
        index = values["frame_index"]
        common = index if common is None else np.intersect1d(common, index)
    if common is None or not len(common):
        raise DataError(where, "frame_index", "the levels label no frame in common")
    return common
