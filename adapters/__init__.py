"""optconform.adapters: running real implementations against the golden vectors.

The harness, which imports no framework:

* ``protocol`` — the adapter interface (what a third-party adapter implements);
* ``checker`` — the comparison of spec/tolerance.md;
* ``harness`` — cases, the worker pool, per-case faults and time limits;
* ``registry`` — built-in adapters, entry points and ``module:attr`` targets;
* ``cli`` — the ``optconform`` command; ``report_html``, ``report_junit`` — reports;
* ``pytest_plugin`` — the conformance suite inside a port's own pytest run.

The framework adapters, the only modules that import a framework: ``optconform.adapters.frameworks``.
"""
