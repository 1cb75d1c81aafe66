"""docs/results_linking.md comes from the shipped scenario files run through the batch API
(issue 10, item 4): no scenario is built by the generator."""

from __future__ import annotations

import inspect
from pathlib import Path

import pandas as pd
import pytest

from riskmodel import config
from riskmodel.batch import linking_results as lr
from riskmodel.batch.runner import plan_hash
from riskmodel.batch.scenario_file import load_scenario_file


def test_generator_runs_only_shipped_files_through_run_plan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = []
    real = lr.run_plan

    def spy(plan, **kw):
        seen.append(plan)
        return real(plan, **kw)

    monkeypatch.setattr(lr, "run_plan", spy)
    md = tmp_path / "results_linking.md"
    text = lr.main(20, output=md, runs_out=tmp_path / "runs")
    assert md.read_text(encoding="utf-8") == text
    # exactly the shipped files, as `riskmodel run <name> --paths 20` plans them
    assert [p.file for p in seen] == [config.SCENARIOS_DIR / f"{n}.yaml" for n in lr.SCENARIOS]
    for plan in seen:
        assert plan_hash(plan) == plan_hash(load_scenario_file(plan.file, paths=20))
    src = inspect.getsource(lr)
    assert "scenario_from_dict" not in src and "Scenario(" not in src
    # every number is the run's: the autarky EU price of the sweep and the Korean linked sd
    res = pd.read_parquet(tmp_path / "runs" / "eu_china_quota" / "results.parquet")
    row = res[
        (res.sweep_point == 0)
        & (res.variant == "autarky")
        & (res.market == "eu_ets")
        & (res.year == 2024)
        & (res.statistic == "price_mean")
    ].iloc[0]
    assert f"| autarky | {row.value:.3g} ± {row.mcse:.2g} |" in text
    ck = pd.read_parquet(tmp_path / "runs" / "china_korea" / "results.parquet")
    sd = ck[
        (ck.sweep_point == 1)
        & (ck.variant == "linked")
        & (ck.market == "k_ets")
        & (ck.year == 2024)
        & (ck.statistic == "emissions_sd")
    ].value.iloc[0]
    assert f"to {sd:.3g} Mt once linked" in text
    # one row per sweep point of eu_china_quota, plus autarky and no quota
    assert text.count("| 10% |") == 1 and "| none |" in text and "| 90% |" in text
    assert "python -m riskmodel.batch.linking_results 20" in text
