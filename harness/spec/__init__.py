"""Layer 1, what users and runs write down: the suite specs and their YAML errors (config),
answer styles (style), and the typed run record of results.json (record).
"""
