# webstack: make test | make demo | make demo-down | make bench | make lint | make docs
# Every target sets up what it needs on a fresh Debian 12 machine (as root):
# the virtualenv from requirements.txt, dockerd and the local container images.
VENV    ?= .venv
PYTHON  ?= python3
PY      := $(VENV)/bin/python
PYTEST_ARGS ?=
# Two pytest-xdist workers, one per lane (tests/integration/conftest.py): the tests of
# Debian 13's cluster beside all the others.
LANES   ?= -n 2
export WEBSTACK_TESTBED_DIR ?= /var/tmp/webstack-testbed

.PHONY: test unit functional integration venv host-deps testbed testbed-services demo demo-down bench lint docs clean

venv: $(VENV)/.installed
$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check -r requirements.txt
	touch $@

# Packages the functional tier runs on this host (HAProxy, Nginx, Varnish, uWSGI, procps).
host-deps:
	bash tests/testbed/host-deps.sh

# dockerd and the Debian package cache for the containers (apt-cacher-ng); with the images
testbed-services:
	bash tests/testbed/docker.sh ensure
	bash tests/testbed/aptcache.sh start

testbed: testbed-services
	bash tests/testbed/images.sh

# The linters, then all three tiers, in two lanes (LANES): Debian 13's cluster from the
# start, beside the rest. The images build in the background meanwhile (the integration
# tier's fixture waits for them: images.sh holds a lock). The package cache is stopped
# afterwards, and dockerd only if this run started it.
test: lint venv $(VENV)/.integration-installed host-deps testbed-services
	bash tests/testbed/images.sh & \
	$(PY) -m pytest tests/unit tests/functional tests/integration -v $(LANES) $(PYTEST_ARGS); \
	rc=$$?; wait; bash tests/testbed/aptcache.sh stop; bash tests/testbed/docker.sh stop; exit $$rc

unit: venv
	$(PY) -m pytest tests/unit $(PYTEST_ARGS)

functional: venv host-deps
	$(PY) -m pytest tests/functional $(PYTEST_ARGS)

integration: venv $(VENV)/.integration-installed testbed
	$(PY) -m pytest tests/integration -v $(LANES) $(PYTEST_ARGS)

# moto (an S3 store) and boto3, for the integration tier alone
$(VENV)/.integration-installed: tests/integration/requirements.txt $(VENV)/.installed
	$(VENV)/bin/pip install -q --disable-pip-version-check -c requirements.txt -r tests/integration/requirements.txt
	touch $@

# The cluster in containers (master, db1, cache1, app1, app2, worker1, lb1), deployed
# by orch.deploy; prints the load balancer's URL.
demo: venv testbed-services
	bash tests/testbed/images.sh $${WEBSTACK_DEMO_RELEASE:-trixie}:base,salt
	$(PY) tests/testbed/demo.py up

demo-down: venv
	$(PY) tests/testbed/demo.py down

# WSGI servers side by side, apply times per role, a rolling deploy under load, backups:
# tests/bench/results/bench.md and wsgi.png (about 40 minutes). BENCH_ARGS, e.g.
# --parts wsgi, picks parts.
BENCH_ARGS ?=
bench: venv testbed $(VENV)/.bench-installed
	$(PY) tests/bench/bench.py $(BENCH_ARGS)

$(VENV)/.bench-installed: tests/bench/requirements.txt $(VENV)/.installed
	$(VENV)/bin/pip install -q --disable-pip-version-check -c requirements.txt -r tests/bench/requirements.txt
	touch $@

# ruff, shellcheck, yamllint and salt-lint (configured in tests/lint/, each choice with
# its reason), the generated pillar reference against the schema, and a syntax check.
lint: venv $(VENV)/.lint-installed
	bash tests/testbed/host-deps.sh shellcheck
	shellcheck bootstrap.sh tests/testbed/*.sh .ci/run
	$(VENV)/bin/ruff check --config tests/lint/ruff.toml .
	$(VENV)/bin/yamllint -c tests/lint/yamllint.yaml salt/webstack/parameters pillar/webstack/nodes.yaml \
		pillar/webstack/secrets.sls.example pillar/webstack/tls.sls.example
	find salt orch -name '*.sls' -print0 | xargs -0 $(VENV)/bin/salt-lint -c tests/lint/salt-lint.yaml
	$(PY) docs/reference.py --check
	bash -n bootstrap.sh tests/testbed/*.sh .ci/run
	$(PY) -m compileall -q _modules _states _utils tests example docs

$(VENV)/.lint-installed: tests/lint/requirements.txt $(VENV)/.installed
	$(VENV)/bin/pip install -q --disable-pip-version-check -c requirements.txt -r tests/lint/requirements.txt
	touch $@

# The pillar reference in docs/pillar.md, from salt/webstack/parameters/schema.yaml.
docs: venv
	$(PY) docs/reference.py

clean: demo-down
	rm -rf $(VENV)
