"""The checked TOML loader: a dataclass as the schema, one line for each mistake."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from policies.tomlcheck import TableError, did_you_mean, load_table, setting


@dataclass(frozen=True, kw_only=True)
class Sample:
    name: str = setting(help="what it is called")
    seconds: float = 1.5
    count: int | float = setting(3, minimum=2)
    enabled: bool = False
    tags: tuple[str, ...] = ()
    days: tuple[int, ...] = setting((7,), minimum=1)
    mode: str = setting("fast", choices=("fast", "slow", "off"))


def refusal(values: dict[str, object], noun: str = "") -> str:
    with pytest.raises(TableError) as caught:
        load_table(Sample, values, noun=noun)
    return str(caught.value)


def test_defaults_fill_what_the_table_leaves_out() -> None:
    assert load_table(Sample, {"name": "x"}) == Sample(name="x")


def test_values_are_converted_to_the_field_types() -> None:
    sample = load_table(Sample, {"name": "x", "seconds": 2, "tags": ["a"], "days": [30, 7]})
    assert sample.seconds == 2.0 and isinstance(sample.seconds, float)
    assert sample.tags == ("a",) and sample.days == (30, 7)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({}, "name is missing (what it is called)"),
        ({"name": 5}, "name must be a string, not 5 (what it is called)"),
        ({"name": "x", "seconds": True}, "seconds must be a number, not True"),
        ({"name": "x", "seconds": "1"}, "seconds must be a number, not '1'"),
        ({"name": "x", "count": 1}, "count must be at least 2 (got 1)"),
        ({"name": "x", "count": "3"}, "count must be a whole number or a number, not '3'"),
        ({"name": "x", "enabled": 1}, "enabled must be true or false, not 1"),
        ({"name": "x", "tags": ["a", 1]}, "tags must be a list of strings, not ['a', 1]"),
        ({"name": "x", "days": [7, 0]}, "days must be at least 1 (got [7, 0])"),
        ({"name": "x", "mode": "slo"}, "mode must be fast, slow or off, not 'slo'"),
        ({"name": "x", "mdoe": "fast"}, "unknown key 'mdoe'; did you mean 'mode'?"),
    ],
)
def test_each_mistake_is_one_line_naming_the_key(values: dict[str, object], message: str) -> None:
    text = refusal(values)
    assert text == message
    assert "\n" not in text


def test_a_noun_names_the_key_in_full() -> None:
    assert refusal({"name": "x", "count": 1}, noun="sample") == (
        "sample key 'count' must be at least 2 (got 1)"
    )
    assert refusal({"nmae": "x"}, noun="sample").startswith("unknown sample key 'nmae'")


def test_without_a_near_key_the_known_keys_are_listed() -> None:
    assert did_you_mean("zzzz", ["alpha", "beta"]) == "; known: alpha, beta"
    assert did_you_mean("alpah", ["alpha", "beta"]) == "; did you mean 'alpha'?"


def test_an_unsupported_field_type_is_a_programming_error() -> None:
    @dataclass(frozen=True)
    class Odd:
        when: dict[str, int] = setting(None)

    with pytest.raises(TypeError, match="cannot be of type"):
        load_table(Odd, {"when": {}})
