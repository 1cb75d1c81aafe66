"""MS-GARCH with every regime's fourth moment finite (``fit_msgarch(moment4=True)``,
candidate ``msgarch2-t-m4``)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from test_msgarch import TRUE, simulate

from riskmodel import config
from riskmodel.errors import InputError
from riskmodel.fit import msgarch as mg
from riskmodel.fit.calibration import Calibration

TRUE_T = dict(TRUE, nu=8.0)


def test_every_free_vector_maps_inside_the_region() -> None:
    """unpack of any free parameters (including extreme ones) gives alpha, beta >= 0 with
    kappa alpha^2 + 2 alpha beta + beta^2 < 1 (so alpha + beta < 1) and nu > 4; pack inverts
    unpack inside the region (up to 0.99 of the bound in each direction: pack pulls a start
    beyond that to 0.99)."""
    rng = np.random.default_rng(3)
    for student in (False, True):
        spec = mg._Spec(2, student, floor=1e-4, moment4=True)
        for _ in range(400):
            theta = rng.normal(0.0, 6.0, spec.n_free)
            mu, om, al, be, P, nu = spec.unpack(theta)
            assert np.all(al >= 0) and np.all(be >= 0) and np.all(al + be < 1)
            assert np.all(mg.fourth_moment_margin(al, be, nu) > -1e-12)
            if student:
                assert nu > 4.0
            back = spec.unpack(spec.pack(mu, om, al, be, P, nu))
            inside = np.all(mg.fourth_moment_margin(al, be, nu) > 0.02)
            if inside and np.all(np.minimum(al, be) > 1e-6):
                np.testing.assert_allclose(back[2], al, rtol=1e-6, atol=1e-9)
                np.testing.assert_allclose(back[3], be, rtol=1e-6, atol=1e-9)


def test_margin_is_bollerslevs_condition() -> None:
    """GARCH(1,1) with normal innovations: finite fourth moment iff 3 a^2 + 2 a b + b^2 < 1
    (Bollerslev 1986); t(nu): kappa = 3 (nu - 2) / (nu - 4)."""
    a, b = np.array([0.1, 0.3]), np.array([0.85, 0.65])
    np.testing.assert_allclose(mg.fourth_moment_margin(a, b, 0.0),
                               1 - (3 * a**2 + 2 * a * b + b**2))
    assert mg.innovation_kurtosis(8.0) == pytest.approx(4.5)
    assert np.all(mg.fourth_moment_margin(a, b, 3.5) == -np.inf)


def test_constraint_does_not_bind_when_the_truth_lies_inside() -> None:
    """3,000 days of a two-regime MS-GARCH-t(8) whose regimes have finite fourth moments: the
    constrained and unconstrained fits reach the same optimum (log-likelihood within 0.5) and
    recover the truth's persistence and tail within 4 SE."""
    assert np.all(mg.fourth_moment_margin(
        np.array([TRUE["alpha_0"], TRUE["alpha_1"]]),
        np.array([TRUE["beta_0"], TRUE["beta_1"]]), 8.0) > 0.05)
    y = pd.Series(simulate(TRUE_T, 3000, seed=41), name="sim")
    free = mg.fit_msgarch(y, dist="t", n_starts=0, start=TRUE_T)
    m4 = mg.fit_msgarch(y, dist="t", n_starts=0, start=TRUE_T, moment4=True)
    assert m4.moment4 and not free.moment4
    assert m4.loglik == pytest.approx(free.loglik, abs=0.5)
    for k in ("beta_0", "alpha_1", "p_00", "nu"):
        assert abs(m4.params[k] - TRUE_T[k]) <= 4 * m4.std_errors[k], k


def test_binding_constraint_on_an_arch_like_regime() -> None:
    """A regime that is an ARCH(1) with alpha 0.9 (infinite fourth moment): the unconstrained fit
    finds alpha_k + beta_k near its truth; the constrained one stays inside the region, says it is
    on the bound, and gives up little likelihood relative to the number of parameters it keeps."""
    p = dict(TRUE, alpha_1=0.9, beta_1=0.02, omega_1=0.3, nu=8.0)
    y = pd.Series(simulate(p, 3000, seed=5), name="sim")
    free = mg.fit_msgarch(y, dist="t", n_starts=0, start=p)
    m4 = mg.fit_msgarch(y, dist="t", n_starts=0, start=p, moment4=True)
    assert max(free.params["alpha_0"], free.params["alpha_1"]) > 0.6
    al = np.array([m4.params["alpha_0"], m4.params["alpha_1"]])
    be = np.array([m4.params["beta_0"], m4.params["beta_1"]])
    assert np.all(mg.fourth_moment_margin(al, be, m4.params["nu"]) > -1e-9)
    assert any("fourth-moment bound" in w for w in m4.warnings)
    assert free.loglik > m4.loglik


@pytest.mark.parametrize("name,want", [
    ("msgarch2-t", (2, "t", False)),
    ("msgarch2-t-m4", (2, "t", True)),
    ("msgarch3-normal-m4", (3, "normal", True)),
    ("msgarch2", (2, "normal", False)),
])
def test_names(name: str, want: tuple[int, str, bool]) -> None:
    assert mg.parse_msgarch_name(name) == want


@pytest.mark.parametrize("name", ["msgarch2-t-m5", "msgarch2-skewt", "msgarchx-t", "ms2-t-m4"])
def test_bad_names_are_refused(name: str) -> None:
    with pytest.raises(InputError):
        mg.parse_msgarch_name(name)


def test_calibration_names_the_constrained_model() -> None:
    """The calibration of a constrained fit is named ``msgarch2-t-m4`` (model block, model_name)
    and round-trips through its dict."""
    y = pd.Series(simulate(TRUE_T, 800, seed=9), name="sim",
                  index=pd.bdate_range("2015-01-01", periods=800))
    res = mg.fit_msgarch(y, dist="t", n_starts=0, start=TRUE_T, moment4=True)
    cal = Calibration.from_fit(res, None, diagnostics={})
    assert cal.model_name == "msgarch2-t-m4" and cal.model["moment4"] is True
    assert Calibration.from_dict(json.loads(json.dumps(cal.to_dict()))).model_name == (
        "msgarch2-t-m4")


def test_shipped_msgarch_m4_calibrations_have_finite_fourth_moments() -> None:
    """Every shipped calibration fitted as msgarch*-m4 lies inside its region (none is shipped
    since Hubei's choice moved on to ms3), and Hubei's selection table holds the candidate's row
    beside the unconstrained MS-GARCH-t's, with the lower guard share that motivated the bound."""
    for path in sorted(config.CALIBRATIONS_DIR.glob("*.json")):
        d = json.loads(path.read_text())
        if not isinstance(d.get("model"), dict) or not d["model"].get("moment4"):
            continue
        p = d["params"]
        k = int(d["model"]["k_regimes"])
        al = np.array([p[f"alpha_{j}"] for j in range(k)])
        be = np.array([p[f"beta_{j}"] for j in range(k)])
        assert np.all(mg.fourth_moment_margin(al, be, float(p.get("nu", 0.0))) > -1e-9), path
        assert d["model"]["name"] == "msgarch2-t-m4"
    rows = {r["model"]: r for r in json.loads(
        (config.CALIBRATIONS_DIR / "hubei.json").read_text())["selection"]}
    assert rows["msgarch2-t-m4"]["guard_share_1y"] < rows["msgarch2-t"]["guard_share_1y"]
