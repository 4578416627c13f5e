import pytest

from simfactory.sim.run.config import load_config

TINY = {
    "num_clips": 2,
    "frames": 6,
    "resolution": [64, 48],
    "seed": 3,
    "output_dir": "unused",
    "scene.num_pieces": 4,
    "scene.num_clutter": 4,
}


def tiny_config(**overrides) -> dict:
    """The default config with tiny clips for tests; keys may be dotted."""
    values = {**TINY, **overrides}
    return load_config([f"{k}={v}".replace(" ", "") for k, v in values.items()])


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory):
    """A two-clip furniture dataset generated in this process."""
    from simfactory.sim.run.cli import generate_dataset

    cfg = tiny_config()
    out = tmp_path_factory.mktemp("dataset")
    failed = generate_dataset(cfg, out, "simfactory (test)")
    assert failed == 0
    return cfg, out
