#!/bin/sh
# test_install.sh - what "make install" puts in place for an operator, as
# TAP: the programs, the systemd units (checked by systemd-analyze verify
# when it is there), the logrotate file (checked by logrotate -d when it
# is there), neo.conf in the sysconfdir (never overwriting an operator's),
# the supervisor example and the manual pages.  It installs this build
# into a scratch DESTDIR.
top_builddir=${abs_top_builddir:-$(pwd)}
scratch=$(mktemp -d "${TMPDIR:-/tmp}/neo-test-install-XXXXXX")
trap 'rm -rf "$scratch"' EXIT
dest=$scratch/dest
n=0
failed=0

ok() {
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $n - $2"
	else
		echo "not ok $n - $2"
		failed=1
	fi
}

skip() {
	n=$((n + 1))
	echo "ok $n - $1 # SKIP $2"
}

# The value of a variable of the build's Makefile, expanded.
printf 'print-var:\n\t@echo $(%s)\n' '$(VAR)' >"$scratch/print.mk"
var() {
	MAKEFLAGS= ${MAKE:-make} -s --no-print-directory -C "$top_builddir" -f Makefile \
		-f "$scratch/print.mk" print-var VAR="$1"
}

install_into() {
	MAKEFLAGS= ${MAKE:-make} -C "$top_builddir" install DESTDIR="$1" >"$scratch/install.out" 2>&1
}

bindir=$(var bindir)
sysconfdir=$(var sysconfdir)
unitdir=$(var systemdsystemunitdir)
docdir=$(var docdir)
mandir=$(var mandir)

install_into "$dest"
ok $? "make install DESTDIR=... succeeds"
[ $failed -eq 0 ] || tail -n 20 "$scratch/install.out" | sed 's/^/# /'

missing=
for f in "$bindir/neomaster" "$bindir/neostorage" "$bindir/neoadmin" "$bindir/neoctl" \
	"$sysconfdir/neo/neo.conf" "$sysconfdir/logrotate.d/neo" \
	"$docdir/examples/supervisor.conf" "$docdir/examples/neo.conf"; do
	[ -e "$dest$f" ] || missing="$missing $f"
done
[ -z "$missing" ]
ok $? "programs, neo.conf, logrotate file and supervisor example installed${missing:+ (missing:$missing)}"

missing=
for p in neomaster neostorage neoadmin neoctl neosimple neomigrate neo-selftest; do
	[ -e "$dest$mandir/man1/$p.1" ] || missing="$missing $p.1"
done
[ -e "$dest$mandir/man5/neo.conf.5" ] || missing="$missing neo.conf.5"
[ -z "$missing" ]
ok $? "manual pages installed in $mandir${missing:+ (missing:$missing)}"

if [ -z "$unitdir" ]; then
	skip "systemd units installed" "configured --without-systemdsystemunitdir"
else
	missing=
	for u in neomaster@.service neostorage@.service neoadmin@.service neo.target; do
		[ -e "$dest$unitdir/$u" ] || missing="$missing $u"
	done
	[ -z "$missing" ]
	ok $? "systemd units installed in $unitdir${missing:+ (missing:$missing)}"
	grep -q "^ExecStart=$bindir/neostorage -f $sysconfdir/neo/neo.conf -s %i\$" \
		"$dest$unitdir/neostorage@.service"
	ok $? "neostorage@.service runs $bindir/neostorage -f $sysconfdir/neo/neo.conf -s %i"
fi

if [ -n "$unitdir" ] && command -v systemd-analyze >/dev/null 2>&1; then
	# verify reads the units in a scratch root that holds the install
	# (ExecStart must name a program there), our units where systemd
	# looks for them whatever the unit directory of this build (distcheck
	# has its own), and the system's targets and slices; instances of the
	# templates, as systemctl starts them.
	root=$scratch/root
	mkdir -p "$root/etc/systemd/system" "$root/lib/systemd/system"
	cp -R "$dest/." "$root/"
	cp "$dest$unitdir"/neo* "$root/etc/systemd/system/"
	for d in /lib/systemd/system /usr/lib/systemd/system; do
		[ -d "$d" ] && cp "$d"/*.target "$d"/*.slice "$root/lib/systemd/system/" 2>/dev/null
	done
	status=0
	for u in neomaster@master.service neostorage@storage1.service neoadmin@admin.service \
		neo.target; do
		(cd "$root/etc/systemd/system" && systemd-analyze verify --man=no --root="$root" "$u") \
			>"$scratch/verify.out" 2>&1 || status=1
		# verify reports some problems without failing: any line about
		# our units is one.
		grep -i "neo" "$scratch/verify.out" | sed 's/^/# /'
		grep -qi "neo" "$scratch/verify.out" && status=1
	done
	ok $status "systemd-analyze verify accepts the units"
else
	skip "systemd-analyze verify accepts the units" "no systemd-analyze or no units"
fi

if command -v logrotate >/dev/null 2>&1 || [ -x /usr/sbin/logrotate ]; then
	lr=$(command -v logrotate || echo /usr/sbin/logrotate)
	"$lr" -d -s "$scratch/logrotate.state" "$dest$sysconfdir/logrotate.d/neo" \
		>"$scratch/logrotate.out" 2>&1
	status=$?
	grep -qi "error" "$scratch/logrotate.out" && status=1
	grep -q 'pattern /var/log/neo/\*.log\|/var/log/neo/\*.log' "$scratch/logrotate.out" || status=1
	[ $status -eq 0 ] || sed 's/^/# /' "$scratch/logrotate.out"
	ok $status "logrotate -d parses the logrotate file"
else
	skip "logrotate -d parses the logrotate file" "no logrotate"
fi
grep -q 'systemctl kill .*--signal=SIGRTMIN+1 ' "$dest$sysconfdir/logrotate.d/neo"
status=$?
# systemctl parses the signal before it looks for a running systemd.
if [ $status -eq 0 ] && command -v systemctl >/dev/null 2>&1; then
	systemctl kill --kill-who=main --signal=SIGRTMIN+1 neo-test-none.service 2>&1 |
		grep -qi 'parse' && status=1
fi
ok $status "the logrotate file has the nodes reopen their logs with SIGRTMIN+1 (systemctl takes it)"

# An operator's neo.conf survives a reinstall and an uninstall.
echo "# edited" >>"$dest$sysconfdir/neo/neo.conf"
install_into "$dest"
tail -n 1 "$dest$sysconfdir/neo/neo.conf" | grep -q '^# edited$'
ok $? "make install keeps an edited neo.conf"
MAKEFLAGS= ${MAKE:-make} -C "$top_builddir" uninstall DESTDIR="$dest" >"$scratch/uninstall.out" 2>&1
[ -e "$dest$sysconfdir/neo/neo.conf" ] && [ ! -e "$dest$sysconfdir/logrotate.d/neo" ] &&
	[ ! -e "$dest$mandir/man1/neoadmin.1" ]
ok $? "make uninstall removes what it installed but the edited neo.conf"

echo "1..$n"
exit $failed
