"""A realistic benchmark fleet, built in bulk: `flask --app app demo fleet`.

``build_fleet`` fills an empty database with N sellers in 13 EU countries, their listings and
``years`` years of history that the production rules would have produced, then writes it with
bulk ``INSERT`` statements (a few thousand rows per statement), not one ORM object at a time.
Nothing is copied from the rules: plans come from ``qc.sampling.compute_plan``, verdicts from
``qc.scoring.compute_score`` over drawn checkpoint outcomes, statistics, sampling states,
suspensions and the end of probation from ``qc.decisions.compute_decision``, reinstatements from
``compute_reinstated``, overturns from ``compute_overturned``, conditional renewals from
``compute_conditional_renewal``, and the audit
chain is hashed by ``core.chain.compute_entry_hash``. Rows and audit payloads are built by the
pure functions the services call: label changes by ``vetting.labels.compute_label_record``
(with ``label_event_columns`` and ``label_changed_payload``), statistics snapshots and
sampling-state changes by ``qc.snapshots``, order moves by ``qc.orders.compute_order_move``,
planning runs by ``qc.plan_records``, sellers by ``vetting.sellers``, inspections by
``qc.scoring.inspection_payload``, critical findings by ``qc.snapshots.finding_payload`` and
reviews and cases by ``compliance.cases``.

Time. ``until`` (default: today by the app clock) ends the history at 00:00 UTC of that day.
The ``12 * years`` calendar months up to the one holding the day before ``until`` are planned;
earlier months are closed (seed revealed, re-derivation stored as "match"), the last one is in
progress (orders planned, placed, received or inspected as their times fall before ``until``).
No wall-clock time enters any row: a given seed and ``until`` give identical rows (staff
passwords and session tokens aside), so pass ``--until`` to reproduce a database later.

The model, one event queue in time order:

* staff (a vetting clerk and approver, a compliance officer, six inspectors) are created with
  ``core.services.create_user``, the plan's budgets are set to one test order and 1,000
  euros per seller and month with ``qc.services.plan_settings.update_settings`` (so money
  never binds; reference rates, floor, block size and CUSUM parameters stay as configured)
  and the demo pool of 40 buyer identities (``demo.buyers``) is added with
  ``qc.services.buyers.create_identity``, all with the app clock set 200 days before the
  first month;
* 78% of the sellers get their label in the 60 days before the first month, 20% join later and
  2% have registered but hold no label yet. Each seller has a true defect rate p drawn from the
  issue's mixture (``qc.simulate.draw_defect_rate``) and 1-4 listings (smartphone, tablet,
  laptop) with skewed monthly units;
* at 00:05 on each month's first day the month is planned by the budget-true planner from
  the sellers in force, their sampling state, listings and posterior P(bad) from their
  inspected orders since their first grant (``qc.plan_records.compute_p_bad``, as the
  planning service computes it; no returns/claims signal), with seed
  ``sha256(f"{seed}:{period}")``; the commitment is ``sha256(seed)``; the run keeps its notes
  (threshold, signal, shortfall, warnings); at 00:15 on the next month's first day the seed
  is revealed and the plan re-derived from the stored inputs;
* an order is placed within hours (a day or two at most), arrives 2-6 days later and is
  inspected within three days; about 1% are cancelled and 1% lost, and the orders of a seller
  whose label is not in force are cancelled. Every checkpoint of the category is recorded: a
  defect checkpoint fails with probability p x its weight (weights sum to 1 per category, 3%
  of it critical), minor ones with (5% + 0.6 p) x weight, delivery (LOG-1) 4%; battery health,
  a missing cable and the observed grade follow the failures, and ``compute_score`` gives the
  verdict and score. A critical verdict's finding is confirmed on the device by a second
  inspector at once (the wait for the confirmation and rejections are not modelled), so it
  counts and suspends where it was inspected;
* a suspension opens a review decided 1-8 days later: 8% overturned (the statistics restart
  with the head start h/2, ``compute_overturned``), otherwise confirmed; then
  55% of sellers send an appeal or corrective-action plan (accepted 80%, less for repeat
  offenders: reinstatement on probation with head start h/2), 20% are revoked after 45-90 days
  and the rest stay suspended. Rejected cases lead to revocation half the time;
* at the anniversary (00:20) a label in force renews, fully or conditionally by the rule of
  ``qc.services.label_decisions.renew_labels``; a suspended label renews the night after it
  is back.

The audit trail gets every entry the services would have written for these changes (staff,
settings, sellers, listing imports, plans and seed reveals, every order move, inspection
submissions, label changes, sampling-state changes, reviews and cases), chained in Python from
the current head under the audit lock; label events carry their kind and sampling-state changes
have their rows, as the services write them. Statistics rows equal what
``qc.services.label_decisions.evaluate_fleet`` replays (epoch restarts at grant, reinstatement
and conditional renewal). The open months' seeds are sealed in ``PLAN_SEED_DIR`` like the scheduler
does; a different sealed seed already there (another database's month) is refused.

Modules: ``data`` (fixed shares, names, devices, staff), ``model`` (configuration, rows in
memory, clock and random streams), ``ledger`` (ids, event queue, audit entries),
``sellers`` (registration and listings), ``units`` (a unit's checkpoint outcomes),
``history`` (the event handlers) and ``build`` (staff and settings through the services, bulk
writes, the chained audit trail). ``build_fleet`` flushes; the caller commits.
"""


from demo.fleet.build import FleetSummary, build_fleet, format_summary
from demo.fleet.model import FleetConfig

__all__ = ["FleetConfig", "FleetSummary", "build_fleet", "format_summary"]
