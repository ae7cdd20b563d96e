"""Deterministic multi-fidelity splits (paper Sec. 5: validation 50, test 500 accurate frames).

Rules, each one tested:
- test and validation frames are accurate frames drawn with ``split_seed`` alone, so every
  budget and every training seed is scored on the same test set;
- accurate training frames are a prefix of a ``train_seed`` permutation of the remaining
  accurate frames, so budgets are nested (25 frames of a seed are inside its 50);
- no training pool of any level holds a configuration of a validation or test frame, matched
  by geometry (``matches_any``), because some frames of one file are frames of another;
- the inaccurate training frames are likewise a prefix of a ``train_seed`` permutation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from harness.data.atom_order import check_atom_order
from harness.data.frames import FrameSet, describe_atom_mismatch
from harness.data.pairing import matches_any
from harness.errors import DataError

# Independent random streams drawn from one train_seed, one per level.
ACCURATE_STREAM, INACCURATE_STREAM = 0, 1


@dataclass(frozen=True)
class MultiFidelitySplit:
    accurate_train: FrameSet
    validation: FrameSet
    test: FrameSet
    inaccurate_train: FrameSet | None


def split_multi_fidelity(
    accurate: FrameSet,
    inaccurate: FrameSet | None,
    n_accurate_train: int,
    n_inaccurate_train: int = 0,
    n_validation: int = 50,
    n_test: int = 500,
    split_seed: int = 0,
    train_seed: int = 0,
    cap_inaccurate: bool = False,
) -> MultiFidelitySplit:
    """Split accurate frames into test, validation and training, and draw inaccurate training.

    ``inaccurate`` may be labelled or unlabeled; it is None for single-fidelity training.
    ``cap_inaccurate`` takes the whole inaccurate pool when more frames are requested than it
    holds (a budget that affords more cheap labels than exist) instead of failing.
    """
    for field_name, count in (("n_accurate_train", n_accurate_train),
                              ("n_inaccurate_train", n_inaccurate_train),
                              ("n_validation", n_validation), ("n_test", n_test)):
        if count < 0:
            raise DataError(accurate.source, field_name, f"must be >= 0, got {count}")
    if inaccurate is not None:
        check_atom_order(accurate, inaccurate)
    _require_available(accurate, "n_test", n_test, len(accurate), "accurate frames")
    _require_available(accurate, "n_validation", n_validation, len(accurate) - n_test,
                       f"accurate frames left after {n_test} test frames")
    held_out_order = _held_out_order(len(accurate), split_seed)
    test = accurate.subset(held_out_order[:n_test])  # = test_frames(), on this one draw
    validation = accurate.subset(held_out_order[n_test:n_test + n_validation])
    held_out = accurate.subset(held_out_order[:n_test + n_validation])

    accurate_pool = _pool_without(accurate, held_out_order[n_test + n_validation:], held_out)
    _require_available(accurate, "n_accurate_train", n_accurate_train, len(accurate_pool),
                       f"accurate frames left after {n_test} test and {n_validation} "
                       "validation frames and their duplicates")
    accurate_train = _prefix_of_permutation(accurate_pool, n_accurate_train,
                                            train_seed, ACCURATE_STREAM)
    return MultiFidelitySplit(
        accurate_train=accurate_train, validation=validation, test=test,
        inaccurate_train=_inaccurate_train(inaccurate, n_inaccurate_train, held_out, train_seed,
                                           cap_inaccurate),
    )


def test_frames(accurate: FrameSet, n_test: int, split_seed: int) -> FrameSet:
    """The test frames of every split of ``accurate`` with these settings, whatever its
    budget and training seed; no training uses their configurations, so their cheap labels
    are never needed (``harness data label --skip-test-frames`` leaves them unlabelled; the
    validation frames' cheap labels are kept: the correction-model estimator validates on
    them)."""
    return accurate.subset(_held_out_order(len(accurate), split_seed)[:n_test])


def _held_out_order(n_frames: int, split_seed: int) -> np.ndarray:
    return np.random.default_rng(split_seed).permutation(n_frames)


def _inaccurate_train(inaccurate: FrameSet | None, n_inaccurate_train: int, held_out: FrameSet,
                      train_seed: int, cap: bool) -> FrameSet | None:
    if inaccurate is None:
        if n_inaccurate_train > 0:
            raise DataError(held_out.source, "n_inaccurate_train",
                            f"{n_inaccurate_train} inaccurate frames requested but no "
                            "inaccurate level was given")
        return None
    if not np.array_equal(inaccurate.atomic_numbers, held_out.atomic_numbers):
        raise DataError(inaccurate.source, "atomic_numbers",
                        f"atoms {inaccurate.atomic_numbers.tolist()} differ from the accurate "
                        f"level's {held_out.atomic_numbers.tolist()} ({held_out.source}): "
                        + describe_atom_mismatch(held_out.atomic_numbers,
                                                 inaccurate.atomic_numbers))
    pool = _pool_without(inaccurate, np.arange(len(inaccurate)), held_out)
    if cap:
        n_inaccurate_train = min(n_inaccurate_train, len(pool))
    _require_available(inaccurate, "n_inaccurate_train", n_inaccurate_train, len(pool),
                       "inaccurate frames that are not validation or test configurations")
    return _prefix_of_permutation(pool, n_inaccurate_train, train_seed, INACCURATE_STREAM)


def _pool_without(frames: FrameSet, candidates: np.ndarray, held_out: FrameSet) -> FrameSet:
    """The candidate frames, in ascending order, minus every configuration of ``held_out``."""
    pool = frames.subset(np.sort(candidates))
    return pool.subset(np.flatnonzero(~matches_any(pool, held_out)))


def _prefix_of_permutation(pool: FrameSet, count: int, train_seed: int, stream: int) -> FrameSet:
    order = np.random.default_rng([train_seed, stream]).permutation(len(pool))
    return pool.subset(order[:count])


def _require_available(frames: FrameSet, field_name: str, requested: int, available: int,
                       what: str) -> None:
    if requested > available:
        raise DataError(frames.source, field_name,
                        f"{requested} requested but only {available} {what} at level "
                        f"'{frames.level}'")
