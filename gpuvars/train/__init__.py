"""Checkpoints (SPEC section 10): the Saver, the checkpoint state file and sharded safetensors storage."""

from gpuvars.scopes import create_global_step, get_global_step, get_or_create_global_step
from gpuvars.train.checkpoint_management import (
    CheckpointState,
    checkpoint_exists,
    generate_checkpoint_state_proto,
    get_checkpoint_state,
    latest_checkpoint,
    list_variables,
    load_checkpoint,
    load_variable,
    remove_checkpoint,
    update_checkpoint_state,
)
from gpuvars.train.meta_graph import MetaGraphDef, export_meta_graph, import_meta_graph, read_meta_graph_file
from gpuvars.train.saver import Saver, SaverDef

__all__ = [
    "CheckpointState",
    "MetaGraphDef",
    "Saver",
    "SaverDef",
    "checkpoint_exists",
    "create_global_step",
    "export_meta_graph",
    "generate_checkpoint_state_proto",
    "get_checkpoint_state",
    "get_global_step",
    "get_or_create_global_step",
    "import_meta_graph",
    "latest_checkpoint",
    "list_variables",
    "load_checkpoint",
    "load_variable",
    "read_meta_graph_file",
    "remove_checkpoint",
    "update_checkpoint_state",
]
