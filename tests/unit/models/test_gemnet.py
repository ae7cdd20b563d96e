"""GemNet-T-specific behaviour: graph and triplet indices, bases, scale fitting, defaults.

The shared physics suite (test_physics.py) covers forces, invariances, batching and saving.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.special import eval_legendre, spherical_jn
from torch_geometric.data import Data

from harness.bench.molecules import ASPIRIN, ETHANOL, METHANE, Geometry
from harness.train.batching import make_loader
from models import HyperparameterError, build_model
from models.gemnet import GemNetT
from models.gemnet.bases import (
    RadialBesselBasis,
    SphericalBasis,
    polynomial_envelope,
    spherical_bessel,
    spherical_bessel_zeros,
    zonal_spherical_harmonics,
)
from models.gemnet.scaling import FeatureMoments, ScaleFactor
from models.gemnet.triplets import triplet_cosines, triplet_indices, triplet_slots
from models.graph import edge_vectors, radius_graph

# the small configuration of conftest.SMALL_HYPERPARAMETERS (not importable by name: several
# conftest.py files share the module name)
SMALL = {"num_blocks": 2, "emb_size_atom": 16, "emb_size_edge": 16, "emb_size_trip": 8,
         "emb_size_rbf": 4, "emb_size_cbf": 4, "emb_size_bil_trip": 8, "num_radial": 4,
         "num_spherical": 3}

# a bent 4-atom chain, 1.5 A bonds at right angles: 0-1 along x, 1-2 along y, 2-3 along x;
# d(0,2) = d(1,3) = 2.12 A, d(0,3) = 3.35 A, so a 3 A cutoff drops exactly the pair (0, 3)
CHAIN = torch.tensor([[0.0, 0.0, 0.0], [1.5, 0.0, 0.0], [1.5, 1.5, 0.0], [3.0, 1.5, 0.0]],
                     dtype=torch.float64)
CHAIN_CUTOFF = 3.0
# every (k, j, i) with k and i distinct neighbours of j: neighbours 0: {1, 2},
# 1: {0, 2, 3}, 2: {0, 1, 3}, 3: {1, 2}
CHAIN_TRIPLETS = {
    (1, 0, 2), (2, 0, 1),
    (0, 1, 2), (0, 1, 3), (2, 1, 0), (2, 1, 3), (3, 1, 0), (3, 1, 2),
    (0, 2, 1), (0, 2, 3), (1, 2, 0), (1, 2, 3), (3, 2, 0), (3, 2, 1),
    (1, 3, 2), (2, 3, 1),
}


def collate(geometries: list[Geometry], dtype: torch.dtype = torch.float64
            ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Atomic numbers, positions and molecule index of the atoms of ``geometries``."""
    atomic_numbers = torch.cat([torch.as_tensor(g.atomic_numbers) for g in geometries])
    positions = torch.cat([torch.as_tensor(g.positions, dtype=dtype) for g in geometries])
    batch = torch.cat([torch.full((len(g.atomic_numbers),), index, dtype=torch.long)
                       for index, g in enumerate(geometries)])
    return atomic_numbers, positions, batch


def chain_graph() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    edge_index = radius_graph(CHAIN, torch.zeros(4, dtype=torch.long), CHAIN_CUTOFF, 1)
    kj, ji = triplet_indices(edge_index, 4)
    return edge_index, kj, ji


def test_chain_edges_are_every_pair_but_the_one_beyond_the_cutoff():
    edge_index, _, _ = chain_graph()
    pairs = {(int(j), int(i)) for j, i in edge_index.T}
    expected = {(j, i) for j in range(4) for i in range(4) if j != i} - {(0, 3), (3, 0)}
    assert pairs == expected and edge_index.shape[1] == 10


def test_chain_triplets_are_enumerated_by_hand():
    edge_index, kj, ji = chain_graph()
    source, target = edge_index
    assert torch.equal(target[kj], source[ji])  # k -> j ends where j -> i starts
    triplets = [(int(source[a]), int(source[b]), int(target[b])) for a, b in zip(kj, ji,
                                                                               strict=True)]
    assert len(triplets) == len(CHAIN_TRIPLETS)  # no duplicates
    assert set(triplets) == CHAIN_TRIPLETS
    assert torch.all(ji[1:] >= ji[:-1])  # grouped by the updated edge
    slots, most = triplet_slots(ji, edge_index.shape[1])
    assert most == 2  # j -> i with j of degree 3: two k
    assert len(set(zip(ji.tolist(), slots.tolist(), strict=True))) == len(ji)
    assert sorted(slots[ji == ji[0]].tolist()) == list(range(int((ji == ji[0]).sum())))


