"""common.config_flags: flags derived from a frozen dataclass, and the one resolve step."""

from __future__ import annotations

import dataclasses
import json

import pytest
from absl import flags

from common import config_flags, layout


@dataclasses.dataclass(frozen=True)
class _Config:
    """A config of every flag type.

    Attributes:
      epochs: training length; one epoch is
        one pass over the data.
      rate: step size.
      fused: whether to fuse.
      mode: how to run: "fast" or "slow".
      limit: a cap, or None for none.
      etas: weights (one per run).
      name: what the run is called.
      undocumented_in_flags: not given a flag.
    """

    epochs: int = 20
    rate: float = 0.1
    fused: bool = False
    mode: str = "fast"
    limit: int | None = None
    etas: tuple[float, ...] = (0.0, 1.0)
    name: str = "run"
    undocumented_in_flags: int = 0

    def __post_init__(self):
        if self.epochs < 0:
            raise ValueError(f"_Config.epochs must be >= 0, got {self.epochs}.")


_FIELDS = ("epochs", "rate", "fused", "mode", "limit", "etas", "name")


def _define(**kwargs):
    values = flags.FlagValues()
    kwargs.setdefault("enums", {"mode": ("fast", "slow")})
    spec = config_flags.define_flags(_Config, _FIELDS, flag_values=values, **kwargs)
    values(["prog"])
    return spec, values


def test_flag_types_help_and_defaults_come_from_the_dataclass():
    spec, values = _define(defaults={"name": "x"}, help={"rate": "Adam's step"})
    assert spec.flag_names == {f: f for f in _FIELDS}
    kinds = {name: values[name].flag_type() for name in _FIELDS}
    assert kinds["epochs"] == "int" and kinds["rate"] == "float" and kinds["fused"] == "bool"
    assert kinds["mode"] == "string enum" and values["mode"].parser.enum_values == ["fast", "slow"]
    assert kinds["limit"] == "int"  # int | None
    assert kinds["name"] == "string" and "list of float" in kinds["etas"]
    # No default: the preset's value, and the help says so.
    assert all(values[n].default is None for n in _FIELDS if n != "name")
    assert values["name"].default == "x" and values["name"].help == "what the run is called."
    assert values["epochs"].help == (
        "training length; one epoch is one pass over the data. " + config_flags.UNSET_HELP
    )
    assert values["rate"].help.startswith("Adam's step.")


def test_defaults_from_an_instance_and_no_unset_help():
    _, values = _define(defaults=_Config(epochs=3), unset_help=None)
    assert values["epochs"].default == 3 and values["etas"].default == (0.0, 1.0)
    assert values["limit"].default is None and values["limit"].help == "a cap, or None for none."


def test_only_the_flags_the_user_set_override_the_preset():
    spec, values = _define(defaults=_Config())
    preset = _Config(epochs=7, rate=0.5, name="preset")
    assert spec.values() == {}
    assert config_flags.resolve(preset, spec.values()) is preset
    values.unparse_flags()
    values(["prog", "--epochs=20", "--etas=0.5, 2", "--fused", "--mode=slow"])
    # --epochs=20 equals the flag's default, yet the user set it: it applies.
    assert spec.values() == {"epochs": 20, "etas": (0.5, 2.0), "fused": True, "mode": "slow"}
    config = config_flags.resolve(preset, spec.values())
    assert (config.epochs, config.rate, config.name) == (20, 0.5, "preset")
    assert config.etas == (0.5, 2.0) and config.fused and config.mode == "slow"
    values.limit = 4  # assignment counts as set, as in tests that set FLAGS
    assert spec.values(("limit", "rate")) == {"limit": 4}


def test_bad_values_are_refused():
    spec, values = _define()
    values.unparse_flags()
    with pytest.raises(flags.IllegalFlagValueError, match="list of float"):
        values(["prog", "--etas=1,a"])
    with pytest.raises(flags.IllegalFlagValueError):
        values(["prog", "--mode=medium"])
    values.unparse_flags()
    values(["prog", "--epochs=-1"])
    with pytest.raises(ValueError, match="epochs must be >= 0"):
        config_flags.resolve(_Config(), spec.values())


def test_unknown_fields_are_errors():
    with pytest.raises(ValueError, match="has no field nope; its fields: epochs"):
        config_flags.resolve(_Config(), {"nope": 1})
    values = flags.FlagValues()
    with pytest.raises(ValueError, match="nope is no field of _Config"):
        config_flags.define_flags(_Config, ("epochs", "nope"), flag_values=values)
    with pytest.raises(ValueError, match="defaults names fields without a flag"):
        config_flags.define_flags(_Config, ("epochs",), defaults={"rate": 1.0}, flag_values=values)


def test_renamed_flag_and_a_flag_defined_twice():
    values = flags.FlagValues()
    spec = config_flags.define_flags(
        _Config, ("epochs",), flag_names={"epochs": "num_epochs"}, flag_values=values
    )
    values(["prog", "--num_epochs=2"])
    assert spec.values() == {"epochs": 2}
    with pytest.raises(flags.DuplicateFlagError):
        config_flags.define_flags(
            _Config, ("epochs",), flag_names={"epochs": "num_epochs"}, flag_values=values
        )


def test_field_without_docstring_entry_needs_help():
    @dataclasses.dataclass(frozen=True)
    class Bare:
        """No attributes section."""

        steps: int = 1

    with pytest.raises(ValueError, match="Bare.steps has no entry"):
        config_flags.define_flags(Bare, ("steps",), flag_values=flags.FlagValues())
    values = flags.FlagValues()
    config_flags.define_flags(Bare, ("steps",), help={"steps": "Steps"}, flag_values=values)
    assert values["steps"].help == f"Steps. {config_flags.UNSET_HELP}"


def test_the_binaries_flags_keep_their_names_types_and_defaults():
    """The flags of the binaries that derive theirs: what README commands rely on."""
    from design import flags as design_flags  # noqa: F401  (defines the design flags)
    from dvbpr_tf import config as dvbpr_config

    values = flags.FLAGS
    for name in ("restarts", "steps", "eta", "top_k", "seed", "learning_rate"):
        assert values[name].default is None
    assert values["data_seed"].default is None and values["bad_images"].default == "fail"
    assert values["split_by_time"].default is False
    # dvbpr_tf.train's flags, defined in a fresh FlagValues (the design binaries'
    # --seed / --learning_rate share absl's global one in this process).
    fresh = flags.FlagValues()
    config_flags.define_flags(
        dvbpr_config.DVBPRConfig,
        ("epochs", "strategy", "mixed_precision"),
        enums={"strategy": dvbpr_config.STRATEGIES},
        flag_values=fresh,
    )
    fresh(["prog", "--strategy=mirrored", "--nomixed_precision"])
    assert fresh["strategy"].value == "mirrored" and fresh["mixed_precision"].value is False


def test_layout_reads_the_old_result_name(tmp_path):
    assert layout.read_result(str(tmp_path)) is None
    (tmp_path / layout.OLD_RESULT).write_text(json.dumps({"model": "bprmf"}))
    assert layout.read_result(str(tmp_path)) == {"model": "bprmf"}
    assert layout.result_path(str(tmp_path)).endswith(layout.OLD_RESULT)
    (tmp_path / layout.RESULT).write_text(json.dumps({"model": "poprank"}))
    assert layout.read_result(str(tmp_path)) == {"model": "poprank"}
