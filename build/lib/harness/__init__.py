"""adaptbench: fine-tune, retrieve or prompt? Measured on one dataset."""

__version__ = "0.1.0"
