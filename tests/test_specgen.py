"""The spec's generated tables are up to date with the profile data."""
from optconform.reference.specgen import SPEC_DIR, stale_pages


def test_spec_pages_exist_and_are_not_stale():
    problems = stale_pages(SPEC_DIR, write=False)
    assert problems == [], "\n".join(problems) + "\nrun: python -m optconform.reference.specgen"


def test_a_required_hyperparameter_shows_no_default():
    """A framework whose constructor has no default for a hyperparameter (the profile's ``required``)
    shows "(required)", not the canonical default it does not have."""
    from optconform.reference.model import get
    from optconform.reference.specgen import hyperparameter_table

    rows = {line.split("|")[1].strip(): line for line in hyperparameter_table(get("adam")).splitlines()[2:]}
    header = [c.strip() for c in hyperparameter_table(get("adam")).splitlines()[0].split("|")[1:-1]]
    cells = [c.strip() for c in rows["`lr`"].split("|")[1:-1]]
    assert cells[header.index("optax")] == "`learning_rate` (required)"
    assert cells[header.index("torch")] == "`lr` = 0.001"
    cosine = hyperparameter_table(get("cosine"))
    assert "`decay_steps` (required)" in cosine
