"""optconform.adapters: running real implementations against the golden vectors.

The harness, which imports no framework:

* ``protocol`` — the adapter interface (what a third-party adapter implements);
* ``checker`` — the comparison of spec/tolerance.md;
* ``harness`` — cases and their verdicts; ``workers`` — the worker processes every case runs in
  (per-case time limit, a dead worker costs only its case, framework output kept off the terminal);
* ``registry`` — built-in adapters, entry points and ``module:attr`` targets;
* ``cli`` — the ``optconform`` command; ``report_html``, ``report_junit`` — reports;
* ``pytest_plugin`` — the conformance suite inside a port's own pytest run.

The framework adapters, the only modules that import a framework: ``optconform.adapters.frameworks``.
"""
