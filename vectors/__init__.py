"""The golden vectors shipped with optconform (package data); see spec/vectors.md."""
