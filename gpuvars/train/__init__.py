"""Checkpoints (SPEC section 10): the Saver, the checkpoint state file and sharded safetensors storage."""
