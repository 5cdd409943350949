"""The small-model grounding checker: a local sequence-classification checkpoint that scores
(passages, answer) pairs.

Two head shapes are read: an NLI cross-encoder, whose `config.id2label` names an entailment
label (the score is that label's softmax probability), and a single-score head like Vectara's
HHEM (one logit; the score is its sigmoid). The checkpoint must be safetensors: a folder
holding pickled weights (*.bin, *.pt, *.pth, *.pkl, *.ckpt) is refused, naming the file, since
loading a pickle runs code. A folder with its own model code (`auto_map` in config.json) loads
only with `trust_remote_code: true` set in the suite.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from harness.spec.judge import GroundingSpec

PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt")
ENTAILMENT_NAMES = ("entailment", "entail", "entailed", "supported", "consistent", "factual")


class GroundingError(ValueError):
    """A grounding checkpoint that cannot be used; the message names the file and why."""


def check_folder(spec: GroundingSpec) -> tuple[Path, dict]:
    """The checkpoint folder and its config, after the safety and shape checks."""
    folder = Path(spec.path).expanduser()
    if not folder.is_dir():
        raise GroundingError(f"grounding_model {spec.path}: no such folder")
    pickles = sorted(p.name for p in folder.iterdir() if p.suffix.lower() in PICKLE_SUFFIXES)
    if pickles:
        raise GroundingError(
            f"grounding_model {folder / pickles[0]}: pickled weights are never loaded (loading "
            "a pickle runs code); save the checkpoint as safetensors "
            "(model.save_pretrained(folder, safe_serialization=True)) and remove the pickle"
        )
    if not list(folder.glob("*.safetensors")):
        raise GroundingError(f"grounding_model {folder}: no *.safetensors weights in the folder")
    config_path = folder / "config.json"
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise GroundingError(f"grounding_model {config_path}: unreadable ({exc})") from None
    if config.get("auto_map") and not spec.trust_remote_code:
        raise GroundingError(
            f"grounding_model {config_path}: the checkpoint brings its own model code (auto_map "
            f"{sorted(config['auto_map'])}); it runs only with `trust_remote_code: true` in "
            "the suite's grounding_model block"
        )
    entailment_index(config, config_path)
    return folder, config


def entailment_index(config: dict, where: Path) -> int | None:
    """The logit that means "supported": None for a single-score head, else the index of the
    entailment label in id2label."""
    labels = config.get("id2label") or {}
    n = int(config.get("num_labels") or len(labels) or 0)
    if n == 1 or len(labels) == 1:
        return None
    for index, name in labels.items():
        if str(name).strip().lower() in ENTAILMENT_NAMES:
            return int(index)
    raise GroundingError(
        f"grounding_model {where}: id2label {labels or '(missing)'} names no entailment label "
        f"(one of {list(ENTAILMENT_NAMES)}) and the head has {n} outputs, not 1 (a single "
        "support score); set id2label in config.json"
    )


class GroundingModel:
    """A loaded checker: `score(pairs)` gives each (passages, answer) its support probability."""

    def __init__(self, spec: GroundingSpec, device: str = "cpu"):
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        folder, config = check_folder(spec)
        self.spec, self.device = spec, device
        self.index = entailment_index(config, folder / "config.json")
        remote = spec.trust_remote_code
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(str(folder), trust_remote_code=remote)
            self.model = AutoModelForSequenceClassification.from_pretrained(
                str(folder), use_safetensors=True, trust_remote_code=remote
            )
        except (OSError, ValueError) as exc:
            raise GroundingError(f"grounding_model {folder}: cannot load ({exc})") from None
        self.model.to(device).eval()
        # A pair is cut to what the model can read, whichever limit is lower.
        positions = getattr(self.model.config, "max_position_embeddings", None) or spec.max_length
        self.max_length = min(spec.max_length, positions)
        self._torch = torch
        self.seconds = 0.0
        self.pairs = 0

    def score(self, pairs: list[tuple[str, str]]) -> list[float]:
        """Support probabilities, in batches of `batch_size`; a pair longer than `max_length`
        tokens is cut from its longer side (the passages, as a rule)."""
        torch = self._torch
        out: list[float] = []
        start = time.perf_counter()
        size = self.spec.batch_size
        for at in range(0, len(pairs), size):
            batch = pairs[at : at + size]
            enc = self.tokenizer(
                [p for p, _ in batch],
                [a for _, a in batch],
                padding=True,
                truncation="longest_first",
                max_length=self.max_length,
                return_tensors="pt",
            ).to(self.device)
            with torch.no_grad():
                logits = self.model(**enc).logits.float()
            if self.index is None:
                probs = torch.sigmoid(logits[:, 0])
            else:
                probs = torch.softmax(logits, dim=-1)[:, self.index]
            out.extend(float(p) for p in probs.cpu())
        self.seconds += time.perf_counter() - start
        self.pairs += len(pairs)
        return out
