"""Vetting's database services, one module per concept.

Each loads rows, calls the pure rules of `vetting` (`labels`, `applications`, `checklist`,
`validation`, `sellers`), writes rows and their audit entries and flushes; the caller commits.

- `sellers`: registering, editing and importing sellers; the seller list
- `checklists`: the certification checklist's versions
- `applications`: applications from draft to decision, results and evidence
- `labels`: Back Label changes (emit `vetting.events.LabelChanged`), renewal window, expiry
"""
