"""Banking and borrowing across compliance years (issue #15).

- ``msr``: the EU Market Stability Reserve rules (intake bands, release, invalidation, intake lag).
- ``ledger``: the bank of one market or pool, year by year, with its bound and non-compliance.
- ``hotelling``: the rolling-horizon Hotelling price map Φ, its exact inversion and the pool map.
- ``foresight``: an exact perfect-foresight optimiser (active-set KKT), the reference for Φ.
- ``storage_oracle``: competitive storage in one market (the precautionary-banking oracle).
- ``carry``: the futures carry measured from the price data (evidence for the default rate r).

See docs/BANKING.md for the design and its evidence.
"""
