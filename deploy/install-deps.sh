#!/bin/sh
# Install the Debian 12 packages flowfleet needs to build, test and demo.
# Run as root (make test / make demo call it); does nothing when all are in.
set -eu

PKGS="gcc make clang libclang-rt-14-dev pkg-config libc6-dev
libuv1-dev libmbedtls-dev liblmdb-dev libmsgpack-dev libsodium-dev
libcmocka-dev libpcap-dev libzstd-dev
python3 python3-scapy tshark nfdump softflowd pmacct
iproute2 procps"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
	    grep -q 'install ok installed'; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: missing Debian packages:$missing" >&2
	echo "install-deps: run as root, or: sudo apt-get install$missing" >&2
	exit 1
fi
echo "install-deps: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
# wireshark-common asks whether non-root users may capture; answer no.
echo "wireshark-common wireshark-common/install-setuid boolean false" |
	debconf-set-selections 2>/dev/null || true
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing
