"""The spec's generated tables are up to date with the profile data."""
from optconform.reference.specgen import SPEC_DIR, stale_pages


def test_spec_pages_exist_and_are_not_stale():
    problems = stale_pages(SPEC_DIR, write=False)
    assert problems == [], "\n".join(problems) + "\nrun: python -m optconform.reference.specgen"