def test_chain_triplet_angles_are_those_at_the_shared_atom():
    edge_index, kj, ji = chain_graph()
    vectors, distances = edge_vectors(CHAIN, edge_index)
    cosines = triplet_cosines(vectors, distances, kj, ji)
    source, target = edge_index
    by_atoms = {(int(source[a]), int(source[b]), int(target[b])): float(c)
                for a, b, c in zip(kj, ji, cosines, strict=True)}
    assert by_atoms[(0, 1, 2)] == pytest.approx(0.0, abs=1e-12)  # right angle at atom 1
    assert by_atoms[(2, 1, 0)] == pytest.approx(0.0, abs=1e-12)
    assert by_atoms[(1, 0, 2)] == pytest.approx(1 / math.sqrt(2))  # 45 degrees at atom 0
    assert by_atoms[(0, 1, 3)] == pytest.approx(-1 / math.sqrt(2))  # 135 degrees at atom 1
    assert by_atoms[(1, 2, 3)] == pytest.approx(0.0, abs=1e-12)


def test_water_has_one_triplet_per_edge():
    positions = torch.tensor([[0.0, 0.0, 0.0], [0.757, 0.586, 0.0], [-0.757, 0.586, 0.0]],
                             dtype=torch.float64)
    edge_index = radius_graph(positions, torch.zeros(3, dtype=torch.long), 5.0, 1)
    kj, ji = triplet_indices(edge_index, 3)
    source, target = edge_index
    triplets = {(int(source[a]), int(source[b]), int(target[b])) for a, b in zip(kj, ji,
                                                                               strict=True)}
    assert triplets == {(1, 0, 2), (2, 0, 1), (0, 1, 2), (2, 1, 0), (0, 2, 1), (1, 2, 0)}
    vectors, distances = edge_vectors(positions, edge_index)
    cosines = {(int(source[a]), int(source[b]), int(target[b])): float(c) for a, b, c in
               zip(kj, ji, triplet_cosines(vectors, distances, kj, ji), strict=True)}
    hoh = math.cos(2 * math.atan2(0.757, 0.586))
    assert cosines[(1, 0, 2)] == pytest.approx(hoh)


def test_envelope_is_one_at_zero_and_vanishes_flat_at_the_cutoff():
    x = torch.tensor([0.0, 0.5, 1.0 - 1e-6, 1.0, 1.3], dtype=torch.float64, requires_grad=True)
    value = polynomial_envelope(x, 5)
    (slope,) = torch.autograd.grad(value.sum(), x)
    value = value.detach()
    assert value[0] == 1.0
    assert float(value[1]) == pytest.approx(1 - 21 * 0.5**5 + 35 * 0.5**6 - 15 * 0.5**7)
    assert float(slope[1]) == pytest.approx(-105 * 0.5**4 * 0.5**2)
    assert abs(float(value[2])) < 1e-13 and abs(float(slope[2])) < 1e-9
    assert float(value[3]) == 0.0 and float(value[4]) == 0.0
    assert float(slope[3]) == 0.0 and float(slope[4]) == 0.0


def test_radial_bessel_basis_hand_values_and_orthonormality():
    cutoff = 5.0
    basis = RadialBesselBasis(num_radial=6, cutoff=cutoff, envelope_exponent=5).double()
    values = basis(torch.tensor([1.0, 2.5], dtype=torch.float64))
    envelope_1 = 1 - 21 * 0.2**5 + 35 * 0.2**6 - 15 * 0.2**7  # u(1 / 5) = 0.995328
    for n in range(1, 7):
        expected = math.sqrt(2 / cutoff) * math.sin(n * math.pi / cutoff) / 1.0 * envelope_1
        assert float(values[0, n - 1]) == pytest.approx(expected, rel=1e-12)
    # n = 2 at d = c / 2: sin(pi) = 0
    assert abs(float(values[1, 1])) < 1e-15
    # without the envelope, orthonormal on [0, c] with weight d^2
    d = torch.linspace(1e-4, cutoff - 1e-4, 20001, dtype=torch.float64)
    raw = basis(d) / polynomial_envelope(d / cutoff, 5).unsqueeze(-1)
    gram = torch.trapezoid(raw.unsqueeze(-1) * raw.unsqueeze(-2) * (d**2)[:, None, None],
                           d, dim=0)
    torch.testing.assert_close(gram, torch.eye(6, dtype=torch.float64), atol=1e-4, rtol=0)


