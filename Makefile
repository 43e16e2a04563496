# walkout: the two commands a newcomer needs are `make demo` and `make test`.
# Both install what is missing first (idempotent, and quick when nothing is).

SHELL := /bin/bash
.ONESHELL:
.SILENT:
.SHELLFLAGS := -euo pipefail -c

# Debian packages: OpenCV 4.6 headers and libraries (FFmpeg video backend),
# clang/libclang for the opencv crate's bindings, pkg-config to find them,
# python3-aiosmtpd for the receipt e-mail tests' local SMTP server,
# chromium (driven over its DevTools protocol) and fonts-liberation (its text
# in screenshots) for the shopper app's browser tests.
DEB_PACKAGES := libopencv-dev clang libclang-dev pkg-config python3-aiosmtpd chromium fonts-liberation

# ONNX Runtime comes from the PyPI wheel (no download from anywhere else);
# ort 2.0.0-rc.15 with api-31 needs ONNX Runtime >= 1.31.
ORT_VERSION := 1.32.0
ORT_WHEEL := onnxruntime-$(ORT_VERSION)-cp311-cp311-manylinux_2_28_x86_64.whl
ORT_WHEEL_SHA256 := 5a34fc4dfeb5a7b4a74c95dcba1e773d722abda720b474edf1b0c419dc6d163d
ORT_DIR := .local/onnxruntime
ORT_LIB := $(ORT_DIR)/libonnxruntime.so

.PHONY: setup deb-packages bench-setup demo test build check fmt

setup: deb-packages $(ORT_LIB)

deb-packages:
	missing=""
	for p in $(DEB_PACKAGES); do
	  dpkg-query -W -f='$${Status}' "$$p" 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"
	done
	if [ -n "$$missing" ]; then
	  echo "installing Debian packages:$$missing"
	  SUDO=""; [ "$$(id -u)" -eq 0 ] || SUDO=sudo
	  $$SUDO apt-get update -qq
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing
	fi

$(ORT_LIB):
	mkdir -p .local/wheels $(ORT_DIR)
	if [ ! -f .local/wheels/$(ORT_WHEEL) ]; then
	  python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.11 \
	    --platform manylinux_2_28_x86_64 --dest .local/wheels onnxruntime==$(ORT_VERSION)
	fi
	echo "$(ORT_WHEEL_SHA256)  .local/wheels/$(ORT_WHEEL)" | sha256sum --check --quiet
	python3 -c 'import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); \
	  [open(sys.argv[2] + "/" + n.rsplit("/", 1)[1], "wb").write(z.read(n)) for n in z.namelist() \
	   if n.startswith("onnxruntime/capi/libonnxruntime")]' .local/wheels/$(ORT_WHEEL) $(ORT_DIR)
	ln -sf libonnxruntime.so.$(ORT_VERSION) $(ORT_LIB)
	echo "ONNX Runtime $(ORT_VERSION) installed in $(ORT_DIR)"

# The reference of `walkout bench vision`: Python's onnxruntime (the same
# wheel as above) and numpy from PyPI, in the project's own .local/venv.
VENV := .local/venv

bench-setup: $(VENV)/.installed

$(VENV)/.installed: $(ORT_LIB)
	[ -x $(VENV)/bin/python ] || python3 -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet .local/wheels/$(ORT_WHEEL) numpy
	$(VENV)/bin/python -c 'import onnxruntime, numpy; print("reference venv: onnxruntime", onnxruntime.__version__, "numpy", numpy.__version__)'
	touch $@

build: setup
	cargo build

# A simulated store hour (standard scenario, ~80 visits) through the real
# pipeline on the embedded defaults: prints the scorer's table and where the
# report, receipts and plots were written (under target/walkout-demo).
demo: setup
	cargo run --release --quiet -- demo
	cargo run --release --quiet -- bench accuracy --scenario standard --seed 1 --shoppers 80 \
	  --out target/walkout-demo --plot target/walkout-demo/plots \
	  | python3 -c 'import json,sys; r=json.load(sys.stdin); print(r["table"]); print("written:"); [print("  " + w) for w in r["written"]]'

test: setup bench-setup
	if [ -z "$${WALKOUT_TEST_POSTGRES_URL:-}" ]; then
	  echo "NOTE: the PostgreSQL storage suite will be skipped; to run it too:"
	  echo "      WALKOUT_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test make test"
	fi
	cargo test --all-targets
	cargo test --doc

check: setup
	cargo fmt --check
	cargo clippy --all-targets -- -D warnings

fmt:
	cargo fmt
