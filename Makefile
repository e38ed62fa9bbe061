# stopstreaming: every target installs what it needs and can be run again safely.
# `make demo` and `make test` are the two commands a newcomer needs.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

SPARK_VERSION ?= 4.1.4
# The Spark 3.5 line is compiled against this release (Scala 2.12); the 4.x line against build.sbt's.
SPARK3_BUILD_VERSION ?= 3.5.8
MATRIX ?= 3.5.8 4.0.5 4.1.4 4.2.1 4.3.0
PYTHON ?= python3
VENV ?= .venv
SBT := ./sbt
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check
VERSION := $(shell cat python/src/stopstreaming/VERSION)
JAR_DIR := python/src/stopstreaming/jars
SBT_VERSION := $(shell sed -n 's/^sbt\.version *= *//p' project/build.properties)
SBT_LAUNCHER := $(HOME)/.sbt/launchers/$(SBT_VERSION)/sbt-launch-$(SBT_VERSION).jar
SETUP_STAMP := $(VENV)/.setup-pyspark-$(SPARK_VERSION)
# The slowest tests are listed at the end of each run: CI has 90 minutes for `make test` and the matrix.
PYTEST_ARGS ?= --durations=15
# Two pytest workers (pytest-xdist), each taking a whole test file at a time so a file's shared set-up
# (a Docker image, a broker) stays in one worker; PYTEST_WORKERS=0 runs one test at a time.
PYTEST_WORKERS ?= 2
# The matrix lines run only the tests that can fail on every line, most of them waiting on batches and
# sinks rather than computing: a third worker took a line from 7.9 to 7.1 minutes here.
MATRIX_WORKERS ?= 3
XDIST = $(if $(filter 0,$(PYTEST_WORKERS)),,-n $(PYTEST_WORKERS) --dist loadfile)

.PHONY: help setup tools build jar wheel test test-quick test-scala test-python test-matrix demo bench robustness lint fmt clean

help:
	@echo "make setup   sbt launcher + $(VENV) with PySpark $(SPARK_VERSION) and dev tools"
	@echo "make build   plugin jar + wheel (jar inside), installed into $(VENV)"
	@echo "make test    Scala tests + pytest against real Spark (the test command)"
	@echo "make test-quick   the smoke set + the tests a change touched (BASE=rev to compare with a commit)"
	@echo "make test-matrix  Scala tests on Spark $(SPARK3_BUILD_VERSION), pytest on PySpark $(MATRIX)"
	@echo "make demo    local Spark with the plugin, demo queries, control server on localhost:8558"
	@echo "make bench   benchmarks; writes bench/results/latest.json"
	@echo "make robustness  10,000 hostile raw-socket requests against a driver; writes bench/results/fuzz.json"
	@echo "make lint    scalafmt check + ruff"
	@echo "make clean   remove build outputs"

setup: $(SETUP_STAMP) $(SBT_LAUNCHER) tools

# Debian packages the tests and benchmarks use: wrk (HTTP load for make bench), chromium (the
# control page's browser tests, driven by Playwright), and a Docker engine with debootstrap (the
# container tests build their own base image; no image registry is needed), and Debian's
# docker-compose where the docker CLI has no compose plugin (a test validates docker/compose.yaml).
# Installed only where missing; needs root, as CI and the developers' machines have.
TOOLS_MISSING = $(strip $(if $(shell command -v wrk),,wrk) $(if $(shell command -v chromium),,chromium) \
  $(if $(shell command -v dockerd),,docker.io) $(if $(shell command -v debootstrap),,debootstrap) \
  $(if $(shell command -v docker-compose),,$(if $(shell docker compose version 2>/dev/null),,docker-compose)))