def test_spherical_bessel_functions_and_zeros_match_scipy():
    # small arguments (series), both sides of the switch at x = l, large ones (closed form)
    x = np.concatenate([np.logspace(-6, 0, 13), np.linspace(0.5, 15.0, 59)])
    for order in range(11):
        values = spherical_bessel(order, torch.as_tensor(x, dtype=torch.float64))
        np.testing.assert_allclose(values.numpy(), spherical_jn(order, x), rtol=1e-12,
                                   atol=1e-14)
    x = torch.tensor([1e-3, 0.5, 2.9999, 3.0, 3.0001, 8.0], dtype=torch.float64,
                     requires_grad=True)
    (slope,) = torch.autograd.grad(spherical_bessel(3, x).sum(), x)
    expected = (spherical_jn(3, x.detach().numpy(), derivative=True))
    np.testing.assert_allclose(slope.numpy(), expected, rtol=1e-9, atol=1e-14)
    zeros = spherical_bessel_zeros(7, 6)
    np.testing.assert_allclose(zeros[0], np.pi * np.arange(1, 7), rtol=1e-14)
    assert zeros[1, 0] == pytest.approx(4.493409457909064, rel=1e-13)  # first zero of j_1
    assert zeros[2, 0] == pytest.approx(5.763459196894550, rel=1e-13)  # first zero of j_2
    for order in range(7):
        np.testing.assert_allclose(spherical_jn(order, zeros[order]), 0.0, atol=1e-13)
        assert np.all(np.diff(zeros[order]) > 0)


def test_spherical_basis_radial_part_is_normalised_and_angular_part_is_zonal_harmonics():
    cutoff = 5.0
    basis = SphericalBasis(num_spherical=7, num_radial=6, cutoff=cutoff, envelope_exponent=5)
    zeros = spherical_bessel_zeros(7, 6)
    # hand value: l = 1, n = 1 at d = 1.2 A
    x = 1.2 / cutoff
    expected = (math.sqrt(2) / abs(spherical_jn(2, zeros[1, 0])) * spherical_jn(1, zeros[1, 0] * x)
                * (1 - 21 * x**5 + 35 * x**6 - 15 * x**7))
    value = basis.radial(torch.tensor([1.2], dtype=torch.float64))
    assert value.shape == (1, 7, 6)
    assert float(value[0, 1, 0]) == pytest.approx(expected, rel=1e-10)
    # without the envelope each order is orthonormal on [0, 1] with weight x^2
    d = torch.linspace(1e-4, cutoff - 1e-4, 20001, dtype=torch.float64)
    scaled = d / cutoff
    raw = basis.radial(d) / polynomial_envelope(scaled, 5)[:, None, None]
    for order in range(7):
        functions = raw[:, order]
        gram = torch.trapezoid(functions.unsqueeze(-1) * functions.unsqueeze(-2)
                               * (scaled**2)[:, None, None], scaled, dim=0)
        torch.testing.assert_close(gram, torch.eye(6, dtype=torch.float64), atol=1e-4, rtol=0)
    cosines = torch.tensor([-1.0, -0.3, 0.0, 0.5, 1.0], dtype=torch.float64)
    harmonics = zonal_spherical_harmonics(cosines, 7)
    assert float(harmonics[0, 0]) == pytest.approx(1 / math.sqrt(4 * math.pi))
    assert float(harmonics[3, 2]) == pytest.approx(
        math.sqrt(5 / (4 * math.pi)) * (3 * 0.25 - 1) / 2)
    for order in range(7):
        np.testing.assert_allclose(
            harmonics[:, order].numpy(),
            math.sqrt((2 * order + 1) / (4 * math.pi)) * eval_legendre(order, cosines.numpy()),
            rtol=1e-12, atol=1e-14)


def test_spherical_basis_stays_float64_inside_a_float32_model():
    model = build_model("gemnet_t", SMALL)  # float32
    distances = torch.tensor([0.9, 1.5, 4.0])
    radial = model.spherical_basis.radial(distances)
    assert radial.dtype == torch.float32
    reference = model.double().spherical_basis.radial(distances.double())
    torch.testing.assert_close(radial.double(), reference, rtol=1e-6, atol=1e-7)


