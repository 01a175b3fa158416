#!/usr/bin/env bash
# Runs the style gate (deno fmt --check, deno lint, deno check), then every test, as root, on a Debian machine. Installs what the tests need when it is missing:
# deno (from npm, into .tools/), and Debian's etcd-server, containernetworking-plugins, iproute2,
# openssl, chromium, graphviz, iputils-ping, time, curl, util-linux (mount, nsenter), sqlite3 (the store tests
# read and edit the embedded store with it, as README tells people to), and for the CRI tests containerd,
# runc, xz-utils and gcc + libc6-dev (unless busybox-static is there). Extra arguments go to `deno test`
# (e.g. a single file).
# The last line is "N passed, N failed", which CI reads.
set -uo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v etcd >/dev/null || missing+=(etcd-server)
[ -x /usr/lib/cni/bridge ] || missing+=(containernetworking-plugins)
command -v ip >/dev/null || missing+=(iproute2)
command -v openssl >/dev/null || missing+=(openssl)
command -v chromium >/dev/null || missing+=(chromium)
command -v dot >/dev/null || missing+=(graphviz)
command -v ping >/dev/null || missing+=(iputils-ping)
[ -x /usr/bin/time ] || missing+=(time)
command -v curl >/dev/null || missing+=(curl)
command -v nsenter >/dev/null || missing+=(util-linux)
command -v sqlite3 >/dev/null || missing+=(sqlite3)
# The Kubernetes path (tests/cri_test.ts): containerd's CRI plugin, runc, and a static pause binary.
command -v containerd >/dev/null || missing+=(containerd)
command -v runc >/dev/null || missing+=(runc)
command -v xz >/dev/null || missing+=(xz-utils)
if ! { [ -x /bin/busybox ] && ! ldd /bin/busybox >/dev/null 2>&1; }; then # no busybox-static
  command -v gcc >/dev/null || missing+=(gcc)
  compgen -G '/usr/lib/*/libc.a' >/dev/null || missing+=(libc6-dev)
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing ${missing[*]}" >&2
  apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null \
    || { echo "could not install ${missing[*]}" >&2; echo "0 passed, 1 failed"; exit 1; }
fi

deno=$(command -v deno || true)
if [ -z "$deno" ]; then
  deno=$PWD/.tools/node_modules/.bin/deno
  if [ ! -x "$deno" ]; then
    echo "installing deno from npm into .tools/" >&2
    npm install --silent --prefix .tools deno@2 >/dev/null || { echo "could not install deno" >&2; echo "0 passed, 1 failed"; exit 1; }
  fi
fi

# The style gate first: formatting, lint and a type check of every entry point. Each that fails is a
# failure line of its own, so CI keeps them as binding as a test.
style_failures=0
check_style() { # NAME CMD...
  local name=$1 out
  shift
  if ! out=$("$@" 2>&1); then
    echo "style: $name failed:" >&2
    echo "$out" | tail -n 30 >&2
    style_failures=$((style_failures + 1))
  fi
}
check_style "deno fmt --check" "$deno" fmt --check
check_style "deno lint" "$deno" lint
check_style "deno check" "$deno" check main.ts 'bench/*.ts' 'mod/dev/*.ts' dsl/lint_main.ts 'tests/**/*.ts'

mkdir -p tests/artifacts
junit=tests/artifacts/junit.xml
rm -f "$junit"
netns_before=$(ip netns list | awk '{print $1}' | sort)
"$deno" test -A --junit-path="$junit" "$@"
status=$?

# deno's own summary is not a line CI reads; count from the JUnit report instead.
tests=0 failures=0
if [ -f "$junit" ]; then
  root=$(grep -m1 -o '<testsuites [^>]*>' "$junit")
  tests=$(sed -n 's/.* tests="\([0-9]*\)".*/\1/p' <<<"$root")
  failures=$(( $(sed -n 's/.* failures="\([0-9]*\)".*/\1/p' <<<"$root") + $(sed -n 's/.* errors="\([0-9]*\)".*/\1/p' <<<"$root") ))
elif [ $status -ne 0 ]; then
  failures=1 # deno test failed before running anything (a type error, say)
fi

# An ignored test (it cannot run here; its name says why) is neither a pass nor a failure.
ignored=0
[ -f "$junit" ] && ignored=$(grep -c '<skipped/>' "$junit")
if [ "$ignored" -gt 0 ]; then
  echo "$ignored ignored:" >&2
  grep -B1 '<skipped/>' "$junit" | sed -n 's/.*<testcase name="\([^"]*\)".*/  \1/p' >&2
fi
tests=$((tests - ignored))

tests=$((tests + style_failures))
failures=$((failures + style_failures))
[ $style_failures -gt 0 ] && [ $status -eq 0 ] && status=1

# A test that leaves a namespace behind has a cleanup bug; count it as a failure.
leaked=$(comm -13 <(echo "$netns_before") <(ip netns list | awk '{print $1}' | sort) | tr '\n' ' ')
if [ -n "${leaked// /}" ]; then
  echo "network namespaces left behind by the tests: $leaked" >&2
  failures=$((failures + 1))
  tests=$((tests + 1))
  [ $status -eq 0 ] && status=1
fi

echo "$((tests - failures)) passed, $failures failed"
exit $status