tools:
	@if [ -n "$(TOOLS_MISSING)" ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(TOOLS_MISSING); fi

# The launcher may already be cached (older than a fresh clone's files): touched, so it is not fetched again.
$(SBT_LAUNCHER): project/build.properties
	$(SBT) --launcher-only
	touch $@

# One stamp per PySpark version: `make setup SPARK_VERSION=3.5.8` rebuilds the virtualenv.
$(SETUP_STAMP): requirements-dev.txt
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip setuptools wheel
	$(PIP) install -q "pyspark[connect]==$(SPARK_VERSION)" -r requirements-dev.txt
	touch $@

# One jar per Spark line; the wheel carries both and picks the one of the running PySpark. Each is
# rebuilt only when a JVM source or the build changed, so `make demo` after `make build` starts at once.
JVM_INPUTS := $(shell find jvm/src/main examples/scala/src -type f) build.sbt project/build.properties \
  project/plugins.sbt python/src/stopstreaming/VERSION
JAR4 := $(JAR_DIR)/stopstreaming-spark4_2.13-$(VERSION)-assembly.jar
JAR3 := $(JAR_DIR)/stopstreaming-spark3_2.12-$(VERSION)-assembly.jar
BUILD_REPO := target/maven-repo/io/github/stopstreaming
POM4 := $(BUILD_REPO)/stopstreaming-spark4_2.13/$(VERSION)/stopstreaming-spark4_2.13-$(VERSION).pom
POM3 := $(BUILD_REPO)/stopstreaming-spark3_2.12/$(VERSION)/stopstreaming-spark3_2.12-$(VERSION).pom
WHEEL := python/dist/stopstreaming-$(VERSION)-py3-none-any.whl
WHEEL_STAMP := $(VENV)/.wheel-installed

# Each line's artifact is also published into target/maven-repo, a Maven repository on disk, so that
# tests/test_packages.py resolves it with `spark-submit --packages` without an sbt run of its own.
# Only the jar and its POM: no scaladoc or sources jar, which would add a minute to every build.
PUBLISH_TO_BUILD_REPO := "set ThisBuild / publishTo := Some(Resolver.file(\"build-repo\", file(\"target/maven-repo\")))" \
  "set jvm / Compile / packageDoc / publishArtifact := false" "set jvm / Compile / packageSrc / publishArtifact := false"
# The jar and its POM come from one sbt run: a grouped target (&:), which needs GNU make 4.3 or newer.
ifeq ($(filter grouped-target,$(.FEATURES)),)
$(error GNU make 4.3 or newer is needed (this is $(MAKE_VERSION)); on macOS: brew install make, then gmake)
endif

$(JAR4) $(POM4) &: $(JVM_INPUTS) | $(SBT_LAUNCHER)
	$(SBT) $(PUBLISH_TO_BUILD_REPO) jvm/assembly jvm/publish examples/package < /dev/null
	rm -f $(JAR_DIR)/stopstreaming-spark4_2.13-*.jar
	cp jvm/target/scala-2.13/$(notdir $(JAR4)) $(JAR4)

$(JAR3) $(POM3) &: $(JVM_INPUTS) | $(SBT_LAUNCHER)
	$(SBT) -Dspark.version=$(SPARK3_BUILD_VERSION) $(PUBLISH_TO_BUILD_REPO) jvm/assembly jvm/publish examples/package < /dev/null
	rm -f $(JAR_DIR)/stopstreaming-spark3_2.12-*.jar
	cp jvm/target/scala-2.12/$(notdir $(JAR3)) $(JAR3)

jar: $(JAR4) $(JAR3) $(POM4) $(POM3)

$(WHEEL): $(JAR4) $(JAR3) $(shell find python/src -name '*.py') python/pyproject.toml python/setup.py | $(SETUP_STAMP)
	rm -rf python/dist python/build
	$(PIP) wheel -q --no-deps --no-build-isolation -w python/dist ./python

# Installed again when the wheel or the virtualenv is new.
$(WHEEL_STAMP): $(WHEEL) $(SETUP_STAMP)
	$(PIP) install -q --force-reinstall --no-deps $(WHEEL)
	touch $@

wheel: $(WHEEL_STAMP)

build: setup jar wheel

test-scala: $(SBT_LAUNCHER)
	$(SBT) jvm/test < /dev/null

test-python: build
	STOPSTREAMING_SPLIT_REPORT=$(VENV)/split.json $(PY) -m pytest tests $(XDIST) $(PYTEST_ARGS)

test: build test-scala test-python

# A developer's loop: the smoke set (marker `smoke`) and the tests of what differs from BASE (HEAD by
# default), with sbt's testQuick when JVM sources changed; see docs/development.md.
test-quick: build
	$(PY) tests/quick.py $(if $(BASE),--base $(BASE))

# Each PySpark in its own virtualenv (.venv-matrix/<version>); prints version -> passed/failed/skipped.
test-matrix: build
	$(SBT) -Dspark.version=$(SPARK3_BUILD_VERSION) jvm/test < /dev/null
	$(PY) tests/run_matrix.py --python $(PYTHON) --workers $(MATRIX_WORKERS) $(MATRIX)

demo: build
	$(PY) examples/demo.py

bench: build
	$(PY) bench/run.py

# 10,000 hostile requests over raw sockets against a real driver; fails on any 5xx or a victim touched.
robustness: build
	$(PY) bench/fuzz_http.py --requests 10000

lint: setup
	$(SBT) scalafmtCheckAll scalafmtSbtCheck < /dev/null
	$(SBT) -Dspark.version=$(SPARK3_BUILD_VERSION) scalafmtCheckAll < /dev/null  # the Spark 3 sources
	$(PY) -m ruff check python tests bench
	$(PY) -m ruff format --check python tests bench

fmt: setup
	$(SBT) scalafmtAll scalafmtSbt < /dev/null
	$(SBT) -Dspark.version=$(SPARK3_BUILD_VERSION) scalafmtAll < /dev/null
	$(PY) -m ruff format python tests bench

clean:
	rm -rf jvm/target target project/target project/project python/dist python/build .venv-matrix \
	  python/src/*.egg-info $(JAR_DIR)/*.jar bench/results .pytest_cache
