"""The data card (CARD.md) of a labelled folder: where the geometries came from, the
topology the force fields used, and each level's cost."""

from __future__ import annotations

from pathlib import Path

from harness.data.generate.card import level_table
from harness.data.store import load_dataset, read_description


def write_label_card(folder: Path) -> Path:
    folder = Path(folder)
    description = read_description(folder)
    dataset = load_dataset(folder)
    record, topology = description["labelled_from"], description["topology"]
    n_frames = record["frames"]
    lines = [
        f"# Data card: {dataset.molecule} (labelled by `harness data label`; do not edit)",
        "",
        f"- Geometries: the first {n_frames} of `{record['source']}`, atoms "
        f"{dataset['unlabeled'].atomic_numbers.tolist()} in that file's order (the order of "
        "every file here).",
        f"- Topology of the force fields (gaff2, mmff94): the bonds RDKit finds in frame 0 at "
        f"total charge {record['charge']}, SMILES `{description['smiles']}`; "
        f"{topology['frames_with_other_bonds']} of {n_frames} frames have another bond graph "
        "by distance and are labelled with frame 0's bonds all the same.",
        *_test_line(record),
        "- Units: energies kcal/mol, positions Angstrom, forces kcal/mol/Angstrom.",
        "- Cost: CPU-seconds per label measured on the labelling machine (all threads);",
        "  '-' for labels kept from the source, whose cost it does not state.",
        "",
        *level_table(dataset, description),
    ]
    path = folder / "CARD.md"
    path.write_text("\n".join(lines) + "\n")
    return path


def _test_line(record: dict) -> list[str]:
    """Where the cheap levels skip a split's test frames, which ones and why."""
    test = record.get("skip_test_frames")
    if test is None:
        return []
    return [f"- Cheap levels skip the {test['n_test']} test frames of level "
            f"`{test['accurate']}` (split_seed {test['split_seed']}) and their duplicates: "
            "every training split with these settings tests on them, so nothing uses their "
            "cheap labels."]
