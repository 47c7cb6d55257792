"""The offline tools: what builds and checks a persona pack, and what audits data, before or after a run.

SAE training (``sae_training.py``), model diffing (``diffing.py``), probe training with AUROC
reports (``probe_training.py``), the pack builder (``pack_builder.py``), steering and the causal
check, the data audit, and threshold calibration from control runs and clean data. They reuse the
runtime's capture, pooling and signals, so a pack is scored offline exactly as the monitor scores it.
"""
