"""Layer 2, models: which weights (resolve) and how to run them (the backend protocol, the
Hugging Face backend, continuous batching, the lm-eval adapter). Nothing here knows of tasks.
"""
