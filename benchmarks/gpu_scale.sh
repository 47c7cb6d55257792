#!/usr/bin/env bash
# The GPU scale figures in one shot (benchmarks/README.md, `scale.py`): run from the repository root
# on a machine with one CUDA GPU, torch, transformers and lightning, and no internet:
#
#     bash benchmarks/gpu_scale.sh          # results in $OUT (default /tmp/em-monitor-scale)
#
# Overrides (environment): PYTHON (default python3), DEADLINE (seconds scale.py may start stages in,
# default 320), SCALE_ARGS (default "--device cuda --models 1b 8b"; "--quick" smoke-tests this script on CPU).
#
# What the machine lacks travels as wheels in .whl/ (ignored by git; see "Wheels" below), and is
# installed into /tmp/site, never into the machine's own environment. sae-lens imports datasets,
# pandas and wandb at the top of its training and evaluation modules, which loading and running an
# SAE never calls; those three (with pyarrow, ~70 MB of wheels) are replaced by import stubs when the
# machine does not have them (a stub raises if anything actually uses it).
#
# Wheels (CPython 3.12, x86_64; versions as in .venv), fetched from the repository root with
#     python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#       --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
#       --platform any -d .whl sae-lens==6.54.12 transformer-lens==3.9.0 pydantic==2.14.4 \
#       pydantic-core==2.50.5 annotated-types==0.8.0 typing-inspection==0.4.5 typing-extensions==4.16.0 \
#       einops==0.8.2 jaxtyping==0.3.11 better-abc==0.0.3 simple-parsing==0.1.9 docstring-parser==0.18.0 \
#       requests==2.34.2 urllib3==2.8.0
#
# Writes $OUT/results-scale-gpu.json (everything), $OUT/results-projection-gpu.json (its projection
# part), $OUT/scale-stdout.txt and $OUT/log.txt. Budget: under 7 minutes on an H200 (scale.py stops
# starting stages after --deadline-seconds, and `timeout` ends it in any case; the JSON written after
# each stage survives).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/em-monitor-scale}
SITE=/tmp/site
SRC=/tmp/em-monitor-src
DEADLINE=${DEADLINE:-320}
PYTHON=${PYTHON:-python3}
SCALE_ARGS=${SCALE_ARGS:---device cuda --models 1b 8b}
mkdir -p "$OUT"
exec > >(tee -a "$OUT/log.txt") 2>&1
export PYTHONUNBUFFERED=1
started=$(date +%s)
step() { echo "== [$(( $(date +%s) - started ))s] $*"; }

step "python and wheels"
$PYTHON -c 'import sys, platform; print(sys.version.split()[0], platform.machine()); assert sys.version_info[:2] == (3, 12) and platform.machine() == "x86_64", "the wheels in .whl are for CPython 3.12 on x86_64"' || exit 1
ls .whl/*.whl >/dev/null 2>&1 || { echo "no wheels in .whl/: pass carry=[\".whl\"] to the device tool"; exit 1; }
wheels=()
for wheel in .whl/*.whl; do
  # typing_extensions only when the machine's own is older (it is shared with torch).
  if [[ $(basename "$wheel") == typing_extensions-* ]]; then
    $PYTHON - "$wheel" <<'PY' && continue
import importlib.metadata, sys
from packaging.version import Version
carried = Version(sys.argv[1].rsplit("/", 1)[-1].split("-")[1])
try:
    sys.exit(0 if Version(importlib.metadata.version("typing_extensions")) >= carried else 1)
except importlib.metadata.PackageNotFoundError:
    sys.exit(1)
PY
  fi
  wheels+=("$wheel")
done
$PYTHON -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$SITE" "${wheels[@]}" || exit 1
echo "installed: ${wheels[*]##*/}"

cat > "$SITE/_em_gpu_stubs.py" <<'PY'
"""Import stubs for packages sae-lens imports at module level but never calls to load or run an SAE.

Installed by benchmarks/gpu_scale.sh. The finder sits at the end of sys.meta_path, so a real
package, where installed, always wins; a stub's attributes are placeholder classes that raise
when instantiated.
"""
import importlib.abc
import importlib.machinery
import sys
import types

STUBBED = frozenset({"datasets", "pandas", "wandb"})


