"""Layer 2, models: which weights (resolve) and how to run them (backend protocol, Hugging Face backend, continuous batching, lm-eval adapter). Knows nothing of tasks."""
