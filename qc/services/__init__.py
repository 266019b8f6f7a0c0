"""Quality control's database services, one module per concept.

Each loads rows, calls the pure rules of `qc` (`sampling`, `scoring`, `stats`, `decisions`,
`orders`, `signals`, `buyers`), writes rows and their audit entries and flushes; the caller commits.

- `plan_settings`: the sampling plan settings in force and the decision plan they give
- `planning`: monthly planning runs, seed commitment and reveal, plan verification
- `buyers`: the pool of buyer identities test orders are placed under (`qc.buyers` draws them)
- `listings`, `marketplace_signals`: the data planning and allocation read
- `orders`: a test order's life and the inspectors' queues
- `inspections`: scoring and storing an inspection (emits `qc.events.InspectionRecorded`)
- `critical_findings`: a critical verdict waiting for a second inspector's confirmation
- `label_decisions`: statistics, sampling state, suspensions and renewals that follow
"""
