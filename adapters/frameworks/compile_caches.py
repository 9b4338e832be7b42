"""The frameworks' own persistent compilation caches, so that a second ``optconform check`` loads
the programs the first one compiled instead of compiling them again.

* jax (optax, jax.example_libraries, Keras on jax): ``jax_compilation_cache_dir``, every program
  kept (no minimum compile time). Its key is the lowered program, the compile options and the
  jaxlib version, so a hit is the same executable. Folder: ``$OPTCONFORM_JAX_CACHE`` (a folder, or
  ``off``), else ``~/.cache/optconform/jax``; a cache the user configured for jax is left alone.

torch.compile keeps its own on-disk caches (Inductor's FX graph and code caches) without help.
TensorFlow's persistent XLA cache (``--tf_xla_persistent_cache_directory``) is not used: its key
holds the traced function's name, whose counter differs from run to run, so a second
``optconform check --adapter keras`` compiled 165 of its 237 XLA programs again (measured),
and the folder only grew.

What a cache saves is measured in README.md (Performance); the verdicts and ``max_ulp`` of every
case are the same with a cache empty, filled or off (a hit is the same executable).

Imports no framework.
"""
from __future__ import annotations

import os

JAX_ENV = "OPTCONFORM_JAX_CACHE"
OFF = ("0", "off", "no", "false", "none")


def jax_directory() -> str | None:
    """The folder ``$OPTCONFORM_JAX_CACHE`` names (None for ``off``), else
    ``~/.cache/optconform/jax`` (``$XDG_CACHE_HOME`` honoured: disk_cache.user_root)."""
    choice = os.environ.get(JAX_ENV, "").strip()
    if choice.lower() in OFF:
        return None
    if choice:
        return choice
    from optconform.reference.disk_cache import user_root

    return str(user_root() / "jax")


def use_jax_cache(jax) -> None:
    """jax's persistent compilation cache in :func:`jax_directory`, unless the user configured one;
    a folder that cannot be made means no cache, not a failure."""
    folder = jax_directory()
    if jax.config.jax_compilation_cache_dir or folder is None:
        return
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError:
        return
    jax.config.update("jax_compilation_cache_dir", folder)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
