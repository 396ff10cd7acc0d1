"""Losses: pure functions in :mod:`functional`, thin ``nn.Module`` wrappers beside them."""
