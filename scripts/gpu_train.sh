#!/usr/bin/env bash
# Train on a GPU machine (see scripts/gpu_train.py). Paths are relative to the
# checkout's root: the pack is .gpu/fer_pack.npz ($PACK), and wheels in .whl/, if any
# (the Python packages the machine lacks), are installed first. Times a training step
# with each Keras backend that the machine has (JAX, JAX told to use CUDA, PyTorch;
# side by side, 75 s at most), then trains networks side by side with the fastest
# until the deadline. The weights and histories go to $OUT_DIR (default
# runs/gpu/out), and everything printed also goes to $OUT_DIR/log.txt, so a run
# cut off before the end still leaves its record.
#   bash scripts/gpu_train.sh SECONDS ["SEED TARGETS" ...]     (three runs by default)
set -u
cd "$(dirname "${BASH_SOURCE[0]}")/.."
probes=() trainings=()
budget=${1:-420}
shift
runs=("$@")
(( ${#runs[@]} )) || runs=("11 soft" "12 soft" "13 labels")
deadline=$(( $(date +%s) + budget ))
out_dir=${OUT_DIR:-runs/gpu/out}
pack=${PACK:-.gpu/fer_pack.npz}
max_ms=${MAX_MS:-300}  # slower than this a step, a backend is computing on the processor
mkdir -p "$out_dir"
exec > >(tee -a "$out_dir/log.txt") 2>&1
site=${SITE:-/tmp/gpu_train_site}
if compgen -G ".whl/*.whl" > /dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target "$site" .whl/*.whl || exit 1
    export PYTHONPATH=$site${PYTHONPATH:+:$PYTHONPATH}
fi
export PYTHONUNBUFFERED=1 XLA_PYTHON_CLIENT_PREALLOCATE=false
command -v nvidia-smi > /dev/null && nvidia-smi --query-gpu=name,memory.total --format=csv,noheader

variants=("KERAS_BACKEND=jax" "KERAS_BACKEND=jax JAX_PLATFORMS=cuda" "KERAS_BACKEND=torch")
for i in "${!variants[@]}"; do
    env ${variants[$i]} timeout 75 python3 scripts/gpu_train.py probe > "/tmp/probe$i.txt" 2>&1 &
    probes+=($!)
done
wait "${probes[@]}"  # not a bare wait: that waits for the tee above too, for ever
best="" best_ms=1000000
for i in "${!variants[@]}"; do
    echo "== ${variants[$i]}"
    grep -v -E "^(I0000|W0000)" "/tmp/probe$i.txt" | tail -4
    ms=$(awk '/ms_per_step/ {print $4}' "/tmp/probe$i.txt")
    if [[ -n $ms ]] && awk "BEGIN { exit !($ms < $best_ms) }"; then
        best=${variants[$i]} best_ms=$ms
    fi
done
if [[ -z $best ]] || awk "BEGIN { exit !($best_ms > $max_ms) }"; then
    echo "no backend trains on the GPU (fastest: '${best:-none}' at $best_ms ms a step); stopping"
    exit 1
fi
echo "training with $best ($best_ms ms a step), until $(date -d "@$deadline" +%T)"
for run in "${runs[@]}"; do
    set -- $run
    env $best python3 scripts/gpu_train.py run --pack "$pack" --out "$out_dir" --until "$deadline" \
        --seed "$1" --targets "$2" 2>&1 | grep --line-buffered -v -E "^(I0000|W0000)" &
    trainings+=($!)
done
wait "${trainings[@]}"
ls -la "$out_dir"
