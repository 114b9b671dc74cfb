"""Framework integrations for wattprint (PyTorch, Lightning, Hugging Face)."""
