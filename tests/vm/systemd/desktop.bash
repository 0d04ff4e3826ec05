# shellcheck shell=bash
# The single-GPU desktop in the systemd guest (issue 12), for the scenarios that need it: sourced after
# systemd/lib.bash, INSIDE that guest only. The guest GPU ($GPU_VGA + $GPU_AUDIO) is the desktop's only
# display; these set up what holds it on such a host, from tests/vm/systemd/desktop/:
#   weston.service (alias display-manager.service)  weston, DRM backend, pixman, on the GPU's card, VT 7
#   sound-server.service                            a sound server's stand-in holding the audio's ALSA nodes
#   gpu-persistenced.service                        installed, never started (a unit a VM file may list
#                                                   that is not running: hookd must not start it)
#   gpu-poller                                      user alice's process in her wayland login session on
#                                                   seat0 (made by su through pam_systemd), polling the card
# Nothing of it is there at boot (the other scenarios move the GPU without freeing it).
#
#   desktop_setup                  install, enable and start all three; wait until each holds its nodes
#   desktop_teardown               stop and remove them all, user alice too (/etc/passwd, /etc/group as before)
#   desktop_card                   the DRM card of $GPU_VGA (card0, ...)
#   main_pid UNIT                  the unit's MainPID (0: none)
#   poller_pid                     the pid of alice's gpu-poller (empty: none)
#   alice_sessions                 alice's logind session ids, one a line
#   assert_holds PID NODE...       the process holds each /dev NODE open
#   assert_desktop_up              weston.service and sound-server.service active, holding the card and the
#                                  ALSA nodes again

DESKTOP_SRC=$HOOKD_SRC/tests/vm/systemd/desktop
DESKTOP_USER=alice
DESKTOP_UP=

# A scenario that fails with the desktop up must not leave it (70-purge compares the accounts, and the
# scenarios after it move the GPU without freeing it): lib.bash's cleanup, then the desktop's.
_desktop_exit() {
	local rc=$?
	_sd_cleanup || true
	[[ -z "$DESKTOP_UP" ]] || (desktop_teardown) || true
	exit "$rc"
}
trap _desktop_exit EXIT

