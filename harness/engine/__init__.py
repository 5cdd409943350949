"""Layer 4, the machinery arms share: retrieval (chunking, embedding, index), training loops, and retention probes."""
