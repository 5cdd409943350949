"""Layer 7, running a suite: loading it with its arms' parameters, the runner (cells, cache, results.json), seed and wording groups, and input checks."""
