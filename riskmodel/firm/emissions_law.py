"""The firm's emissions law: the default of its idiosyncratic dispersion, and the sentence that
states the law in the report.

A firm's emissions follow its market's BAU emissions (elasticity) times its own lognormal
factor; without a firm-specific figure, the log sd of that factor defaults to the standard
deviation of annual log emission growth of the market's jurisdiction, estimated in
``calibrations/fundamentals.json`` from OWID / Global Carbon Budget national emissions. The law
is bounded by the firm's ``capacity`` (a multiple of the year's expected level).
"""

from __future__ import annotations

from pathlib import Path

from riskmodel import config
from riskmodel.errors import InputError
from riskmodel.firm.firm import Firm
from riskmodel.fit.shared_calibrations import optional_file
from riskmodel.io import read_json
from riskmodel.strict import short_repr

FUNDAMENTALS = "fundamentals.json"
#: Largest log sd of a market's emission growth read as a firm's default dispersion (the
#: firm file's ``idiosyncratic_vol`` has the same bound).
MAX_SD = 2.0


def market_emissions_sd(market: str, path: Path | None = None) -> tuple[float, str] | None:
    """(sd of annual log emission growth, source) of a market's jurisdiction, or None."""
    from riskmodel.data.catalogue import load_market

    try:
        jur = str(load_market(market).jurisdiction)
    except Exception:  # noqa: BLE001 - a synthetic market has no catalogue entry
        return None
    path = path or config.CALIBRATIONS_DIR / FUNDAMENTALS
    if not optional_file(path, field="stats", without="use no market dispersion"):
        return None
    d = read_json(path)  # one line for bad bytes, deep nesting, huge numbers, duplicate keys
    if not isinstance(d, dict) or not isinstance(d.get("stats") or {}, dict):
        raise InputError("must be a JSON object with a 'stats' mapping", file=path,
                         field="stats")
    st = (d.get("stats") or {}).get(jur)
    if not isinstance(st, dict) or "sd_dlog_emissions" not in st:
        return None
    sd = st["sd_dlog_emissions"]
    if isinstance(sd, bool) or not isinstance(sd, int | float) or not 0.0 <= sd <= MAX_SD:
        raise InputError(f"must be a number from 0 to {MAX_SD:g} (a firm's idiosyncratic_vol "
                         f"has the same range; got {short_repr(sd)})", file=path,
                         field=f"stats.{jur}.sd_dlog_emissions")
    yrs = d.get("years") or []
    span = f", {yrs[0]}-{yrs[-1]}" if isinstance(yrs, list) and yrs else ""
    srcs = d.get("sources") if isinstance(d.get("sources"), dict) else {}
    em = (srcs.get(jur) or {}).get("emissions", []) if isinstance(srcs.get(jur), dict) else []
    src = "; ".join(str(x) for x in em) if isinstance(em, list) else ""
    return (float(sd),
            f"sd of annual log emission growth of {jur}{span} (calibrations/{FUNDAMENTALS}"
            + (f": {src}" if src else "") + ")")


def with_default_dispersion(firm: Firm) -> tuple[Firm, str]:
    """The firm with its idiosyncratic log sd resolved, and where the value comes from."""
    em = firm.emissions
    if em.idiosyncratic_vol is not None:
        return firm, "firm file"
    found = market_emissions_sd(firm.market)
    vol, src = found if found is not None else (0.0, "no firm or market figure: none")
    return firm.model_copy(update={"emissions": em.model_copy(
        update={"idiosyncratic_vol": vol})}), src


def law_sentence(firm: Firm, source: str) -> str:
    """The emissions law in one sentence, as the report states it."""
    em = firm.emissions
    base = (f"{em.share:.3g} × the market's BAU emissions" if em.share is not None else
            f"{em.level:,.4g} Mt in the first year, {em.annual_change:+.1%} a year, × (market "
            f"{'BAU emissions' if em.driver == 'bau' else 'covered output'} / its mean)"
            f"^{em.elasticity:g}")
    return (f"Firm emissions = {base} × a mean-one lognormal factor of log sd "
            f"{em.idiosyncratic_vol or 0:.3g} ({source}; year-to-year correlation "
            f"{em.idiosyncratic_persistence:g}), capped at {em.capacity:g} × the year's expected "
            f"level (capacity).")
