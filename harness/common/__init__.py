"""Layer 0, foundations: atomic files, item hashes, locks, logging, progress, timing and FLOP
counts, process groups, statistics, the code fingerprint and the environment record.

Modules here import only each other (and the package version), never a higher layer.
"""
