"""Decompose Korea's exposure to the link events of ``regulatory_events`` at termination rate 0
into the quota and the Chinese exemption, without banking and with H = 3 and 10
(docs/BANKING.md §7.5.1). Prints Korea's and China's price exposure and the bank exposure per
compliance year (linked_events - linked, same random numbers).

    python benchmarks/bench_banking_korea_sign.py [PATHS]
"""

from __future__ import annotations

import copy
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from riskmodel import config
from riskmodel.batch.runner import RESULTS, RunOptions, run_plan
from riskmodel.batch.scenario_file import plan_from_dict
from riskmodel.io import read_yaml

FILE = config.SCENARIOS_DIR / "regulatory_events.yaml"


def _quota_only(d: dict[str, Any]) -> dict[str, Any]:
    d["events"].pop("markets")
    return d


def _exemption_only(d: dict[str, Any]) -> dict[str, Any]:
    d["events"]["links"][0]["active_to_restricted"] = 0.0
    return d


CASES: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "quota and exemption": lambda d: d,
    "quota only": _quota_only,
    "exemption only": _exemption_only,
}


def main(paths: int = 1000) -> None:
    base = read_yaml(FILE)
    base.pop("sweep")
    base.pop("banking", None)
    base["events"]["links"][0].update(active_to_suspended=0.0, restricted_to_suspended=0.0)
    base["simulation"]["paths"] = paths
    with tempfile.TemporaryDirectory() as tmp:
        for name, edit in CASES.items():
            for h in (None, 3, 10):
                d = edit(copy.deepcopy(base))
                if h is not None:
                    d["banking"] = {"horizon": h}
                plan = plan_from_dict(d, file=FILE, paths=paths)
                rd = run_plan(
                    plan,
                    out=Path(tmp),
                    run_id=f"{name.replace(' ', '_')}_{h}",
                    options=RunOptions(n_jobs=1),
                )
                t = pd.read_parquet(rd / RESULTS)
                t = t[
                    (t.variant == "exposure")
                    & (t.year >= 0)
                    & t.statistic.isin(["price_mean", "bank_mean"])
                ]
                print(f"{name}, {'no banking' if h is None else f'H = {h}'}:")
                print(
                    t.pivot_table(
                        index=["market", "statistic", "unit"], columns="year", values="value"
                    ).to_string(float_format="{:.4g}".format)
                )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
