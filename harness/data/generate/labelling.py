"""Resumable labelling of trajectory frames in chunks, each chunk spread over the trajectory.

Chunk k of n holds targets[k::n], so whatever number of chunks has finished, the labelled
frames cover the whole trajectory evenly. A finished chunk is one file, written atomically;
a rerun skips it. CPU seconds are measured per label with ``time.process_time`` (all threads).
Progress is a bar on a terminal and one plain line per chunk otherwise (a log file).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from harness.data.generate.labelers import Labeler
from harness.data.store import write_npz_atomically


def evenly_spaced_frames(n_frames: int, n_targets: int) -> np.ndarray:
    """``n_targets`` distinct frame indices spread evenly over ``n_frames``."""
    if n_targets > n_frames:
        raise ValueError(f"asked for {n_targets} labelled frames of a {n_frames}-frame trajectory")
    return np.unique(np.linspace(0, n_frames - 1, n_targets).round().astype(np.int64))


def chunk_plan(targets: np.ndarray, chunk_size: int) -> list[np.ndarray]:
    """Interleaved chunks: chunk k is targets[k::n_chunks]."""
    n_chunks = max(1, -(-len(targets) // chunk_size))
    return [targets[k::n_chunks] for k in range(n_chunks)]


def label_in_chunks(labeler: Labeler, positions: np.ndarray, targets: np.ndarray,
                    out_folder: Path, chunk_size: int, progress: bool = True) -> int:
    """Label ``targets`` frames chunk by chunk into ``out_folder``; returns chunks written now."""
    chunks = chunk_plan(targets, chunk_size)
    written = 0
    on_terminal = sys.stderr.isatty()
    bar = tqdm(total=len(targets), desc=f"labels {labeler.level}",
               disable=not (progress and on_terminal))
    for number, frame_index in enumerate(chunks):
        path = out_folder / f"chunk_{number:04d}.npz"
        if path.exists():
            bar.update(len(frame_index))
            continue
        energies = np.empty(len(frame_index))
        forces = np.empty((len(frame_index), positions.shape[1], 3), dtype=np.float32)
        cpu_seconds = np.empty(len(frame_index))
        for row, frame in enumerate(frame_index):
            start = time.process_time()
            energies[row], forces[row] = labeler(positions[frame])
            cpu_seconds[row] = time.process_time() - start
            bar.update(1)
        write_npz_atomically(path, frame_index=frame_index, energies=energies, forces=forces,
                             cpu_seconds=cpu_seconds)
        written += 1
        if progress and not on_terminal:
            print(f"labels {labeler.level}: chunk {number + 1}/{len(chunks)} written "
                  f"({cpu_seconds.mean():.3g} CPU s per label)", file=sys.stderr, flush=True)
    bar.close()
    return written