def test_defaults_are_the_published_md17_hyperparameters():
    model = build_model("gemnet_t")
    assert isinstance(model, GemNetT)
    assert model.cutoff == 5.0
    assert len(model.interactions) == 4 and len(model.outputs) == 5
    block = model.interactions[0]
    assert model.atom_embedding.embedding.embedding_dim == 128
    assert block.dense_skip.linear.weight.shape == (128, 128)  # emb_size_edge
    assert block.triplet.down_projection.linear.weight.shape == (64, 128)  # emb_size_trip
    assert model.rbf_triplet.linear.weight.shape == (16, 6)  # emb_size_rbf, num_radial
    assert model.cbf_triplet.weight.shape == (7, 6, 16)  # num_spherical, num_radial, cbf
    assert block.triplet.bilinear.linear.weight.shape == (64, 16 * 64)  # emb_size_bil_trip
    assert (len(block.before_skip), len(block.after_skip), len(block.concat_residual)) == (
        1, 2, 1)
    assert len(block.atom_update.layers) == 1 + 2  # dense + num_atom residual layers
    assert model.radial_basis.envelope_exponent == 5
    assert model.atom_embedding.embedding.num_embeddings == 11
    assert not bool(model.scaling_fitted)


@pytest.mark.parametrize(("key", "value"), [
    ("max_atomic_number", 7), ("num_blocks", 0), ("emb_size_edge", 0), ("num_atom", -1),
    ("cutoff", 0.0), ("num_spherical", 2.5),
])
def test_bad_hyperparameters_are_hyperparameter_errors(key: str, value: object):
    with pytest.raises(HyperparameterError, match=f"model.{key}"):
        build_model("gemnet_t", {**SMALL, key: value})


def test_energy_is_continuous_where_a_pair_crosses_the_cutoff():
    torch.manual_seed(0)
    model = build_model("gemnet_t", {**SMALL, "cutoff": 3.0}).double()
    atomic_numbers = torch.tensor([6, 8, 1])
    batch = torch.zeros(3, dtype=torch.long)

    def energy(distance: float) -> float:
        # C-O bond fixed, H moved along x: the O-H pair crosses the cutoff at `distance`
        positions = torch.tensor([[0.0, 0.0, 0.0], [0.0, 1.2, 0.0], [distance, 1.2, 0.0]],
                                 dtype=torch.float64)
        with torch.no_grad():
            return float(model(atomic_numbers, positions, batch, 1))

    assert energy(3.0 - 1e-4) == pytest.approx(energy(3.0 + 1e-4), abs=1e-9)
    assert energy(3.0 + 1e-4) == energy(4.0)  # beyond the cutoff nothing changes
    assert energy(2.0) != pytest.approx(energy(4.0), abs=1e-6)


def test_molecules_without_triplets_or_edges_evaluate_and_fit():
    """A diatomic has edges but no triplets; a lone atom (or atoms beyond the cutoff) has
    neither: energies are finite, a lone atom's raw energy is 0, and the triplet factors of a
    fit on such frames keep their value (nothing to fit them on)."""
    torch.manual_seed(0)
    model = build_model("gemnet_t", SMALL).double()
    diatomic = (torch.tensor([6, 8]), torch.tensor([[0.0, 0.0, 0.0], [0.0, 0.0, 1.2]],
                                                   dtype=torch.float64),
                torch.zeros(2, dtype=torch.long))
    lone = (torch.tensor([6]), torch.zeros(1, 3, dtype=torch.float64),
            torch.zeros(1, dtype=torch.long))
    with torch.no_grad():
        assert torch.isfinite(model.raw_energy(*diatomic, 1)).all()
        assert float(model.raw_energy(*lone, 1)) == 0.0
    assert model.fit_scaling([diatomic, lone])
    fitted = factors(model)
    assert fitted["interactions.0.triplet.scale_cbf_sum"] == 1.0
    assert fitted["interactions.0.triplet.scale_rbf"] != 1.0


def fitting_batches() -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    generator = np.random.default_rng(0)

    def jiggled(geometry: Geometry) -> Geometry:
        return Geometry(geometry.name, geometry.atomic_numbers,
                        geometry.positions + 0.05 * generator.standard_normal(
                            geometry.positions.shape))

    return [collate([jiggled(ETHANOL), jiggled(METHANE)]), collate([jiggled(ASPIRIN)]),
            collate([jiggled(ETHANOL), jiggled(ETHANOL), jiggled(ASPIRIN)])]


