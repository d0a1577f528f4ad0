"""ladon_ros.config: a mapping -> a validated config dataclass, one ConfigError naming the key."""
from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from ladon_ros.config import ConfigError, defaults, each, from_mapping, one_of, param, params_of, positive


@dataclass(frozen=True)
class Inner:
    rate: float = param(description='Required rate [Hz]', check=positive)
    depth: int = param(1, 'Queue depth', range=(1, 10))


@dataclass(frozen=True)
class Outer:
    inner: Inner = param(description='A nested config')
    spare: Inner | None = param(None, 'An optional nested config')
    mode: str = param('a', 'Mode', check=one_of('a', 'b'))
    names: tuple[str, ...] = param(['x'], 'Names', check=each(lambda n: None if n else _raise('empty name')))
    gain: float = param(0.5, 'Gain', range=(0.0, 1.0))
    flag: bool = param(True, 'A switch')
    origin: str = field(default='', compare=False)  # not a key

    def __post_init__(self):
        if self.mode == 'b' and self.spare is None:
            raise ConfigError("spare: mode 'b' needs a spare")


def _raise(text: str):
    raise ValueError(text)


def test_defaults_nesting_and_conversions():
    cfg = from_mapping(Outer, {'inner': {'rate': 2}, 'names': ['p', 'q']}, origin='here')
    assert cfg == Outer(inner=Inner(rate=2.0), names=('p', 'q'))
    assert isinstance(cfg.inner.rate, float) and cfg.names == ('p', 'q') and cfg.origin == 'here'
    assert cfg.spare is None and cfg.gain == 0.5
    assert from_mapping(Outer, {'inner': {'rate': 1.0}, 'spare': {'rate': 3.0, 'depth': 4}}).spare == Inner(3.0, 4)
    assert [p.name for p in params_of(Outer)] == ['inner', 'spare', 'mode', 'names', 'gain', 'flag']
    assert params_of(Inner)[0].required and not params_of(Inner)[1].required
    assert defaults(Outer) == {'spare': None, 'mode': 'a', 'names': ['x'], 'gain': 0.5, 'flag': True}


@pytest.mark.parametrize('values, match', [
    ({'inner': {'rate': 1.0}, 'bogus': 1}, r'^bogus: unknown parameter'),
    ({'inner': {'rate': 1.0, 'deep': 1}}, r'^inner\.deep: unknown parameter'),
    ({}, r'^inner: missing'),
    ({'inner': {}}, r'^inner\.rate: missing'),
    ({'inner': 3}, r'^inner: expected a mapping'),
    ({'inner': {'rate': 0}}, r'^inner\.rate: 0\.0 must be > 0'),
    ({'inner': {'rate': 'fast'}}, r'^inner\.rate: expected float, got str'),
    ({'inner': {'rate': float('inf')}}, r'^inner\.rate: inf is not finite'),
    ({'inner': {'rate': 1.0, 'depth': 1.0}}, r'^inner\.depth: expected int, got float'),
    ({'inner': {'rate': 1.0, 'depth': True}}, r'^inner\.depth: expected int, got bool'),
    ({'inner': {'rate': 1.0, 'depth': 11}}, r'^inner\.depth: 11 is outside \[1, 10\]'),
    ({'inner': {'rate': 1.0}, 'spare': {'rate': -1.0}}, r'^spare\.rate: -1\.0 must be > 0'),
    ({'inner': {'rate': 1.0}, 'mode': 'c'}, r"^mode: 'c' is not one of \['a', 'b'\]"),
    ({'inner': {'rate': 1.0}, 'mode': 'b'}, r"^spare: mode 'b' needs a spare"),
    ({'inner': {'rate': 1.0}, 'names': 'x'}, r'^names: expected a list of str'),
    ({'inner': {'rate': 1.0}, 'names': ['a', 3]}, r'^names\[1\]: expected str, got int'),
    ({'inner': {'rate': 1.0}, 'names': ['a', '']}, r'^names: empty name'),
    ({'inner': {'rate': 1.0}, 'flag': 1}, r'^flag: expected bool, got int'),
    ({'inner': {'rate': 1.0}, 'origin': 'x'}, r'^origin: unknown parameter'),
])
def test_refusals_name_the_key(values, match):
    with pytest.raises(ConfigError, match=match):
        from_mapping(Outer, values)


@dataclass(frozen=True)
class Window:
    low: int = param(0, 'Low')
    high: int = param(1, 'High')

    def __post_init__(self):
        if self.low > self.high:
            raise ConfigError('low: above high')


@dataclass(frozen=True)
class Holder:
    window: Window = param(Window(), 'A window')


def test_a_cross_field_check_of_a_nested_config_is_prefixed():
    with pytest.raises(ConfigError, match=r'^window\.low: above high'):
        from_mapping(Holder, {'window': {'low': 5}})
    assert from_mapping(Holder, {}) == Holder()


def test_list_defaults_become_tuples_and_configs_stay_hashable():
    a, b = from_mapping(Outer, {'inner': {'rate': 1.0}}), from_mapping(Outer, {'inner': {'rate': 1.0}})
    assert a.names == ('x',) and hash(a) == hash(b)


def test_the_link_bench_config_uses_the_same_validator(tmp_path):
    from ladon_bench.link.cases import parse_codecs
    from ladon_bench.link.harness import BenchConfig
    base = {'cases': tuple(parse_codecs('jpeg@75')), 'rates_mbps': [5.0, 1], 'out_dir': tmp_path}
    cfg = from_mapping(BenchConfig, base)
    assert cfg.rates_mbps == (5.0, 1.0) and cfg.frames == 100 and cfg.out_dir == tmp_path
    for bad, match in [({'cases': ()}, r'^cases: needs at least one'), ({'fps': 0}, r'^fps: 0\.0 must be > 0'),
                       ({'domain_id': 200}, r'^domain_id: 200 is outside'),
                       ({'out_dir': 'x'}, r'^out_dir: expected Path'), ({'frames': 0}, r'^frames: 0 is outside')]:
        with pytest.raises(ConfigError, match=match):
            from_mapping(BenchConfig, {**base, **bad})
