"""GemNet's distance and angle bases: a radial Bessel basis and a 2D spherical Fourier-Bessel basis.

Distances are in Angstrom and are scaled by the cutoff c before entering the bases, x = d / c.
Every radial function is multiplied by the polynomial envelope u(x) of exponent p (GemNet's
default p = 5), which goes to 0 at the cutoff with vanishing first and second derivatives, so
the energy stays smooth when a pair or a triplet leaves the graph.

- Radial (edges): e_n(d) = sqrt(2 / c) sin(n pi d / c) / d * u(d / c), n = 1..num_radial,
  the orthonormal Bessel basis of DimeNet/GemNet.
- Triplets: a_ln(d, theta) = sqrt(2) / |j_{l+1}(z_ln)| j_l(z_ln d / c) u(d / c) * Y_l0(theta),
  l = 0..num_spherical-1, n = 1..num_radial, with j_l the spherical Bessel function of the first
  kind, z_ln its n-th positive zero and Y_l0 the zonal real spherical harmonic
  sqrt((2l + 1) / (4 pi)) P_l(cos theta). The radial part is evaluated per edge and the
  angular part per triplet; the triplet basis is their product.

The j_l are sympy's closed forms (sin/cos polynomials in 1/x), lambdified once per order and
cached. Those closed forms cancel catastrophically for small arguments (j_l's terms grow like
1/x^(l+1) while j_l shrinks like x^l), so below x = l the power series of j_l is used instead;
both are evaluated in float64, accurate to about 1e-15 where they meet, and cast back to the
input dtype. The zonal harmonics are polynomials in cos(theta) (Legendre recurrence), so there
is no arccos and no gradient singularity at collinear triplets.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import cache

import numpy as np
import sympy
import torch
from scipy.optimize import brentq
from scipy.special import spherical_jn
from torch import Tensor, nn


def polynomial_envelope(scaled_distances: Tensor, exponent: int) -> Tensor:
    """u(x) = 1 - (p+1)(p+2)/2 x^p + p(p+2) x^(p+1) - p(p+1)/2 x^(p+2) for x < 1, else 0.

    ``scaled_distances`` are d / cutoff (dimensionless). u(0) = 1, and u, u' and u'' vanish at
    x = 1 (for p = 5: u = 1 - 21 x^5 + 35 x^6 - 15 x^7, u' = -105 x^4 (1 - x)^2).
    """
    p = exponent
    x = scaled_distances
    x_p = x.pow(p)
    value = (1.0 - (p + 1) * (p + 2) / 2 * x_p + p * (p + 2) * x_p * x
             - p * (p + 1) / 2 * x_p * x * x)
    return torch.where(x < 1.0, value, torch.zeros_like(value))


class RadialBesselBasis(nn.Module):
    """Edge distances (Angstrom, any shape) -> (..., num_radial) enveloped Bessel functions.

    The frequencies n pi are fixed (not trained). The 1/d factor makes the functions
    orthonormal on [0, c] with weight d^2 (before the envelope).
    """

    def __init__(self, num_radial: int, cutoff: float, envelope_exponent: int) -> None:
        super().__init__()
        self.cutoff = float(cutoff)
        self.envelope_exponent = envelope_exponent
        # integers n, exact in any dtype; pi enters as a Python float in ``forward``
        self.register_buffer("orders", torch.arange(1, num_radial + 1, dtype=torch.float32),
                             persistent=False)
        self.normalisation = math.sqrt(2.0 / self.cutoff)

    def forward(self, distances: Tensor) -> Tensor:
        scaled = (distances / self.cutoff).unsqueeze(-1)
        envelope = polynomial_envelope(scaled, self.envelope_exponent)
        return (envelope * self.normalisation * torch.sin(math.pi * self.orders * scaled)
                / distances.unsqueeze(-1))


@cache
def spherical_bessel_function(order: int) -> Callable[[Tensor], Tensor]:
    """j_order(x) on torch tensors, from sympy's closed form (lambdified once, then cached)."""
    x = sympy.Symbol("x")
    expression = sympy.expand_func(sympy.jn(order, x))
    return sympy.lambdify(x, expression, modules=[{"sin": torch.sin, "cos": torch.cos}])


@cache
def _series_coefficients(order: int) -> tuple[float, ...]:
    """c_k with j_l(x) = x^l sum_k c_k x^(2k): c_0 = 1 / (2l+1)!!, c_(k+1) / c_k =
    -1 / (2 (k+1) (2l+2k+3)); terms are kept until they are below 1e-18 of the first at x = l
    (the largest argument the series is used for)."""
    first = 1.0 / math.prod(range(1, 2 * order + 2, 2))
    coefficients, coefficient, k = [], first, 0
    while abs(coefficient) * float(order) ** (2 * k) > 1e-18 * first:
        coefficients.append(coefficient)
        coefficient *= -0.5 / ((k + 1) * (2 * order + 2 * k + 3))
        k += 1
    return tuple(coefficients)


def spherical_bessel(order: int, x: Tensor) -> Tensor:
    """j_order(x) for x > 0: the closed form for x >= order, the power series below it.

    Each branch only sees arguments where it is accurate (the other gets a harmless stand-in),
    so neither produces infinities whose zero-weighted gradients would turn into NaN.
    """
    closed_form = spherical_bessel_function(order)
    if order == 0:
        return closed_form(x)
    small = x < order
    x_series = torch.where(small, x, torch.zeros_like(x))
    x_closed = torch.where(small, torch.full_like(x, float(order)), x)
    squared = x_series * x_series
    series = torch.zeros_like(x)
    for coefficient in reversed(_series_coefficients(order)):
        series = series * squared + coefficient
    return torch.where(small, series * x_series.pow(order), closed_form(x_closed))


@cache
def spherical_bessel_zeros(num_spherical: int, num_radial: int) -> np.ndarray:
    """(num_spherical, num_radial) array: z[l, n-1] is the n-th positive zero of j_l.

    The zeros of j_l interlace those of j_{l-1}, so each one is bracketed by two consecutive
    zeros of the previous order (starting from j_0's n pi) and found by Brent's method.
    """
    count = num_radial + num_spherical - 1
    previous = np.pi * np.arange(1, count + 1)
    zeros = [previous[:num_radial]]
    for order in range(1, num_spherical):
        count -= 1
        current = np.array([
            brentq(lambda value, order=order: spherical_jn(order, value), previous[index],
                   previous[index + 1], xtol=1e-15, rtol=4 * np.finfo(float).eps)
            for index in range(count)
        ])
        zeros.append(current[:num_radial])
        previous = current
    result = np.stack(zeros)
    result.setflags(write=False)
    return result


def zonal_spherical_harmonics(cosines: Tensor, num_spherical: int) -> Tensor:
    """(..., num_spherical): Y_l0 = sqrt((2l + 1) / (4 pi)) P_l(cos theta), l = 0..L-1."""
    legendre = [torch.ones_like(cosines)]
    if num_spherical > 1:
        legendre.append(cosines)
    for degree in range(1, num_spherical - 1):
        legendre.append(((2 * degree + 1) * cosines * legendre[degree]
                         - degree * legendre[degree - 1]) / (degree + 1))
    return torch.stack([math.sqrt((2 * degree + 1) / (4 * math.pi)) * polynomial
                        for degree, polynomial in enumerate(legendre)], dim=-1)


class SphericalBasis(nn.Module):
    """The 2D spherical Fourier-Bessel basis of triplets, split into its two factors.

    ``radial(distances)`` (E,) Angstrom -> (E, num_spherical, num_radial) enveloped, normalised
    j_l(z_ln d / c); ``angular(cosines)`` (T,) -> (T, num_spherical) zonal harmonics. The basis
    of triplet t on edge e is ``radial[e, l, n] * angular[t, l]``.
    """

    def __init__(self, num_spherical: int, num_radial: int, cutoff: float,
                 envelope_exponent: int) -> None:
        super().__init__()
        self.num_spherical = num_spherical
        self.num_radial = num_radial
        self.cutoff = float(cutoff)
        self.envelope_exponent = envelope_exponent
        zeros = spherical_bessel_zeros(num_spherical, num_radial)
        norms = np.stack([np.sqrt(2.0) / np.abs(spherical_jn(order + 1, zeros[order]))
                          for order in range(num_spherical)])
        # float64 constants, not buffers: ``model.float()`` must not round them (see above),
        # and they follow from the hyper-parameters, so the state dict need not hold them
        self._constants_cpu = (torch.tensor(zeros, dtype=torch.float64),
                               torch.tensor(norms, dtype=torch.float64))
        self._constants: dict[torch.device, tuple[Tensor, Tensor]] = {}

    def _constants_on(self, device: torch.device) -> tuple[Tensor, Tensor]:
        if device not in self._constants:
            self._constants[device] = tuple(constant.to(device)
                                            for constant in self._constants_cpu)
        return self._constants[device]

    def radial(self, distances: Tensor) -> Tensor:
        scaled = (distances / self.cutoff).to(torch.float64)
        zeros, norms = self._constants_on(distances.device)
        arguments = scaled[:, None, None] * zeros  # (E, S, R)
        values = torch.stack([spherical_bessel(order, arguments[:, order])
                              for order in range(self.num_spherical)], dim=1)
        envelope = polynomial_envelope(scaled, self.envelope_exponent)
        return (envelope[:, None, None] * norms * values).to(distances.dtype)

    def angular(self, cosines: Tensor) -> Tensor:
        return zonal_spherical_harmonics(cosines, self.num_spherical)
