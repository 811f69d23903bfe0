"""Provers: torch models, ONNX export, ezkl circuits and keys, proofs.

The only package that imports torch.
"""
