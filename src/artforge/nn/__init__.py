"""Pure ``nn.Module`` definitions: no optimisers, no file I/O."""
