# make demo | make test   (each runs `make setup` first; see README.md)
# make setup: .venv (pinned requirements, `ladon-ros` CLI) + colcon build of msg/ into install/
# (+ the ros2 launch test tooling when ../shared/ros2-launch exists).
SHELL := /bin/bash
PYTHON311 ?= python3.11
VENV := .venv
VPY := $(VENV)/bin/python
ENV := source scripts/env.sh &&
PYTEST_ARGS ?=
ARGS ?=
# Stamps make a second `make setup` a no-op; each lives in what it stamps, so deleting
# .venv or install/ redoes that step.
VENV_STAMP := $(VENV)/.ladon-setup.stamp
BUILD_STAMP := install/.ladon-build.stamp
BUILD_INPUTS := package.xml CMakeLists.txt $(wildcard cmake/* msg/*.msg launch/* config/* configs/*/* rviz/*) \
	$(shell find ladon_ros -name '*.py' -o -name '*.safetensors' 2>/dev/null)

# Test tooling: `ros2 launch` + CLI from ../shared/ros2-launch when that folder exists
# (scripts/setup_launch.sh); without it the launcher tests skip and say why.
LAUNCH_TOOLS ?= ../shared/ros2-launch
LAUNCH_STAMP := install/ros2_launch/.ladon-launch.stamp

.PHONY: setup test test-random demo bench bench-fleet train eval soak mutation clean

setup: $(BUILD_STAMP) $(if $(wildcard $(LAUNCH_TOOLS)/wheels/*.whl),$(LAUNCH_STAMP))

$(VENV_STAMP): requirements.txt setup.py
	test -x $(VPY) || $(PYTHON311) -m venv $(VENV)
	$(VPY) -m pip install -q -r requirements.txt
	$(VPY) -m pip install -q --no-deps --no-build-isolation -e .
	scripts/fix_wheel_cmake.sh $(VENV)
	touch $@

$(BUILD_STAMP): $(VENV_STAMP) $(BUILD_INPUTS) scripts/colcon_build.sh
	scripts/colcon_build.sh $(VENV)
	touch $@

$(LAUNCH_STAMP): $(VENV_STAMP) requirements-launch.txt scripts/setup_launch.sh
	scripts/setup_launch.sh $(VENV) $(LAUNCH_TOOLS)
	touch $@

test: setup
	$(ENV) python -m pytest test -m "not slow" --timeout=600 $(PYTEST_ARGS)

# `make test` in random order (pytest-random-order from requirements-dev.txt, installed here; plain
# `make test` never needs it): modules shuffled, tests shuffled within each. The seed is printed;
# `make test-random PYTEST_ARGS=--random-order-seed=N` replays that order (docs/TESTING.md).
test-random: setup
	$(VPY) -m pip install -q -r requirements-dev.txt
	$(ENV) python -m pytest test -m "not slow" --timeout=600 -p random_order --random-order-bucket=module $(PYTEST_ARGS)

demo: setup
	$(ENV) ladon-ros demo $(ARGS)

bench: setup  # needs root (network namespaces + tc)
	$(ENV) ladon-ros bench-link $(ARGS)

# How many robots one shaped link and 1-2 edges serve, per codec (root; docs/FLEET_BENCH.md).
bench-fleet: setup
	$(ENV) ladon-ros bench-fleet $(ARGS)

train: setup
	$(ENV) ladon-ros train $(ARGS)

eval: setup
	$(ENV) ladon-ros eval $(ARGS)

soak: setup
	$(ENV) python -m pytest test -m soak --timeout=3600 $(PYTEST_ARGS)

# Mutation testing of the core (mutmut, dev-only requirements; docs/TESTING.md): about 20 min.
mutation: setup
	$(VPY) -m pip install -q -r requirements-dev.txt
	$(ENV) python scripts/mutation.py $(ARGS)

clean:
	rm -rf build install log
