"""The MSR reading the bank on deterministic EU paths: conservation, bounds, the Commission's
2023 figures from the shipped catalogue, and the MSR switched off = the plain rolling rule."""

from __future__ import annotations

import numpy as np
import pytest

from riskmodel.banking import hotelling as hot
from riskmodel.banking import msr
from riskmodel.banking.eu import eu_rolling
from riskmodel.data.catalogue import load_catalogue

Y = 12
SUPPLY = 1.45e9 * (1.0 - 0.043) ** np.arange(Y)  # a declining cap (allowances)
BAU = np.full(Y, 1.80e9)
C, R = 1.3e7, 0.02  # allowances abated per EUR/t


@pytest.fixture(scope="module")
def start():
    eu = load_catalogue()["eu_ets"]
    m = eu.stabilisation.msr
    return (
        eu.banking.initial_bank.value * 1e6,
        m.holdings.value * 1e6,
        m.auction_volume.value * 1e6,
    )


@pytest.mark.parametrize("horizon", [1, 5, 10])
def test_allowances_are_conserved_and_the_tnac_never_negative(start, horizon):
    tnac0, hold0, auc0 = start
    path = eu_rolling(2023, SUPPLY, BAU, C, R, horizon, tnac0, 1.45e9, hold0, auc0)
    lhs = path.tnac[-1] + path.holdings[-1] + path.invalidated.sum() + path.emissions.sum()
    rhs = tnac0 + hold0 + SUPPLY.sum()
    assert lhs == pytest.approx(rhs, rel=1e-13)
    assert np.all(path.tnac >= -1e-3) and np.all(path.price >= 0.0)
    # the 1 January 2023 invalidation and the Sept-Dec 2023 part of the TNAC-2022 intake
    assert round(path.invalidated[0]) == 2_515_135_787
    want = 4 / 12 * msr.intake(tnac0) + 8 / 12 * msr.intake(1.45e9)
    assert path.intake[0] == pytest.approx(want, rel=1e-15)


def test_without_the_msr_it_is_the_plain_rolling_rule(start):
    tnac0, hold0, auc0 = start
    path = eu_rolling(2023, SUPPLY, BAU, C, R, Y, tnac0, 1.45e9, hold0, auc0, msr_on=False)
    p, b = hot.rolling_path(tnac0, BAU - SUPPLY, np.zeros(Y), C, R, horizon=Y)
    np.testing.assert_allclose(path.price, p, rtol=1e-12)
    np.testing.assert_allclose(path.tnac, b, rtol=1e-12)


def test_intakes_raise_early_prices_under_a_short_horizon(start):
    tnac0, hold0, auc0 = start
    on = eu_rolling(2023, SUPPLY, BAU, C, R, 3, tnac0, 1.45e9, hold0, auc0)
    off = eu_rolling(2023, SUPPLY, BAU, C, R, 3, tnac0, 1.45e9, hold0, auc0, msr_on=False)
    assert on.intake[:3].sum() > 5e8
    assert on.price[0] > off.price[0]
