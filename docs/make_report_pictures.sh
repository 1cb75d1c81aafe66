#!/usr/bin/env bash
# The README's firm-report pictures: one firm_portfolio run (5,000 paths, with the single-event
# simulations), the four example reports and the portfolio page read from it (no simulation),
# and a headless-Chromium screenshot of each first page.  Needs `chromium` (apt-get install chromium).
set -euo pipefail
cd "$(dirname "$0")/.."
R=.venv/bin/riskmodel
OUT=$(mktemp -d)
run=$($R run firm_portfolio --paths 5000 --firms data/firms --out "$OUT/runs" --quiet)
$R report --run "$run" --firms data/firms --out "$OUT/reports" --screenshot docs/portfolio.png
for f in data/firms/*.yaml; do
  n=$(basename "$f" .yaml)
  .venv/bin/python -c "import sys; from riskmodel.firm.browser import screenshot; screenshot(sys.argv[1], sys.argv[2])" \
    "$OUT/reports/$n/report.html" "docs/report_$n.png"
done
rm -rf "$OUT"
echo "docs/report_*.png and docs/portfolio.png written"
