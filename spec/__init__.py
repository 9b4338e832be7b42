"""The specification's machine-readable parts (vector.schema.json), shipped as package data."""
