

def test_infinite_variance_laws_are_never_chosen():
    from riskmodel.fit.calibration import Calibration
    from riskmodel.fit.thin_selection import finite_variance

    def cal(family, dist, **p):
        return Calibration(market="m", model={"family": family, "dist": dist}, params=p)

    eg = {"omega": 0.0, "alpha": 0.1, "gamma": 0.0, "beta": 0.95}
    assert not finite_variance(cal("egarch", "t", nu=8.0, **eg))  # E exp(c|z|) = inf
    assert finite_variance(cal("egarch", "normal", **eg))
    g = {"mu": 0.0, "omega": 0.1, "alpha": 0.1, "gamma": 0.0, "beta": 0.89}
    assert finite_variance(cal("garch", "t", nu=4.0, **g))
    assert not finite_variance(cal("garch", "t", nu=2.05, **g))
    assert not finite_variance(cal("garch", "t", nu=6.0, **{**g, "beta": 0.9}))
