"""The persistent compilation caches the adapters switch on (adapters/frameworks/compile_caches.py):
where they live, ``off``, and a user's own jax cache left alone. A stand-in for jax's config, so the
test needs no framework."""
from __future__ import annotations

from optconform.adapters.frameworks import compile_caches as C


class _Config:
    def __init__(self, directory=None):
        self.jax_compilation_cache_dir = directory
        self.updates = {}

    def update(self, name, value):
        self.updates[name] = value
        setattr(self, name, value)


class _Jax:
    def __init__(self, directory=None):
        self.config = _Config(directory)


def test_the_jax_cache_lives_in_optconforms_user_cache_folder(monkeypatch, tmp_path):
    monkeypatch.delenv(C.JAX_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    jax = _Jax()
    C.use_jax_cache(jax)
    assert jax.config.updates == {"jax_compilation_cache_dir": str(tmp_path / "optconform" / "jax"),
                                  "jax_persistent_cache_min_compile_time_secs": 0.0}
    assert (tmp_path / "optconform" / "jax").is_dir()


def test_the_environment_names_the_folder_or_turns_the_cache_off(monkeypatch, tmp_path):
    monkeypatch.setenv(C.JAX_ENV, str(tmp_path / "mine"))
    jax = _Jax()
    C.use_jax_cache(jax)
    assert jax.config.jax_compilation_cache_dir == str(tmp_path / "mine")
    for off in ("off", "OFF", "0", "none"):
        monkeypatch.setenv(C.JAX_ENV, off)
        jax = _Jax()
        C.use_jax_cache(jax)
        assert jax.config.updates == {}


def test_a_cache_the_user_configured_is_left_alone(monkeypatch, tmp_path):
    monkeypatch.setenv(C.JAX_ENV, str(tmp_path / "ours"))
    jax = _Jax(directory="/users/own/cache")
    C.use_jax_cache(jax)
    assert jax.config.updates == {} and jax.config.jax_compilation_cache_dir == "/users/own/cache"


def test_an_unwritable_folder_means_no_cache_not_a_failure(monkeypatch, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv(C.JAX_ENV, str(blocker / "jax"))
    jax = _Jax()
    C.use_jax_cache(jax)
    assert jax.config.updates == {}
