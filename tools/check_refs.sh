#!/usr/bin/env bash
# CI check: the repository stands alone. Fails (exit 1, listing file:line) when a tracked text file
# refers to something outside the repository: the sibling shared folder (its fixtures or its notes)
# or the reference notes by name or section number. Cite docs/<file>.md of this repository or
# upstream code as owner/repo@commit:path:line instead.
# Usage: tools/check_refs.sh [repository root]     (default: the repository holding this script)
set -euo pipefail
root=${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
cd "$root"

# The patterns are assembled from pieces so that this file does not match them itself.
dot='\.'
md="${dot}md"
sect=$'\xc2\xa7'                                   # the section sign
notes="(ren_vq|runner|vq2d|sam2)${md}"             # note file names
outside="${dot}${dot}/shared"                      # the sibling folder
shared="shared/(spec|fixtures)"                    # its sub-folders, from any prefix
spec="spec/[A-Za-z0-9_]+${md}"                     # any note under a spec folder
section="${sect} ?[0-9]"                           # "<sign>2.13", "<sign> 6.2"
strong="${outside}|${shared}|${spec}|${section}"
# A note name is allowed only as this repository's own doc: docs/<name>.md, or a relative
# markdown link "](<name>.md" between files of docs/.
allowed="(docs/|[]][(])${notes}"

set +e
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  hits=$(git grep -I -n -E -e "${strong}|${notes}" -- .)
  rc=$?
else
  hits=$(grep -rIn -E --exclude-dir=.git --exclude-dir=build -e "${strong}|${notes}" . | sed 's#^\./##')
  rc=$?
fi
set -e
if [ "$rc" -gt 1 ]; then
  echo "check_refs: search failed (exit $rc)" >&2
  exit 2
fi

bad=$(printf '%s\n' "$hits" | STRONG="$strong" NOTES="$notes" ALLOWED="$allowed" awk '
  NF == 0 { next }
  {
    if (!match($0, /^[^:]*:[0-9]+:/)) next
    text = substr($0, RLENGTH + 1)
    gsub(ENVIRON["ALLOWED"], "", text)
    if (text ~ ENVIRON["STRONG"] || text ~ ENVIRON["NOTES"]) print
  }')

if [ -n "$bad" ]; then
  printf '%s\n' "$bad"
  n=$(printf '%s\n' "$bad" | wc -l)
  echo "check_refs: $n line(s) refer to files outside the repository; cite docs/<file>.md or" \
       "upstream owner/repo@commit:path:line instead" >&2
  exit 1
fi
echo "check_refs: no references outside the repository"
