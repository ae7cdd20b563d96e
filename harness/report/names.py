"""Plain names for the record's keys, as a chemist reads them: the one owner of report wording.

The MLflow record keys methods, levels and models by short identifiers (``no_bat``, ``xtb``,
``gemnet_t``); a reader of the headline or a figure should see "ASTEROID without bias-aware
training", "GFN2-xTB" and "GemNet-T". Unknown keys are shown as they are, never guessed.
"""

from __future__ import annotations

import math
import re

METHODS = {"standard": "standard training", "asteroid": "ASTEROID",
           "asteroid_multi": "ASTEROID pre-trained on several molecules",
           "no_bat": "ASTEROID without bias-aware training",
           "no_ft": "ASTEROID without fine-tuning",
           "inaccurate_only": "trained on cheap labels only",
           "score_matching": "score matching", "delta_ml": "Delta-ML", "sgdml": "sGDML",
           "ani1ccx": "ANI-1ccx (zero-shot)", "ani1ccx_finetuned": "ANI-1ccx (fine-tuned)"}
LEVELS = {"xtb": "GFN2-xTB", "gfn2": "GFN2-xTB", "gfn2-xtb": "GFN2-xTB", "mmff94": "MMFF94",
          "gaff2": "GAFF2", "gaff": "GAFF", "ccsd": "CCSD", "ccsd_t": "CCSD(T)",
          "ccsd(t)": "CCSD(T)", "pbe": "PBE", "dft": "DFT", "unlabeled": "unlabeled samples"}
MODELS = {"egnn": "EGNN", "gemnet_t": "GemNet-T", "mace": "MACE", "sgdml": "sGDML",
          "ani1ccx": "ANI-1ccx", "ani1ccx_finetuned": "ANI-1ccx"}
# methods that are their own model (no backbone to name)
OWN_MODEL = ("sgdml", "ani1ccx", "ani1ccx_finetuned")
NEEDS_CHEAP_AT_INFERENCE = ("delta_ml",)


def gamma_name(gamma: float, scale: str = "") -> str:
    """A value of the gamma grid as what it means (``asteroid.gamma_scale``): a share of the
    effective sample, gamma in units of the median B, or the paper's gamma."""
    if scale == "effective_sample_size":
        return f"keeps {gamma:.0%} of the effective sample"
    if scale == "median":
        return f"γ={gamma:g} × median B"
    return f"γ={gamma:g}"


def gamma_axis_name(scale: str = "") -> str:
    """The x-axis of a gamma sweep on ``scale``."""
    if scale == "effective_sample_size":
        return "share of the effective sample the weights keep"
    if scale == "median":
        return "γ / median B (weights exp(-B/γ))"
    return "γ (weights exp(-B/γ))"


def gamma_grid_name(scale: str = "") -> str:
    """What a gamma sweep on ``scale`` varies, in a title."""
    if scale == "effective_sample_size":
        return "the share of the effective sample kept"
    return "γ / median B" if scale == "median" else "γ"


def method_name(method: str) -> str:
    return METHODS.get(method, method)


def level_name(level: str) -> str:
    """``GFN2-xTB``; a data slug with a basis set reads as a chemist writes it:
    ``ccsd(t)-cc-pvdz`` is ``CCSD(T)/cc-pVDZ``."""
    key = level.lower()
    if key in LEVELS:
        return LEVELS[key]
    for method in sorted(LEVELS, key=len, reverse=True):
        basis = basis_name(key.removeprefix(f"{method}-")) if key.startswith(f"{method}-") else ""
        if basis:
            return f"{LEVELS[method]}/{basis}"
    return level


def basis_name(slug: str) -> str:
    """``cc-pVDZ`` from ``cc-pvdz``, ``def2-SVP`` from ``def2-svp``; "" for a family not known
    here (the level is then shown as it is)."""
    dunning = re.fullmatch(r"((?:d-)?aug-)?cc-p(w?c)?v([dtq5-9])z", slug)
    if dunning:
        augmented, core, zeta = dunning.groups()
        return f"{augmented or ''}cc-p{(core or '').replace('c', 'C')}V{zeta.upper()}Z"
    if re.fullmatch(r"def2-[a-z]+", slug):
        return f"def2-{slug.removeprefix('def2-').upper()}"
    return ""


def model_name(model: str) -> str:
    return MODELS.get(model, model)


def setting_name(method: str, level: str = "", cost_ratio: str = "", model: str = "") -> str:
    """``ASTEROID (EGNN, GFN2-xTB)``; a numeric cost ratio is named, the measured one is the
    default and is not; sGDML and ANI-1ccx are their own model."""
    details = [model_name(model)] if model and method not in OWN_MODEL else []
    details += [level_name(level)] if level else []
    if cost_ratio and cost_ratio != "measured":
        details.append(f"cost ratio {cost_ratio}")
    return method_name(method) + (f" ({', '.join(details)})" if details else "")


def budget_name(budget: float, accurate_level: str = "") -> str:
    """``25 CCSD-label equivalents``: budgets count accurate labels plus cheap ones over the
    cost ratio."""
    unit = f"{level_name(accurate_level)}-label" if accurate_level else "accurate-label"
    count = f"{budget:g}" if math.isfinite(budget) else "?"
    return f"{count} {unit} equivalents"


def inference_note(method: str, level: str) -> str:
    """What a method needs at inference beyond its own model, without a subject ("" for a
    force field)."""
    if method in NEEDS_CHEAP_AT_INFERENCE:
        cheap = level_name(level) if level else "cheap"
        return f"needs a {cheap} calculation of every configuration at inference"
    return ""
