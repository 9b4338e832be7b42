"""Deliberately faulty (and faithful) optimizer and schedule implementations for ``optconform audit``.

Every target is a from-scratch re-implementation of a torch.optim class or an optax factory,
importable as ``tests.audit_targets.<module>:<Name>`` (the audit's ``module:Name`` form):

* ``torch_base``     — faithful torch optimizers (torch's own arithmetic, for-loop path), each
  written as a few hooks; the faults override one hook each;
* ``torch_faults``   — torch optimizers and LR schedulers with exactly one fault each;
* ``torch_faithful`` — torch optimizers and schedulers whose arithmetic is reordered but exact
  to rounding;
* ``optax_base``     — faithful optax transformations with the same kind of hooks;
* ``optax_faults``, ``optax_faithful`` — the optax counterparts, and faulty optax schedules;
* ``catalog``        — the one list (:data:`catalog.TARGETS`) the tests read: each target's
  algorithm, framework, fault (or faithfulness), the semantic axis value it computes, and the
  scenarios expected to reveal it.

tests/test_audit_targets_selfcheck.py proves every fault real and every faithful target faithful
by running each next to the real torch.optim / optax implementation, independently of the audit.
"""
