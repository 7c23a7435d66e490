#!/usr/bin/env bash
# Layer check (fast, bash + grep): fails when an #include crosses a layer the wrong way or pulls
# LibTorch into a torch-free layer.
#
#   layers:  base <- core <- pipeline;  base <- io <- runner;  app may include every layer.
#   tests/<layer> may include their layer and below (and tests/support); tests/app and the test
#   programs built on the app (tests/runner/programs) everything.
#   torch-free: src/{base,io,runner,app}, include/vq2d/{base,io,runner}, tests/{base,io,runner,
#   support}: no <torch/...>, <ATen/...>, <c10/...>, directly or through a project header that
#   includes one.
#
# Usage: tools/check_layers.sh [repo root]   (exit 1 and one line per violation on failure)
set -euo pipefail
root=${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
cd "$root"

declare -A allowed=(
  [base]="base"
  [core]="base core"
  [pipeline]="base core pipeline"
  [io]="base io"
  [runner]="base io runner"
  [app]="base core pipeline io runner app"
)
torch_free_layers=" base io runner app "

# The layer a quoted include names: "vq2d/<layer>/x.h" (public) or "<layer>/x.h" (a layer's private
# headers under src/, or a test suite's helpers under tests/). Prints nothing for same-folder
# includes ("x.h") and for "support/..." (test support).
# (Helpers return in REPLY: no subshells, so the whole tree takes well under a second.)
include_layer() {
  local inc=$1
  REPLY=
  case "$inc" in
    vq2d/version.h) REPLY=base ;;
    vq2d/*/*) inc=${inc#vq2d/}; REPLY=${inc%%/*} ;;
    base/* | core/* | pipeline/* | io/* | runner/* | app/*) REPLY=${inc%%/*} ;;
  esac
}

# The layer of a file, from its path.
file_layer() {
  local f=$1
  REPLY=
  case "$f" in
    include/vq2d/*) f=${f#include/vq2d/}; REPLY=${f%%/*} ;;
    src/*) f=${f#src/}; REPLY=${f%%/*} ;;
    tests/runner/programs/*) REPLY=app ;;  # the vq2d binary with a scripted clip processor
    tests/support/*) REPLY=base ;;
    tests/*/*) f=${f#tests/}; REPLY=${f%%/*} ;;
  esac
}

mapfile -t files < <(find include src tests -type f \( -name '*.h' -o -name '*.hpp' -o -name '*.cpp' -o -name '*.cc' \) | sort)

# Every include line of the tree, read once: file, line number, quoted path or LibTorch header.
declare -A is_file=()
for f in "${files[@]}"; do is_file[$f]=1; done
resolve() {  # quoted include $2 of file $1 -> repo path of the header, if it is a project file
  local from=$1 inc=$2 c
  REPLY=
  for c in "include/$inc" "src/$inc" "tests/$inc" "${from%/*}/$inc"; do
    if [[ -n "${is_file[$c]:-}" ]]; then REPLY=$c; return; fi
  done
}
inc_files=() inc_lines=() inc_paths=() inc_deps=()
declare -A torchy=() edges=()
torch_hits=()
quoted_re='^[[:space:]]*#[[:space:]]*include[[:space:]]*"([^"]+)"'
torch_re='^[[:space:]]*#[[:space:]]*include[[:space:]]*<((torch|ATen|c10)/[^>]*)>'
while IFS= read -r hit; do
  f=${hit%%:*}; rest=${hit#*:}; n=${rest%%:*}; line=${rest#*:}
  if [[ "$line" =~ $quoted_re ]]; then
    resolve "$f" "${BASH_REMATCH[1]}"
    inc_files+=("$f"); inc_lines+=("$n"); inc_paths+=("${BASH_REMATCH[1]}"); inc_deps+=("$REPLY")
    [[ -n "$REPLY" ]] && edges[$f]+="$REPLY "
  elif [[ "$line" =~ $torch_re ]]; then
    torchy[$f]=1
    torch_hits+=("$f:$n:${BASH_REMATCH[1]}")
  fi
done < <(grep -HnE '^[[:space:]]*#[[:space:]]*include' "${files[@]}")

# Project headers that pull in LibTorch: those including it directly, then (fixpoint) those
# including such a header.
changed=1
while ((changed)); do
  changed=0
  for f in "${!edges[@]}"; do
    [[ -n "${torchy[$f]:-}" ]] && continue
    for dep in ${edges[$f]}; do
      if [[ -n "${torchy[$dep]:-}" ]]; then torchy[$f]=1; changed=1; break; fi
    done
  done
done

violations=0
report() { echo "check_layers: $1"; violations=$((violations + 1)); }
for i in "${!inc_files[@]}"; do
  f=${inc_files[$i]} n=${inc_lines[$i]} inc=${inc_paths[$i]} dep=${inc_deps[$i]}
  file_layer "$f"
  layer=$REPLY
  [[ -z "$layer" || -z "${allowed[$layer]:-}" ]] && continue
  include_layer "$inc"
  if [[ -n "$REPLY" && " ${allowed[$layer]} " != *" $REPLY "* ]]; then
    report "$f:$n: $layer includes \"$inc\" ($REPLY); $layer may include: ${allowed[$layer]}"
  fi
  if [[ "$torch_free_layers" == *" $layer "* && -n "$dep" && -n "${torchy[$dep]:-}" ]]; then
    report "$f:$n: torch-free layer $layer includes \"$inc\", which pulls in LibTorch"
  fi
done
for hit in "${torch_hits[@]}"; do
  f=${hit%%:*} rest=${hit#*:}
  file_layer "$f"
  if [[ -n "$REPLY" && "$torch_free_layers" == *" $REPLY "* ]]; then
    report "$f:${rest%%:*}: torch-free layer $REPLY includes LibTorch <${rest#*:}>"
  fi
done

if ((violations)); then
  echo "check_layers: $violations violation(s) (layers: base <- core <- pipeline; base <- io <- runner; app on top)"
  exit 1
fi
echo "check_layers: OK (${#files[@]} files)"
