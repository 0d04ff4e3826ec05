#!/bin/bash
# hookctl edit driven by $EDITOR scripts: a valid edit is installed and hookd (real, on a private socket)
# reloads; an invalid one is shown with line numbers and the real "Edit again?" prompt is answered through a
# pty (script(1)); an aborted or unchanged edit writes nothing.
. "$SRCDIR/lib.sh"
command -v script >/dev/null || { echo "script(1) from util-linux is missing"; exit 77; }
command -v setsid >/dev/null || { echo "setsid(1) from util-linux is missing"; exit 77; }
VMS=$HOOKD_CONF_DIR/vms
start_hookd

# An editor that does what $T/plan.N says on its Nth run (N counted in $T/runs) and keeps what it was given.
cat >"$T/editor" <<'EOS'
#!/bin/bash
set -eu
n=$(( $(cat "$EDIT_DIR/runs" 2>/dev/null || echo 0) + 1 ))
echo "$n" >"$EDIT_DIR/runs"
cp "$1" "$EDIT_DIR/seen.$n"
case "$1" in *.ini) ;; *) echo "not an .ini temp file: $1" >&2; exit 9 ;; esac
. "$EDIT_DIR/plan.$n"
EOS
chmod +x "$T/editor"
export EDITOR="$T/editor" EDIT_DIR=$T
plan() { # plan N SHELL-CODE ($1 in the code is the file)
	echo "$2" >"$T/plan.$1"
}
reset_plans() {
	rm -f "$T"/plan.* "$T"/seen.* "$T/runs"
}
dump() { cat "$T/out" >&2; }
runs() {
	cat "$T/runs" 2>/dev/null || echo 0
}

step "a new VM: the template, then a valid file, installed and reloaded"
reset_plans
plan 1 'printf "[device.gpu]\naddress = 0000:0a:00.0\n" >"$1"'
hc edit win10
expect_rc 0 "edit new VM"
expect_grep "^#\[device.gpu\]" "$T/seen.1" "the template the editor got"
printf '[device.gpu]\naddress = 0000:0a:00.0\n' | cmp -s - "$VMS/win10.ini" || fail "installed file differs"
expect_grep "hookd reloaded its configuration" "$T/err" "stderr of edit"
expect_grep "configuration reloaded: 1 VMs" "$T/hookd.log" "hookd's log"
[ "$(stat -c %a "$VMS/win10.ini")" = 644 ] || fail "mode $(stat -c %a "$VMS/win10.ini")"

step "VISUAL wins over EDITOR, and the editor sees the current file"
reset_plans
plan 1 'sed -i "s/0a:00.0/0b:00.0/" "$1"'
VISUAL="$T/editor" EDITOR=false hc edit win10
expect_rc 0 "edit existing"
cmp -s "$T/seen.1" - <<<"$(printf '[device.gpu]\naddress = 0000:0a:00.0')" || fail "editor saw: $(cat "$T/seen.1")"
expect_grep "0000:0b:00.0" "$VMS/win10.ini" "installed file"

step "invalid, then fixed on the second run (prompt answered 'y' through a pty)"
reset_plans
cp "$VMS/win10.ini" "$T/before"
plan 1 'printf "[device.gpu]\naddress = 0000:0b:00.0\nwhole-grup = yes\n" >"$1"'
plan 2 'printf "[device.gpu]\naddress = 0000:0b:00.0\nwhole-group = yes\n" >"$1"'
rc=0
printf 'y\n' | script -qec "\"$HOOKCTL\" edit win10" "$T/typescript" >"$T/out" 2>&1 || rc=$?
expect_rc 0 "edit fixed on the second run"
expect_grep "vms/win10.ini:3: " "$T/out" "the pty"
expect_grep "Edit again? \[Y/n\]" "$T/out" "the pty"
[ "$(runs)" = 2 ] || fail "editor ran $(runs) times"
cmp -s "$T/seen.2" - <<<"$(printf '[device.gpu]\naddress = 0000:0b:00.0\nwhole-grup = yes')" ||
	fail "second run did not get the first run's text back"
expect_grep "^whole-group = yes" "$VMS/win10.ini" "installed file"

step "invalid, answered 'n': nothing written"
reset_plans
cp "$VMS/win10.ini" "$T/before"
plan 1 'echo "address = nonsense" >>"$1"'
rc=0
printf 'n\n' | script -qec "\"$HOOKCTL\" edit win10" "$T/typescript" >"$T/out" 2>&1 || rc=$?
expect_rc 1 "edit refused"
expect_grep "Edit again?" "$T/out" "the pty"
expect_grep "Nothing written" "$T/out" "the pty"
cmp -s "$VMS/win10.ini" "$T/before" || fail "a refused edit changed the file"

step "invalid without a terminal: fail, nothing written"
reset_plans
plan 1 'echo "[bogus]" >>"$1"'
rc=0
setsid -w "$HOOKCTL" edit win10 </dev/null >"$T/out" 2>"$T/err" || rc=$?
expect_rc 1 "edit without a terminal"
expect_grep "unknown section \[bogus\]" "$T/err" "stderr"
expect_grep "no terminal" "$T/err" "stderr"
[ "$(runs)" = 1 ] || fail "editor ran $(runs) times"
cmp -s "$VMS/win10.ini" "$T/before" || fail "the file changed"

step "editor fails: nothing written"
reset_plans
plan 1 'echo "[device.x]" >>"$1"; exit 3'
hc edit win10
expect_rc 1 "editor exit 3"
expect_grep "editor.*failed; nothing written" "$T/err" "stderr"
cmp -s "$VMS/win10.ini" "$T/before" || fail "the file changed"

step "editor leaves the file as it was: no changes, no reload"
reset_plans
plan 1 'true'
reloads=$(grep -c "configuration reloaded" "$T/hookd.log")
hc edit win10
expect_rc 0 "unchanged edit"
expect_grep "No changes" "$T/err" "stderr"
cmp -s "$VMS/win10.ini" "$T/before" || fail "the file changed"
[ "$(grep -c "configuration reloaded" "$T/hookd.log")" = "$reloads" ] || fail "an unchanged edit reloaded hookd"
ls "${TMPDIR:-/tmp}"/hookctl-win10-*.ini 2>/dev/null && fail "temporary files left behind"

step "daemon down: installed, and said so"
stop_hookd
reset_plans
plan 1 'sed -i "s/0b:00.0/0c:00.0/" "$1"'
hc edit win10
expect_rc 0 "edit with hookd down"
expect_grep "hookd is not running" "$T/err" "stderr"
expect_grep "0000:0c:00.0" "$VMS/win10.ini" "installed file"

step "bad VM names"
for bad in ../x a/b; do
	hc edit "$bad"
	expect_rc 1 "edit '$bad'"
	expect_grep "invalid VM name" "$T/err" "stderr"
done

finish
