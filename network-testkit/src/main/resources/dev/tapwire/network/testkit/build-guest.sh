#!/bin/sh
# Builds the test guest from Debian packages only: a Debian cloud kernel (downloaded with apt-get download and
# unpacked with dpkg -x, never installed) and a busybox-static initramfs whose init loads the virtio-net
# modules, takes a DHCP lease on eth0 and then runs a shell on the serial console for the test to drive.
# Usage: build-guest.sh OUT_DIR   (writes OUT_DIR/vmlinuz and OUT_DIR/initrd.img)
set -eu
out=$1
mkdir -p "$out"
out=$(cd "$out" && pwd)
[ -s "$out/vmlinuz" ] && [ -s "$out/initrd.img" ] && exit 0
busybox=/bin/busybox
if ! [ -x "$busybox" ] || ! file -L "$busybox" 2>/dev/null | grep -q 'statically linked'; then
  # file(1) may be absent: fall back to asking the loader
  if ldd "$busybox" >/dev/null 2>&1; then
    echo "needs a static busybox at $busybox (Debian package busybox-static)" >&2
    exit 2
  fi
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
image=$(apt-cache depends linux-image-cloud-amd64 | awk '/Depends: linux-image-/ {print $2; exit}')
[ -n "$image" ] || { echo "apt-cache knows no linux-image-cloud-amd64 (run apt-get update)" >&2; exit 2; }
(cd "$work" && apt-get download -q "$image" >/dev/null 2>&1 || apt-get download "$image")
dpkg -x "$work"/linux-image-*.deb "$work/kernel"
release=$(ls "$work/kernel/lib/modules")
root=$work/initramfs
mkdir -p "$root/bin" "$root/sbin" "$root/etc" "$root/proc" "$root/sys" "$root/dev" "$root/tmp" "$root/lib/modules" \
  "$root/usr/bin" "$root/usr/sbin" "$root/root"
cp "$busybox" "$root/bin/busybox"
for m in virtio virtio_ring virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci failover net_failover virtio_net; do
  find "$work/kernel/lib/modules/$release" -name "$m.ko" -exec cp {} "$root/lib/modules/" \;
  [ -s "$root/lib/modules/$m.ko" ] || { echo "module $m.ko is missing from $image" >&2; exit 2; }
done
cat > "$root/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in virtio virtio_ring virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci failover net_failover virtio_net; do
  insmod /lib/modules/$m.ko
done
ip link set lo up
ip link set eth0 up
# tw.clientid=HEX on the kernel command line sends that DHCP client identifier (option 61), as cloned images do
cid=$(sed -n 's/.*tw\.clientid=\([0-9a-fA-F]*\).*/\1/p' /proc/cmdline)
udhcpc -i eth0 -s /etc/udhcpc.sh -O search -O domain -t 30 -T 1 -n -q ${cid:+-x 0x3d:$cid} || echo "TAPWIRE-NO-LEASE"
echo "TAPWIRE-READY"
exec sh
INIT
cat > "$root/etc/udhcpc.sh" <<'SCRIPT'
#!/bin/sh
case "$1" in
  bound|renew)
    ip addr flush dev "$interface"
    ip addr add "$ip/$mask" dev "$interface"
    for r in $router; do ip route add default via "$r" dev "$interface"; break; done
    : > /etc/resolv.conf
    [ -n "${search:-}" ] && echo "search $search" >> /etc/resolv.conf
    for d in $dns; do echo "nameserver $d" >> /etc/resolv.conf; done
    echo "TAPWIRE-LEASE ip=$ip/$mask router=$router dns=$dns domain=${domain:-} search=${search:-}"
    ;;
esac
SCRIPT
chmod +x "$root/init" "$root/etc/udhcpc.sh"
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1 > "$work/initrd.img")
cp "$work/kernel/boot/vmlinuz-$release" "$out/vmlinuz.tmp"
mv "$work/initrd.img" "$out/initrd.img"
mv "$out/vmlinuz.tmp" "$out/vmlinuz"
echo "guest: $image ($release) with $(basename "$busybox") from busybox-static in $out"
