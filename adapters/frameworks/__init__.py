"""Framework adapters: the only code in optconform that imports a deep-learning framework.

* ``engine`` — what every adapter shares and no framework needs: building an optimizer from a
  profile's data, a vector's inputs (gradients, per-step learning rates), the closed-loop
  gradient, the state reader driven by ``state_names``;
* ``torch_adapter`` and ``torch_schedules`` — PyTorch (``torch.optim`` and ``lr_scheduler``);
* one module per further framework, each importing its framework only when a case runs.

The harness (checker, worker pool, command line, reports, pytest plugin, registry) lives one
level up, in ``optconform.adapters``, and imports no framework.
"""
