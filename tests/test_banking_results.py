"""docs/results_banking.md comes from the shipped scenario files run through the batch API,
with and without a banking block; every number is a run's."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from riskmodel.batch import banking_results as br


def test_generator_reads_every_number_from_the_runs(tmp_path: Path) -> None:
    md = tmp_path / "results_banking.md"
    text = br.main(20, output=md, runs_out=tmp_path / "runs", n_jobs=1)
    assert md.read_text(encoding="utf-8") == text
    assert "python -m riskmodel.batch.banking_results 20" in text
    # one exposure row per setting and termination rate; the H = 10 row is the run's number
    assert text.count("| H = 10 | ") == 3 + 2 + 2  # events, triggers, china_korea headline
    res = pd.read_parquet(tmp_path / "runs" / "regulatory_events_h10" / "results.parquet")
    row = res[(res.sweep_point == 2) & (res.variant == "exposure") & (res.market == "k_ets")
              & (res.year == -1) & (res.statistic == "price_mean")].iloc[0]
    assert f"| H = 10 | 0.3 | {br._num(row.value)} ± {br._num(row.mcse, '.2g')} |" in text
    # H = 1 without a bank is the static bridge: its rows equal the no-banking rows
    static = [ln.split("|", 2)[2] for ln in text.splitlines() if ln.startswith("| no banking |")]
    h1 = [ln.split("|", 2)[2] for ln in text.splitlines() if ln.startswith("| H = 1 |")]
    assert static == h1 and len(static) == 7
    # the headline table's Korean linked bank (intensity cap, H = 10) is the run's number
    ck = pd.read_parquet(tmp_path / "runs" / "china_korea_h10" / "results.parquet")
    bank = ck[(ck.sweep_point == 1) & (ck.variant == "linked") & (ck.market == "k_ets")
              & (ck.year == -1) & (ck.statistic == "bank_mean")].value.iloc[0]
    line = next(ln for ln in text.splitlines() if ln.startswith("| H = 10 | intensity |"))
    assert line.rstrip(" |").endswith(br._num(bank))
