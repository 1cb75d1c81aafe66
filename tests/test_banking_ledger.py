"""EU MSR rules and bank ledgers: exact figures from the Commission and the seeds, conservation."""

from __future__ import annotations

import numpy as np
import pytest

from riskmodel.banking import ledger, msr


def test_intake_above_upper_threshold_matches_commission_2023():
    # Commission (15 May 2023): TNAC 2022 = 1,134,794,738 -> 272,350,737 allowances withheld
    assert msr.intake_allowances(1_134_794_738) == 272_350_737


def test_band_intake_matches_commission_2024():
    # the Commission's published band example (issue #15): TNAC 1,023,494,202 -> 190,494,202
    assert msr.intake_allowances(1_023_494_202) == 190_494_202
    assert msr.intake(800e6) == 0.0


def test_intake_jumps_by_40k_at_the_upper_threshold():
    # the band nearly removes the old cliff: 0.24 x 1,096 M - (1,096 M - 833 M) = 40,000
    assert msr.intake(msr.UPPER) == 263_000_000.0
    assert msr.intake(np.nextafter(msr.UPPER, np.inf)) - msr.intake(msr.UPPER) == pytest.approx(
        40_000.0, abs=1e-3
    )


def test_invalidation_2023_uses_the_2022_auction_volume():
    # seed line 159: 2022 auction volume 486 M, 2,515 M invalidated in January 2023
    held = 486e6 + 2_515e6
    assert msr.invalidation(2023, held, 486e6) == 2_515e6
    assert msr.invalidation(2024, held, 486e6) == held - 400e6
    assert msr.invalidation(2022, held, 486e6) == 0.0


def test_release_below_400m_limited_by_holdings():
    assert msr.release(399e6, 1e9) == 100e6
    assert msr.release(399e6, 30e6) == 30e6
    assert msr.release(400e6, 1e9) == 0.0


def test_intake_lag_four_and_eight_twelfths():
    # year Y takes Sept-Dec of the intake set by TNAC_{Y-1} and Jan-Aug of that set by TNAC_{Y-2}
    i_in, rel, inv, h = msr.msr_year(2024, 1_023_494_202.0, 1_134_794_738.0, 500e6, 500e6)
    want = 190_494_202 * 4 / 12 + 0.24 * 1_134_794_738 * 8 / 12
    assert i_in == pytest.approx(want, rel=1e-15)
    assert inv == 100e6 and rel == 0.0
    assert h == pytest.approx(400e6 + want, rel=1e-15)


def test_eu_ledger_conserves_allowances():
    rng = np.random.default_rng(3)
    ny = 12
    supply = rng.uniform(1.0e9, 1.5e9, ny)
    emis = supply + rng.uniform(-2e8, 3e8, ny)
    imports = rng.normal(0, 2e7, ny)
    reserve = np.zeros(ny)
    tn, hold, fin, frel, finv = ledger.run_eu_ledger(
        2023,
        1_134_794_738.0,
        1_449_214_182.0,  # the TNAC a year earlier (its intake runs Jan-Aug of the first year)
        3_001e6,
        486e6,
        supply,
        supply * 0.57,
        imports,
        reserve,
        emis,
    )
    # bank: Σ(S - intake + release + x + R - E) = ΔTNAC
    assert tn[-1] - tn[0] == pytest.approx(
        np.sum(supply - fin + frel + imports + reserve - emis), rel=1e-12
    )
    # reserve: Δholdings = Σ intake - release - invalidated
    assert hold[-1] - hold[0] == pytest.approx(np.sum(fin - frel - finv), rel=1e-12)
    assert finv[0] == 2_515e6
    # from 2024 the reserve holds at most 400 M on 1 January after the invalidation
    assert np.all(hold >= 0) and np.all(hold[1:-1] - finv[1:] <= 400e6 + 1e-3)
    assert np.all(hold[1:-1] - finv[1:] >= 0)


@pytest.mark.parametrize("bound", [0.0, -50.0])
def test_plain_ledger_conservation_and_bound(bound):
    rng = np.random.default_rng(11)
    ny = 40
    s = rng.uniform(80, 120, ny)
    e = rng.uniform(70, 170, ny)  # drifts down: the bound binds
    x = rng.normal(0, 10, ny)
    res = rng.uniform(0, 5, ny)
    b, short = ledger.run_ledger(20.0, s, x, res, e, np.full(ny, bound))
    assert np.all(b >= bound) and np.all(short >= 0) and short.max() > 0
    assert b[-1] - b[0] == pytest.approx(np.sum(s + x + res - e + short), abs=1e-9)
    assert np.all(short[(b[1:] > bound)] == 0.0)


def test_shipped_catalogue_facts_reproduce_the_commission_figures():
    from riskmodel.data.catalogue import load_catalogue

    eu = load_catalogue()["eu_ets"]
    tnac = round(eu.banking.initial_bank.value * 1e6)
    assert tnac == 1_134_794_738
    assert msr.intake_allowances(tnac) == 272_350_737
    m = eu.stabilisation.msr
    inv = msr.invalidation(2023, m.holdings.value * 1e6, m.auction_volume.value * 1e6)
    assert round(inv) == 2_515_135_787
    assert msr.UPPER == m.intake_threshold.value * 1e6 and msr.LOWER == (
        m.intermediate_threshold.value * 1e6
    )