desktop_card() {
	local c card=
	for c in "$SYSFS_PCI/$GPU_VGA/drm/card"*; do
		[[ -e "$c" ]] && card=${c##*/}
	done
	echo "$card"
}

main_pid() {
	systemctl show -P MainPID "$1"
}

poller_pid() {
	pgrep -x -u "$DESKTOP_USER" gpu-poller || true
}

alice_sessions() {
	loginctl list-sessions --no-legend 2>/dev/null | awk -v u="$DESKTOP_USER" '$3 == u { print $1 }'
}

assert_holds() {
	local pid=$1 node fds
	shift
	fds=$(ls -l "/proc/$pid/fd" 2>/dev/null) || fail "no process $pid"
	for node in "$@"; do
		grep -Eq -- "-> $node\$" <<<"$fds" || fail "pid $pid ($(cat "/proc/$pid/comm")) does not hold $node"
	done
	echo "ok: pid $pid ($(cat "/proc/$pid/comm")) holds $*"
}

# The ALSA nodes of $GPU_AUDIO's card, as /dev paths.
audio_nodes() {
	local c n
	for c in "$SYSFS_PCI/$GPU_AUDIO/sound/card"*; do
		for n in "$c"/controlC* "$c"/pcmC*; do
			[[ -e "$n" ]] && echo "/dev/snd/${n##*/}"
		done
	done
}

assert_desktop_up() {
	local card
	card=$(desktop_card)
	[[ -n "$card" ]] || fail "$GPU_VGA has no DRM card"
	wait_unit weston.service active 120
	assert_holds "$(main_pid weston.service)" "/dev/dri/$card"
	wait_unit sound-server.service active 60
	# shellcheck disable=SC2046 # one word per node
	assert_holds "$(main_pid sound-server.service)" $(audio_nodes)
}

desktop_setup() {
	local card end t0
	DESKTOP_UP=1
	sha256sum /etc/passwd /etc/group >"$TESTBED_STATE/accounts-before-desktop"
	printf 'GPU_VGA=%s\nGPU_AUDIO=%s\n' "$GPU_VGA" "$GPU_AUDIO" >/etc/default/testbed-desktop
	install -m 0644 "$DESKTOP_SRC/weston.service" "$DESKTOP_SRC/sound-server.service" \
		"$DESKTOP_SRC/gpu-persistenced.service" /etc/systemd/system/
	install -m 0755 "$DESKTOP_SRC/weston-dm" "$DESKTOP_SRC/sound-server" "$DESKTOP_SRC/gpu-poller" /usr/local/bin/
	systemctl daemon-reload
	systemctl enable weston.service sound-server.service
	[[ "$(systemctl show -P Id display-manager.service)" == weston.service ]] ||
		fail "display-manager.service is not weston.service's alias"
	t0=$EPOCHREALTIME
	systemctl start weston.service sound-server.service
	assert_desktop_up
	echo "weston and the sound server up in $(((${EPOCHREALTIME/./} - ${t0/./}) / 1000)) ms"

	t0=$EPOCHREALTIME
	useradd -m -G video,audio -s /bin/bash "$DESKTOP_USER"
	card=$(desktop_card)
	# su opens a PAM session: pam_systemd makes it a logind session of alice, of the type and on the seat and
	# VT these variables say (a display manager's greeter passes the same ones).
	XDG_SESSION_TYPE=wayland XDG_SEAT=seat0 XDG_VTNR=7 setsid su -l "$DESKTOP_USER" \
		-c "exec /usr/local/bin/gpu-poller /dev/dri/$card" </dev/null >>"$HOOKD_RESULTS/gpu-poller.log" 2>&1 &
	end=$((SECONDS + 60))
	until [[ -n "$(poller_pid)" ]] && grep -qs "/dev/dri/$card" <(ls -l "/proc/$(poller_pid)/fd" 2>/dev/null); do
		((SECONDS < end)) || fail "alice's gpu-poller did not start: $(cat "$HOOKD_RESULTS/gpu-poller.log")"
		nap 0.2
	done
	assert_holds "$(poller_pid)" "/dev/dri/$card"
	echo "alice's session and poller up in $(((${EPOCHREALTIME/./} - ${t0/./}) / 1000)) ms"
	loginctl list-sessions --no-legend
	[[ -n "$(alice_sessions)" ]] || fail "alice has no login session"
	local s
	s=$(alice_sessions | head -n 1)
	loginctl show-session "$s" -p Type -p Seat -p VTNr -p Scope
	[[ "$(loginctl show-session "$s" -P Type)" == wayland ]] || fail "alice's session $s is not of type wayland"
	grep -q "/session-$s.scope\$" "/proc/$(poller_pid)/cgroup" || fail "the poller is not in session-$s.scope"
}

desktop_teardown() {
	local end
	if id "$DESKTOP_USER" >/dev/null 2>&1; then
		loginctl terminate-user "$DESKTOP_USER" 2>/dev/null || true
		end=$((SECONDS + 60))
		while loginctl show-user "$DESKTOP_USER" >/dev/null 2>&1 && ((SECONDS < end)); do
			nap 0.5
		done
		userdel -r "$DESKTOP_USER" 2>&1 | grep -v 'mail spool' || true
	fi
	systemctl disable --now weston.service sound-server.service 2>/dev/null || true
	rm -f /etc/systemd/system/weston.service /etc/systemd/system/sound-server.service \
		/etc/systemd/system/gpu-persistenced.service /etc/default/testbed-desktop \
		/usr/local/bin/weston-dm /usr/local/bin/sound-server /usr/local/bin/gpu-poller
	systemctl daemon-reload
	if [[ -s "$TESTBED_STATE/accounts-before-desktop" ]]; then
		sha256sum -c --quiet "$TESTBED_STATE/accounts-before-desktop" ||
			fail "/etc/passwd or /etc/group differ from before the desktop's user was added"
	fi
	DESKTOP_UP=
}
