"""Layer 4, the machinery arms share: retrieval (chunking, embedding, index), the training
loop (training), and the retention probes that measure forgetting (retention).
"""
