# Shared by the hookctl tests: sourced by each test-*.sh. Needs HOOKCTL (the binary) and SRCDIR (this
# directory); meson's test() passes both. HOOKCTL_UPDATE_GOLDEN=1 rewrites the golden files instead of
# comparing (review the diff before committing it).
set -eu

: "${HOOKCTL:?HOOKCTL must name the hookctl binary}"
: "${SRCDIR:?SRCDIR must name tests/hookctl}"
GOLDEN=$SRCDIR/golden
DATA=$SRCDIR/data

T=$(mktemp -d "${TMPDIR:-/tmp}/hookctl-test.XXXXXX")
trap 'rm -rf "$T"' EXIT
export HOOKD_CONF_DIR=$T/conf
export HOOKD_SOCKET=$T/no-daemon.sock
export NO_COLOR=1
unset VISUAL EDITOR
mkdir -p "$HOOKD_CONF_DIR"

failures=0
fail() {
	echo "FAIL: $*" >&2
	failures=$((failures + 1))
}
step() {
	echo "--- $*"
}

# Run hookctl; stdout -> $T/out, stderr -> $T/err, exit status -> $rc. Never aborts the script.
hc() {
	rc=0
	"$HOOKCTL" "$@" >"$T/out" 2>"$T/err" || rc=$?
}

expect_rc() {
	if [ "$rc" != "$1" ]; then
		fail "$2: exit status $rc, expected $1"
		sed 's/^/  stderr: /' "$T/err" >&2
	fi
}

# Compare a file with golden/NAME exactly.
golden() {
	local name=$1 file=$2
	if [ "${HOOKCTL_UPDATE_GOLDEN:-}" = 1 ]; then
		cp "$file" "$GOLDEN/$name"
		return 0
	fi
	if ! diff -u "$GOLDEN/$name" "$file" >&2; then
		fail "output differs from golden/$name"
	fi
}

expect_grep() {
	if ! grep -q -- "$1" "$2"; then
		fail "'$1' not in $3"
		sed 's/^/  | /' "$2" >&2
	fi
}

# The fixture paths in messages would differ per run: replace them with placeholders.
scrub() {
	sed -e "s|$T|\$T|g" -e "s|$SRCDIR|\$SRCDIR|g" "$1"
}

finish() {
	if [ "$failures" -gt 0 ]; then
		echo "$failures failure(s)" >&2
		exit 1
	fi
	echo "all passed"
}

# A real hookd on a private socket, configuration and run directory, with an empty fixture sysfs.
# Needs HOOKD (the daemon binary). Its log is $T/hookd.log.
start_hookd() {
	: "${HOOKD:?HOOKD must name the hookd binary}"
	mkdir -p "$T/run" "$T/sys" "${HOOKCTL_PROC_ROOT:-$T/proc}"
	export HOOKD_SOCKET=$T/hookd.sock
	# hookd reads the same fixture /proc as hookctl (holders, mounts), never this machine's.
	"$HOOKD" --conf-dir "$HOOKD_CONF_DIR" --run-dir "$T/run" --sysfs-root "${HOOKD_SYSFS:-$T/sys}" \
		--proc-root "${HOOKCTL_PROC_ROOT:-$T/proc}" --socket "$HOOKD_SOCKET" >"$T/hookd.log" 2>&1 &
	hookd_pid=$!
	trap 'kill "$hookd_pid" 2>/dev/null || true; wait "$hookd_pid" 2>/dev/null || true; rm -rf "$T"' EXIT
	# Up to 60 s: an ASan hookd on a loaded CI machine starts slowly; a hookd that dies ends the wait.
	for _ in $(seq 1200); do
		[ -S "$HOOKD_SOCKET" ] && return 0
		kill -0 "$hookd_pid" 2>/dev/null || break
		sleep 0.05
	done
	cat "$T/hookd.log" >&2
	echo "hookd did not start" >&2
	exit 1
}

stop_hookd() {
	kill "$hookd_pid" 2>/dev/null || true
	wait "$hookd_pid" 2>/dev/null || true
	export HOOKD_SOCKET=$T/no-daemon.sock
}
