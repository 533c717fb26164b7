#!/usr/bin/env bash
# Install what vigil needs to build, run its demo and run its whole test suite
# on Debian 12. Run as root. Starts no system service: a temporary
# policy-rc.d keeps the packages' services (nginx, postfix, dovecot, haproxy,
# keepalived) stopped; the tests start their own instances.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

if [ "$(id -u)" != 0 ]; then
	echo "scripts/deps.sh: run as root (apt-get install)" >&2
	exit 1
fi

PKGS=(
	# build
	build-essential pkg-config clang
	# make fuzz: libFuzzer's runtime (only recommended by clang, not pulled in
	# with --no-install-recommends)
	libclang-rt-14-dev
	libev-dev libnl-3-dev libnl-route-3-dev libssl-dev libyaml-dev libcap-dev libcmocka-dev libsystemd-dev
	# package, man pages and the unit (make deb, make man, tests/integration/test_package.py)
	debhelper dpkg-dev lintian groff-base man-db systemd git
	# tests
	python3 python3-pytest valgrind iproute2 libcap2-bin procps openssl curl netcat-openbsd
	nginx-light postfix dovecot-imapd dovecot-pop3d vsftpd
	# the dashboard test (headless browser, driven over WebDriver)
	chromium chromium-driver fonts-dejavu-core
	# benchmarks
	haproxy wrk iperf3 keepalived stress-ng
)

guard=/usr/sbin/policy-rc.d
made_guard=0
if [ ! -e "$guard" ]; then
	printf '#!/bin/sh\nexit 101\n' > "$guard"
	chmod 755 "$guard"
	made_guard=1
fi
cleanup() { if [ "$made_guard" = 1 ]; then rm -f "$guard"; fi; }
trap cleanup EXIT

echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
echo "postfix postfix/mailname string vigil.test" | debconf-set-selections

missing=()
for p in "${PKGS[@]}"; do
	case "$p" in \#*) continue ;; esac
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
	echo "scripts/deps.sh: installing ${missing[*]}"
	apt-get update -q
	apt-get install -y -q --no-install-recommends "${missing[@]}"
else
	echo "scripts/deps.sh: everything is installed"
fi
