"""Image read/write with the checks users need, and colour operations."""