def factors(model: GemNetT) -> dict[str, float]:
    return {name: float(module.factor) for name, module in model.named_modules()
            if isinstance(module, ScaleFactor)}


def scaled_variance_ratios(model: GemNetT, batches: list) -> dict[str, float]:
    """var(scaled output) / var(reference) of every factor, pooled over ``batches``."""
    moments: dict[str, tuple[FeatureMoments, FeatureMoments]] = {}
    handles = []
    for name, module in model.named_modules():
        if isinstance(module, ScaleFactor):
            moments[name] = (FeatureMoments(), FeatureMoments())

            def hook(_module, args, kwargs, output, name=name):
                moments[name][0].add(output)
                moments[name][1].add(kwargs["reference"])

            handles.append(module.register_forward_hook(hook, with_kwargs=True))
    try:
        with torch.no_grad():
            for atomic_numbers, positions, batch in batches:
                model(atomic_numbers, positions, batch)
    finally:
        for handle in handles:
            handle.remove()
    return {name: out.variance() / ref.variance() for name, (out, ref) in moments.items()}


def test_fitted_factors_make_each_scaled_activation_as_variable_as_its_reference():
    torch.manual_seed(0)
    model = build_model("gemnet_t", SMALL).double()
    batches = fitting_batches()
    before = scaled_variance_ratios(model, batches)
    assert max(abs(math.log(ratio)) for ratio in before.values()) > 0.1  # fitting has work
    assert model.fit_scaling(batches) is True
    assert bool(model.scaling_fitted)
    ratios = scaled_variance_ratios(model, batches)
    assert len(ratios) == 3 * 2 + 3  # 3 per interaction block, 1 per output block
    for name, ratio in ratios.items():
        assert ratio == pytest.approx(1.0, rel=1e-9), name
    assert all(value != 1.0 for value in factors(model).values())


def test_a_second_fit_is_skipped_unless_forced():
    torch.manual_seed(0)
    model = build_model("gemnet_t", SMALL).double()
    batches = fitting_batches()
    model.fit_scaling(batches)
    fitted = factors(model)
    assert model.fit_scaling(fitting_batches()[:1]) is False
    assert factors(model) == fitted
    assert model.fit_scaling(batches, refit=True) is True  # already variance-preserving
    for name, value in factors(model).items():
        assert value == pytest.approx(fitted[name], rel=1e-9)


def test_fitted_factors_survive_a_state_dict_round_trip(tmp_path: Path):
    torch.manual_seed(0)
    model = build_model("gemnet_t", SMALL).double()
    model.fit_scaling(fitting_batches())
    path = tmp_path / "gemnet.pt"
    torch.save(model.state_dict(), path)
    rebuilt = build_model("gemnet_t", SMALL).double()
    rebuilt.load_state_dict(torch.load(path, weights_only=True))
    assert factors(rebuilt) == factors(model)
    assert bool(rebuilt.scaling_fitted)
    assert rebuilt.fit_scaling(fitting_batches()) is False
    assert factors(rebuilt) == factors(model)


def test_fit_scaling_takes_the_trainers_torch_geometric_batches():
    """What ``harness.train.methods.fresh_model`` passes: ``make_loader`` batches."""
    torch.manual_seed(0)
    graphs = [Data(z=torch.as_tensor(g.atomic_numbers),
                   pos=torch.as_tensor(g.positions, dtype=torch.float32))
              for g in (ETHANOL, METHANE, ASPIRIN, ETHANOL)]
    loader_batches = list(make_loader(graphs, 2, shuffle=False))
    tuple_batches = [collate([ETHANOL, METHANE], dtype=torch.float32),
                     collate([ASPIRIN, ETHANOL], dtype=torch.float32)]
    from_loader, from_tuples = build_model("gemnet_t", SMALL), build_model("gemnet_t", SMALL)
    from_tuples.load_state_dict(from_loader.state_dict())
    assert from_loader.fit_scaling(loader_batches) and from_tuples.fit_scaling(tuple_batches)
    assert factors(from_loader) == pytest.approx(factors(from_tuples), rel=1e-6)


def test_small_configuration_is_the_one_the_physics_suite_runs():
    from importlib.util import module_from_spec, spec_from_file_location

    spec = spec_from_file_location("models_conftest", Path(__file__).with_name("conftest.py"))
    conftest = module_from_spec(spec)
    spec.loader.exec_module(conftest)
    assert conftest.SMALL_HYPERPARAMETERS["gemnet_t"] == SMALL
