"""Validators: check proofs and inputs, apply the market's rule, sign; aggregate votes.

Never imports torch or `provers`: a validator runs on a plain CPU box.
"""
