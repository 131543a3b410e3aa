"""Layer names that ``build`` cannot give a submodule, refused when the spec is read.

``build`` turns each name into a torch submodule name; ``nn.Module.add_module``
refuses a name that is already an attribute (``training``, ``forward``,
``_modules``, …) and a container would shadow its own methods. Refusing them
here, with the line and column, means a spec that passes ``archcalc check``
also builds. The core never imports torch, so the names are written out:
tests/spec/test_reserved.py checks them against the installed torch, so an
upgrade that adds an attribute fails a test rather than a user's build.
"""

from __future__ import annotations

# Non-dunder names of dir() and the instance attributes (vars()) of torch 2.14.1's
# nn.Module and nn.Sequential, and of archcalc.bridge.modules' Residual and Concat
# (which add `main_names` and `shortcut`).
TORCH_RESERVED_NAMES: frozenset[str] = frozenset(
    (
        "T_destination",
        "_apply",
        "_backward_hooks",
        "_backward_pre_hooks",
        "_buffers",
        "_call_impl",
        "_compiled_call_impl",
        "_forward_hooks",
        "_forward_hooks_always_called",
        "_forward_hooks_with_kwargs",
        "_forward_pre_hooks",
        "_forward_pre_hooks_with_kwargs",
        "_get_backward_hooks",
        "_get_backward_pre_hooks",
        "_get_item_by_idx",
        "_get_name",
        "_is_full_backward_hook",
        "_load_from_state_dict",
        "_load_state_dict_post_hooks",
        "_load_state_dict_pre_hooks",
        "_maybe_warn_non_full_backward_hook",
        "_modules",
        "_named_members",
        "_non_persistent_buffers_set",
        "_parameters",
        "_register_load_state_dict_pre_hook",
        "_register_state_dict_hook",
        "_replicate_for_data_parallel",
        "_save_to_state_dict",
        "_slow_forward",
        "_state_dict_hooks",
        "_state_dict_pre_hooks",
        "_version",
        "_wrapped_call_impl",
        "add_module",
        "append",
        "apply",
        "bfloat16",
        "buffers",
        "call_super_init",
        "children",
        "compile",
        "cpu",
        "cuda",
        "double",
        "dump_patches",
        "eval",
        "extend",
        "extra_repr",
        "float",
        "forward",
        "get_buffer",
        "get_extra_state",
        "get_parameter",
        "get_submodule",
        "half",
        "insert",
        "ipu",
        "load_state_dict",
        "main_names",
        "modules",
        "mtia",
        "named_buffers",
        "named_children",
        "named_modules",
        "named_parameters",
        "parameters",
        "pop",
        "register_backward_hook",
        "register_buffer",
        "register_forward_hook",
        "register_forward_pre_hook",
        "register_full_backward_hook",
        "register_full_backward_pre_hook",
        "register_load_state_dict_post_hook",
        "register_load_state_dict_pre_hook",
        "register_module",
        "register_parameter",
        "register_state_dict_post_hook",
        "register_state_dict_pre_hook",
        "requires_grad_",
        "set_extra_state",
        "set_submodule",
        "share_memory",
        "shortcut",
        "state_dict",
        "to",
        "to_empty",
        "train",
        "training",
        "type",
        "xpu",
        "zero_grad",
    )
)


def is_reserved(name: str) -> bool:
    """Whether ``name`` cannot name a torch submodule (an attribute, or any ``__dunder__``).

    >>> is_reserved("training"), is_reserved("__init__"), is_reserved("conv1")
    (True, True, False)
    """
    return name in TORCH_RESERVED_NAMES or (name.startswith("__") and name.endswith("__"))
