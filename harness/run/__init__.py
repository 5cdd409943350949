"""Layer 7, running a suite.

One word per idea:

- run: one `adaptbench run` of a suite: plan its cells, reuse or evaluate them, write
  results.json and the reports (`runner`; `RunContext` in `context` is what one process keeps
  for it, `RunSetup` in `plan` what every unit of it carries).
- cell: one task x arm (x seed, x wording variant) evaluation, with one record and one samples
  file (`cell`); `evaluate` builds its arm, predicts, scores and records it.
- unit: what an executor schedules (`units`): a cell unit evaluates one cell, a training unit
  trains the artifact that cells share (`plan` makes them and holds what they run).
- executor: what runs the units, here or on a Ray cluster (`executors`).
- key: a content hash naming a cached result (`keys`: a cell's prediction key and full key);
  the caches themselves are entries of `harness.common.cache_entry`: finished cells (`store`),
  stored predictions (`predictions`), the knowledge drills' parts (`knowledge_cache`).

The other modules: loading a suite with its arms' parameters (`suite`), scoring predictions
(`scoring`) and judging them (`judging`), seed and wording groups (`seeds`), input checks
(`checks`), and the knowledge drills (`knowledge`, `knowledge_drills`).
"""
