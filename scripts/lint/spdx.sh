#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Every source file tracked by git carries an SPDX license line (LICENSE:
# Apache-2.0) in its first three lines.
#
#   scripts/lint/spdx.sh          # check: names each file without one, exit 1
#   scripts/lint/spdx.sh --fix    # add the line: first line, or after a #! line
#
# Sources: C/C++ and JavaScript (//), Lua (--), CMake, shell, Perl, Python and
# Makefiles (#).
# Documentation, configuration examples and test data are not sources.
set -euo pipefail
cd "$(dirname "$0")/../.."
tag='SPDX-License-Identifier: Apache-2.0'
fix=0
[[ ${1:-} == --fix ]] && fix=1

missing=()
while IFS= read -r -d '' f; do
    case $f in
        *.cpp | *.h | *.c | *.h.in) comment="// $tag" ;;
        *.js | *.mjs) comment="// $tag" ;;
        *.lua) comment="-- $tag" ;;
        *CMakeLists.txt | *.cmake | *.sh | *.pl | *.pm | *.t | *.py | Makefile | .ci/run | scripts/t-asan-suite | module/config) comment="# $tag" ;;
        *) continue ;;
    esac
    head -n 3 "$f" | grep -q 'SPDX-License-Identifier:' && continue
    if ((fix)); then
        if head -n 1 "$f" | grep -q '^#!'; then
            sed -i "1a $comment" "$f"
        else
            sed -i "1i $comment" "$f"
        fi
    else
        missing+=("$f")
    fi
done < <(git ls-files -z -- '*.cpp' '*.h' '*.c' '*.h.in' '*.js' '*.mjs' '*.lua' '*CMakeLists.txt' '*.cmake' '*.sh' '*.pl' '*.pm' '*.t' '*.py' \
             Makefile .ci/run scripts/t-asan-suite module/config \
             ':!:*/corpus/*' ':!:*/testdata/*' ':!:*/tests/data/*')

if ((${#missing[@]})); then
    printf 'spdx: no "%s" line in the first three lines of:\n' "$tag" >&2
    printf '  %s\n' "${missing[@]}" >&2
    echo "spdx: run scripts/lint/spdx.sh --fix" >&2
    exit 1
fi
