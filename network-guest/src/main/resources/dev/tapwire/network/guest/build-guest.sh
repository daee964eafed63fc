#!/bin/sh
# Builds the test guest from Debian packages only: a Debian cloud kernel (downloaded with apt-get download and
# unpacked with dpkg -x, never installed) and a busybox-static initramfs whose init loads the virtio-net
# modules, takes a DHCP lease on eth0 and then runs a shell on the serial console for the test to drive.
# The modules and their load order come from the modules' own dependencies: kmod's depmod reads them from the
# unpacked package and modprobe --show-depends lists them, dependencies first. Compressed modules (.ko.xz,
# .ko.zst, .ko.gz) are unpacked on the host, so the guest's busybox insmod only ever sees plain ELF modules.
# Usage: build-guest.sh OUT_DIR PACKAGE VERSION [DEB]   (writes OUT_DIR/vmlinuz and OUT_DIR/initrd.img; with DEB,
# that package file instead of apt-get download)
set -eu
export PATH="$PATH:/usr/sbin:/sbin"
out=$1
package=$2
version=$3
deb=${4:-}
mkdir -p "$out"
out=$(cd "$out" && pwd)
busybox=/bin/busybox
if ! [ -x "$busybox" ] || ldd "$busybox" >/dev/null 2>&1; then
  echo "needs a static busybox at $busybox (Debian package busybox-static)" >&2
  exit 2
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [ -n "$deb" ]; then
  cp "$deb" "$work/kernel.deb"
else
  (cd "$work" && { apt-get download -q "$package=$version" >/dev/null 2>&1 || apt-get download "$package=$version"; })
fi
dpkg -x "$work"/*.deb "$work/kernel"
release=$(ls "$work/kernel/lib/modules")
root=$work/initramfs
mkdir -p "$root/bin" "$root/sbin" "$root/etc" "$root/proc" "$root/sys" "$root/dev" "$root/tmp" "$root/lib/modules" \
  "$root/usr/bin" "$root/usr/sbin" "$root/root"
cp "$busybox" "$root/bin/busybox"

# the package ships no modules.dep: depmod derives it from the modules themselves
depmod -b "$work/kernel" "$release"
# virtio_net drives the NIC, virtio_pci is the transport QEMU's virtio-net-pci device sits on
modprobe -d "$work/kernel" -S "$release" --show-depends -a virtio_net virtio_pci > "$work/depends" \
  || { echo "$package $version has no virtio_net or virtio_pci module" >&2; exit 2; }
: > "$root/lib/modules/load-order"
# unpack TOOL DEBIAN_PACKAGE MODULE NAME: a compressed module, as plain ELF for the guest's insmod
unpack() {
  command -v "$1" >/dev/null 2>&1 || { echo "module $(basename "$3") is compressed: needs $1 (Debian package $2)" >&2; exit 2; }
  "$1" -dc "$3" > "$root/lib/modules/$4"
}
awk '$1 == "insmod" && !seen[$2]++ { print $2 }' "$work/depends" | while read -r module; do
  name=$(basename "$module")
  case "$name" in
    *.ko) cp "$module" "$root/lib/modules/$name" ;;
    *.ko.xz) name=${name%.xz}; unpack xz xz-utils "$module" "$name" ;;
    *.ko.zst) name=${name%.zst}; unpack zstd zstd "$module" "$name" ;;
    *.ko.gz) name=${name%.gz}; unpack gzip gzip "$module" "$name" ;;
    *) echo "module $module of $package has an unknown format" >&2; exit 2 ;;
  esac
  echo "$name" >> "$root/lib/modules/load-order"
done
grep -q '^virtio_net\.ko$' "$root/lib/modules/load-order" || grep -q '^builtin virtio_net$' "$work/depends" \
  || { echo "modprobe listed no virtio_net module for $package $version" >&2; exit 2; }

cat > "$root/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
# A guest that cannot drive its NIC or get a lease says so at once, on a line of its own that starts with
# TAPWIRE-NO-DRIVER or TAPWIRE-NO-LEASE: the host reports it without waiting for a lease that cannot come.
failed=
while read -r m; do
  if ! err=$(insmod "/lib/modules/$m" 2>&1); then
    echo "TAPWIRE-NO-DRIVER insmod $m failed: $err"
    failed=1
    break
  fi
done < /lib/modules/load-order
if [ -z "$failed" ]; then
  i=0
  while ! [ -e /sys/class/net/eth0 ] && [ "$i" -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
  if ! [ -e /sys/class/net/eth0 ]; then
    echo "TAPWIRE-NO-DRIVER no eth0 5 s after loading $(tr '\n' ' ' < /lib/modules/load-order)"
    failed=1
  fi
fi
ip link set lo up
if [ -z "$failed" ]; then
  ip link set eth0 up
  # tw.clientid=HEX on the kernel command line sends that DHCP client identifier (option 61), as cloned images do
  cid=$(sed -n 's/.*tw\.clientid=\([0-9a-fA-F]*\).*/\1/p' /proc/cmdline)
  udhcpc -i eth0 -s /etc/udhcpc.sh -O search -O domain -O mtu -t 15 -T 1 -n -q ${cid:+-x 0x3d:$cid} \
    || echo "TAPWIRE-NO-LEASE no DHCP offer on eth0 within 15 s"
fi
echo "TAPWIRE-READY"
exec sh
INIT
cat > "$root/etc/udhcpc.sh" <<'SCRIPT'
#!/bin/sh
case "$1" in
  bound|renew)
    # the network's MTU (option 26; udhcpc asks for it with -O mtu, and dnsmasq sends it anyway)
    [ -n "${mtu:-}" ] && ip link set dev "$interface" mtu "$mtu"
    ip addr flush dev "$interface"
    ip addr add "$ip/$mask" dev "$interface"
    for r in $router; do ip route add default via "$r" dev "$interface"; break; done
    : > /etc/resolv.conf
    [ -n "${search:-}" ] && echo "search $search" >> /etc/resolv.conf
    for d in $dns; do echo "nameserver $d" >> /etc/resolv.conf; done
    echo "TAPWIRE-LEASE ip=$ip/$mask router=$router dns=$dns domain=${domain:-} search=${search:-} mtu=${mtu:-}"
    ;;
esac
SCRIPT
chmod +x "$root/init" "$root/etc/udhcpc.sh"
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1 > "$work/initrd.img")
cp "$work/kernel/boot/vmlinuz-$release" "$out/vmlinuz.tmp"
mv "$work/initrd.img" "$out/initrd.img"
mv "$out/vmlinuz.tmp" "$out/vmlinuz"
echo "guest: $package $version ($release), modules $(tr '\n' ' ' < "$root/lib/modules/load-order")in $out"