class _Placeholder:
    def __init__(self, *args, **kwargs):
        raise RuntimeError(f"{type(self).__module__}.{type(self).__name__} is an import stub (benchmarks/gpu_scale.sh); install the real package")

    def __class_getitem__(cls, item):
        return cls


class _StubModule(types.ModuleType):
    def __getattr__(self, name):
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        value = type(name, (_Placeholder,), {"__module__": self.__name__})
        setattr(self, name, value)
        return value


class _StubFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, fullname, path=None, target=None):
        if fullname.partition(".")[0] not in STUBBED:
            return None
        return importlib.machinery.ModuleSpec(fullname, self, is_package=True)

    def create_module(self, spec):
        return _StubModule(spec.name)

    def exec_module(self, module):
        module.__path__ = []
        module.__version__ = "0.0.0+stub"


sys.meta_path.append(_StubFinder())
PY
cat > "$SITE/_em_run.py" <<'PY'
"""Run a script as `python3 SCRIPT ARGS` would, with the import stubs in place first."""
import os
import runpy
import sys

import _em_gpu_stubs  # noqa: F401

script = sys.argv[1]
sys.argv = sys.argv[1:]
sys.path[0] = os.path.dirname(os.path.abspath(script))
runpy.run_path(script, run_name="__main__")
PY

# The package as pyproject.toml installs it: callbacks/ becomes em_monitor.callbacks.
rm -rf "$SRC" && mkdir -p "$SRC" && cp -r em_monitor "$SRC/em_monitor" && cp -r callbacks "$SRC/em_monitor/callbacks" || exit 1
export PYTHONPATH="$SITE:$SRC"

step "nvidia-smi"
nvidia-smi || true

step "imports"
# From /tmp: run in the repository root, `-c` would find its em_monitor/ (no callbacks) first.
(cd /tmp && $PYTHON -c 'import _em_gpu_stubs, torch, transformers, lightning, em_monitor, em_monitor.callbacks, sae_lens
print("torch", torch.__version__, "cuda", torch.version.cuda, torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else "-")
print("transformers", transformers.__version__, "lightning", lightning.__version__, "sae_lens", sae_lens.__version__, "em_monitor", em_monitor.__file__)') || exit 1

step "scale.py $SCALE_ARGS (deadline ${DEADLINE}s)"
# shellcheck disable=SC2086  # SCALE_ARGS is a list of arguments
timeout $(( DEADLINE + 60 )) $PYTHON "$SITE/_em_run.py" benchmarks/scale.py $SCALE_ARGS \
  --deadline-seconds "$DEADLINE" --out "$OUT/results-scale-gpu.json" > "$OUT/scale-stdout.txt"
rc=$?
echo "scale.py exit status $rc"

step "summary"
$PYTHON - "$OUT" <<'PY'
import json, sys
from pathlib import Path

out = Path(sys.argv[1])
path = out / "results-scale-gpu.json"
if not path.is_file():
    sys.exit("no results-scale-gpu.json")
report = json.loads(path.read_text())
(out / "results-projection-gpu.json").write_text(json.dumps(report.get("projection", []), indent=1) + "\n")
print(report.get("device_name"), "torch", report.get("torch"), "transformers", report.get("transformers"), "dtype", report.get("dtype"), "run", report.get("seconds"), "s")
keys = ("parameters", "tokens_per_step", "gradient_checkpointing", "peak_memory_gib", "step_seconds", "train_batch_scoring_seconds",
        "prompt_pass_seconds", "steady_state_overhead_ratio_from_parts", "default_cadence_overhead_ratio", "default_cadence_overhead_ratio_all",
        "within_fit_overhead_ratio", "monitor_errors", "signals_as_built_error", "shared_prefix_tokens", "error")
for name, model in report.get("models", {}).items():
    print(name, json.dumps({key: model.get(key) for key in keys if key in model}))
for part in report.get("projection", []):
    if "rows" not in part:
        print("projection", json.dumps(part)[:300])
        continue
    for row in part["rows"]:
        print(f"projection d_model {part['d_model']} tokens {part['tokens']} {row['architecture']:8s} d_sae {row['d_sae']} k {row['k']:2d}: "
              f"fast {row['fast_seconds'] * 1e3:.3f} ms, sae.encode {row['sae_lens_seconds'] * 1e3:.3f} ms, x{row['speedup_vs_sae_lens']}")
PY
step "done (exit status $rc)"
exec 1>&- 2>&-
wait  # for tee to write the last lines
exit $rc
