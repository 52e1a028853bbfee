"""gpuvars: TensorFlow 1.x's variable model as a fast, eager library.

``import gpuvars as tf`` runs TF1 variable code: ``Variable`` with explicit
initialization, ``device()`` placement on ``/cpu:0`` (NumPy) and ``/gpu:N``
(CuPy, or emulated GPUs running the same CUDA kernels on the host),
collections, ``variable_scope``/``get_variable``, initializers, partitioners,
``scatter_*`` with ``use_locking``, and ``train.Saver`` checkpoints.

This module only re-exports public names; it never imports CuPy or Ray.
"""

__version__ = "0.1.0"

from gpuvars import config, dtypes, errors, init_ops, train, transfer
from gpuvars.array_ops import (
    constant,
    fill,
    ones,
    ones_like,
    random_normal,
    random_uniform,
    truncated_normal,
    zeros,
    zeros_like,
)
from gpuvars.compat import ConfigProto, GPUOptions, control_dependencies, group, identity, no_op
from gpuvars.devices import DeviceSpec, device, list_devices
from gpuvars.dtypes import (
    HAS_BFLOAT16,
    bfloat16,
    bool_,
    complex64,
    complex128,
    float16,
    float32,
    float64,
    int8,
    int16,
    int32,
    int64,
    string,
    uint8,
    uint16,
    uint32,
    uint64,
)
from gpuvars.graph import (
    Graph,
    GraphKeys,
    add_to_collection,
    add_to_collections,
    all_variables,
    get_collection,
    get_collection_ref,
    get_default_graph,
    global_variables,
    local_variables,
    model_variables,
    moving_average_variables,
    name_scope,
    reset_default_graph,
    trainable_variables,
)
from gpuvars.init_ops import (
    constant_initializer,
    glorot_normal_initializer,
    glorot_uniform_initializer,
    he_normal,
    he_uniform,
    lecun_normal,
    lecun_uniform,
    ones_initializer,
    orthogonal_initializer,
    random_normal_initializer,
    random_uniform_initializer,
    truncated_normal_initializer,
    uniform_unit_scaling_initializer,
    variance_scaling_initializer,
    zeros_initializer,
)
from gpuvars.math_ops import (
    add_n,
    convert_to_tensor,
    gather,
    matmul,
    nn,
    reduce_mean,
    reduce_sum,
    relu,
    shape,
    sigmoid,
    square,
    tanh,
)
from gpuvars.partitioned import PartitionedVariable, SaveSliceInfo
from gpuvars.partitioning import (
    fixed_size_partitioner,
    min_max_variable_partitioner,
    variable_axis_size_partitioner,
)
from gpuvars.random import set_random_seed
from gpuvars.scopes import (
    AUTO_REUSE,
    Template,
    VariableScope,
    create_global_step,
    get_global_step,
    get_local_variable,
    get_or_create_global_step,
    get_variable,
    get_variable_scope,
    make_template,
    no_regularizer,
    variable_op_scope,
    variable_scope,
)
from gpuvars.session import InteractiveSession, Session, get_default_session
from gpuvars.state_ops import (
    IndexedSlices,
    assign,
    assign_add,
    assign_sub,
    count_up_to,
    group_assign,
    group_assign_add,
    group_assign_sub,
    scatter_add,
    scatter_div,
    scatter_max,
    scatter_min,
    scatter_mul,
    scatter_nd_add,
    scatter_nd_sub,
    scatter_nd_update,
    scatter_sub,
    scatter_update,
    sparse_mask,
    synchronize,
)
from gpuvars.tensor import Operation, Tensor, TensorShape
from gpuvars.transfer import (
    device_put,
    reset_transfer_stats,
    transfer_guard,
    transfer_guard_device_to_device,
    transfer_guard_device_to_host,
    transfer_guard_host_to_device,
    transfer_stats,
)
from gpuvars.variables import (
    Variable,
    assert_variables_initialized,
    global_variables_initializer,
    initialize_all_variables,
    initialize_local_variables,
    initialize_variables,
    is_variable_initialized,
    local_variables_initializer,
    report_uninitialized_variables,
    variables_initializer,
)

Variable.SaveSliceInfo = SaveSliceInfo  # type: ignore[attr-defined]  # TF spells it tf.Variable.SaveSliceInfo

bool = bool_  # noqa: A001 - TF spells it tf.bool

__all__ = [name for name in dir() if not name.startswith("_")]
