"""Engines: the only code that calls ``optimizer.step()``."""
