# Sourced by the table scripts (classil_sweep.sh, vit_sweep.sh): their shared runner.
#   sweep_methods OUT_DIR "COMMON OVERRIDES" NAME ...
# runs, for each NAME, one `laftr-cl -m COMMON ${method[NAME]} seed=$SEEDS` multirun into OUT_DIR/NAME (its log
# OUT_DIR/NAME.log), LANES (default 2) of them side by side, and prints each one's wall time. The caller
# defines the associative array `method` (NAME → overrides); EXTRA is appended to every command.
sweep_methods() {
  local out=$1 common=$2 name
  shift 2
  mkdir -p "$out"
  for name in "$@"; do
    [ -n "${method[$name]:-}" ] || { echo "unknown method $name; known: ${!method[*]}" >&2; return 2; }
  done
  for name in "$@"; do echo "$name|${method[$name]}"; done | xargs -P "${LANES:-2}" -I{} bash -c '
    name=${1%%|*} overrides=${1#*|}
    start=$(date +%s)
    python -m laftr_cl.cli -m '"$common"' $overrides seed='"${SEEDS:-0,1,2,3,4}"' \
      hydra.sweep.dir='"$out"'/$name ${EXTRA:-} > '"$out"'/$name.log 2>&1 || echo "$name failed, see '"$out"'/$name.log"
    echo "$name: $(( $(date +%s) - start )) s"
  ' _ {}
}
