"""Layer 7, running a suite: loading it with its arms' parameters (suite), the unit of work
(cell), the cell store and its content hash (store), scoring predictions (scoring), the runner that plans cells, runs them and
writes results.json (runner), seed and wording groups (seeds), and input checks (checks).
"""
