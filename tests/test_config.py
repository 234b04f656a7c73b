"""Config layering, validation and the generated CLI."""

import argparse
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Literal, Optional

import pytest

from common import config as C


@dataclass(frozen=True)
class Cfg(C.BaseConfig):
    lr: float = 0.1
    """Learning rate."""
    epochs: int = 10
    """Training epochs."""
    method: Literal["a", "b"] = "a"
    """Which method."""
    widths: tuple[int, ...] = (1, 2)
    """Width factors."""
    tag: Optional[str] = None
    """Optional tag."""
    flag: bool = False
    """A switch."""


MOD = SimpleNamespace(QUICK={"epochs": 2, "lr": 0.5}, SMOKE={"epochs": 1})


def test_precedence_defaults_quick_table_cell_cli():
    assert C.resolve(Cfg, MOD, "full").epochs == 10
    assert C.resolve(Cfg, MOD, "quick").epochs == 2
    assert C.resolve(Cfg, MOD, "smoke").epochs == 1 and C.resolve(Cfg, MOD, "smoke").lr == 0.5
    cfg = C.resolve(Cfg, MOD, "quick", table={"epochs": 3, "lr": 0.2}, cell={"epochs": 4})
    assert (cfg.epochs, cfg.lr) == (4, 0.2)
    cfg = C.resolve(Cfg, MOD, "quick", table={"epochs": 3}, cell={"epochs": 4}, cli={"epochs": "5"})
    assert cfg.epochs == 5


def test_unknown_key_names_key_and_lists_valid():
    with pytest.raises(C.ConfigError) as exc:
        C.resolve(Cfg, MOD, "quick", table={"epoch": 3})
    msg = str(exc.value)
    assert "'epoch'" in msg and "epochs" in msg and "lr" in msg and "table settings" in msg


@pytest.mark.parametrize("layer,value", [("table", "ten"), ("table", 1.5), ("table", True), ("cell", [1])])
def test_wrong_type_fails_with_key(layer, value):
    with pytest.raises(C.ConfigError, match="epochs"):
        C.resolve(Cfg, MOD, "quick", **{layer: {"epochs": value}})


def test_literal_and_tuple_and_optional_and_bool():
    with pytest.raises(C.ConfigError, match="one of"):
        C.resolve(Cfg, MOD, "quick", table={"method": "c"})
    cfg = C.resolve(Cfg, MOD, "quick", cli={"widths": "1,4,8", "tag": "none", "flag": "true", "method": "b"})
    assert cfg.widths == (1, 4, 8) and cfg.tag is None and cfg.flag is True and cfg.method == "b"
    assert C.resolve(Cfg, MOD, "quick", table={"lr": 1}).lr == 1.0  # int accepted for float
    with pytest.raises(C.ConfigError, match="flag"):
        C.resolve(Cfg, MOD, "quick", cli={"flag": "maybe"})


def test_unknown_profile():
    with pytest.raises(C.ConfigError, match="unknown profile 'fast'.*smoke, quick, full"):
        C.resolve(Cfg, MOD, "fast")


def test_frozen():
    cfg = Cfg()
    import dataclasses

    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.lr = 1.0  # type: ignore[misc]


def test_validate_hook_runs_on_every_layer():
    @dataclass(frozen=True)
    class V(C.BaseConfig):
        shots: int = 1
        """Shots."""

        def validate(self):
            if self.shots > 20:
                raise C.ConfigError(f"shots={self.shots} exceeds the 20 examples per class")

    with pytest.raises(C.ConfigError, match="shots=25"):
        C.resolve(V, None, "quick", cli={"shots": "25"})


def test_generated_help_uses_field_docstrings():
    parser = argparse.ArgumentParser()
    C.add_config_arguments(parser, Cfg)
    text = parser.format_help()
    for doc in ("Learning rate.", "Width factors.", "Random seed for python", "--epochs"):
        assert doc in text
    args = parser.parse_args(["--lr", "0.3"])
    assert C.cli_overrides(args) == {"lr": "0.3"}
    assert C.field_docs(Cfg)["epochs"] == "Training epochs."


def test_set_pairs():
    assert C.parse_set_pairs(["a=1", "b=x=y"]) == {"a": "1", "b": "x=y"}
    with pytest.raises(C.ConfigError, match="key=value"):
        C.parse_set_pairs(["novalue"])
