"""Detection power of ``optconform audit`` (issue: at least 40 deliberately faulty implementations,
torch and optax; one fault on every declared axis plus faults no axis names; faithful
re-implementations with reordered arithmetic).

Every target of tests/audit_targets/catalog.py is audited once (tests/audit_targets/detection.py:
the audit's own planning, worker pool, diagnosis and report card), against the vectors of the
profile of the implementation it imitates, in float64 and float32. Each faulty target must be
flagged (exit status 1) and, where its fault is the value of a declared axis, the card's
fingerprint must name that value; each faithful one must conform (exit status 0). The targets
were written independently of the audit, and tests/test_audit_targets_selfcheck.py proves each
fault real and each faithful target faithful against the real torch.optim / optax.
"""
import pytest

pytest.importorskip("torch")
pytest.importorskip("optax")

from tests.audit_targets import detection  # noqa: E402
from tests.audit_targets.catalog import TARGETS  # noqa: E402


@pytest.fixture(scope="module")
def outcomes():
    return {o.target.target: o for o in detection.run(TARGETS)}


@pytest.mark.parametrize("target", [t for t in TARGETS if not t.faithful], ids=lambda t: t.name)
def test_every_fault_is_flagged_and_its_axis_named(outcomes, target):
    o = outcomes[target.target]
    assert o.flagged, f"{target.name} ({target.fault}) passed every case: {o.conforms_to}"
    if target.axis:
        assert o.named, f"{target.name}: fingerprint {o.fingerprint}, expected {target.axis}={target.value}"


@pytest.mark.parametrize("target", [t for t in TARGETS if t.faithful], ids=lambda t: t.name)
def test_every_faithful_reimplementation_conforms(outcomes, target):
    o = outcomes[target.target]
    assert not o.flagged and o.conforms_to, f"{target.name}: {o.failing} of {o.cases} cases fail"


def test_the_catalog_is_as_large_as_the_issue_asks(outcomes):
    score = detection.score(list(outcomes.values()))
    assert score["faulty"] >= 40
    assert {t.framework for t in TARGETS if not t.faithful} == {"torch", "optax"}
    assert score == {**score, "flagged": score["faulty"], "axis_named": score["with_axis"], "false_positives": 0}
