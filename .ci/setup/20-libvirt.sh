#!/usr/bin/env bash
# libvirt driver tests: libvirt.so.0 for the test:///default kit, libvirtd + QEMU for the real guest and the reconnect
# test, a tiny guest (Debian's cloud kernel + a busybox initramfs), and the C reference benchmark.
# Idempotent: packages, user, daemons and guest assets are only made when missing.
set -euo pipefail
cd "$(dirname "$0")/../.."
source .ci/lib.sh

ci_dir=/var/lib/hypervisors-ci
guest_dir=$ci_dir/guest
marker=HYPERVISORS-CI-GUEST-BOOTED

need_packages libvirt0 libvirt-clients libvirt-dev libvirt-daemon libvirt-daemon-driver-qemu \
  qemu-system-x86 qemu-utils busybox-static cpio gcc libc6-dev

# libvirtd's QEMU driver runs guests as libvirt-qemu and refuses to start without that user.
id libvirt-qemu >/dev/null 2>&1 || useradd -r -M -s /usr/sbin/nologin libvirt-qemu
mkdir -p /var/log/libvirt /var/run/libvirt "$guest_dir" "$ci_dir/instances"
chmod 755 "$ci_dir" "$guest_dir" "$ci_dir/instances"

# Guests run as root: where /dev/kvm exists but only root may open it, libvirt (probing as root, then checking
# access as libvirt-qemu) finds its QEMU capabilities outdated on every call and re-probes QEMU each time, which
# makes every define and host query take seconds. The tests use software emulation, not KVM, either way.
restart=0
if ! grep -qE '^user = "root"' /etc/libvirt/qemu.conf; then
  printf '\n# Hypervisors CI: run guests as root (see .ci/setup/20-libvirt.sh).\nuser = "root"\ngroup = "root"\n' >> /etc/libvirt/qemu.conf
  restart=1
fi

# virtlogd first: starting a domain fails without its socket.
pidof virtlogd >/dev/null || { log "starting virtlogd"; virtlogd -d; }
if [ "$restart" = 1 ] && pidof libvirtd >/dev/null; then
  log "restarting libvirtd for the new qemu.conf"
  kill "$(cat /var/run/libvirtd.pid)"
  for _ in $(seq 1 40); do pidof libvirtd >/dev/null || break; sleep 0.25; done
fi
pidof libvirtd >/dev/null || { log "starting libvirtd"; libvirtd -d; }
for _ in $(seq 1 60); do
  virsh -c qemu:///system list >/dev/null 2>&1 && break
  sleep 0.5
done
virsh -c qemu:///system list >/dev/null

# The guest: a kernel that boots in seconds under software emulation, and an init that prints the marker on the
# serial console at every boot, then idles until it is powered off or reset.
if [ ! -s "$guest_dir/vmlinuz" ] || [ ! -s "$guest_dir/initramfs.gz" ] || ! grep -q "$marker" "$guest_dir/marker" 2>/dev/null; then
  log "building the CI guest in $guest_dir"
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  kernel_pkg=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null | awk '/Depends: linux-image-/ {print $2; exit}')
  if [ -z "$kernel_pkg" ]; then
    # The package lists may be absent where every package was already installed: fetch them once.
    apt-get -o DPkg::Lock::Timeout=600 update -qq
    kernel_pkg=$(apt-cache depends linux-image-cloud-amd64 | awk '/Depends: linux-image-/ {print $2; exit}')
  fi
  # apt warns that root downloads outside its sandbox into a temporary folder; that is expected here.
  (cd "$work" && apt-get download -qq "$kernel_pkg" >/dev/null 2>&1)
  dpkg -x "$work"/"$kernel_pkg"_*.deb "$work/kernel"
  install -m 644 "$work"/kernel/boot/vmlinuz-* "$guest_dir/vmlinuz"

  mkdir -p "$work/initramfs/bin" "$work/initramfs/proc" "$work/initramfs/sys" "$work/initramfs/dev"
  install -m 755 /bin/busybox "$work/initramfs/bin/busybox"
  cat > "$work/initramfs/init" <<EOF
#!/bin/busybox sh
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t devtmpfs dev /dev 2>/dev/null
echo "$marker"
while true; do /bin/busybox sleep 1; done
EOF
  chmod 755 "$work/initramfs/init"
  (cd "$work/initramfs" && find . | cpio -o -H newc --quiet | gzip -9 > "$guest_dir/initramfs.gz.new")
  mv "$guest_dir/initramfs.gz.new" "$guest_dir/initramfs.gz"
  chmod 644 "$guest_dir/initramfs.gz"
  echo "$marker" > "$guest_dir/marker"
  rm -rf "$work"
  trap - EXIT
fi

# A base image for the copy-on-write overlay the real-guest test gives its instance.
[ -s "$guest_dir/base.qcow2" ] || qemu-img create -q -f qcow2 "$guest_dir/base.qcow2" 1G
chmod 644 "$guest_dir/base.qcow2"

# The C reference for `Hypervisors.Bench libvirt` (bench/libvirt-c/compare.sh builds its own copy too).
if [ ! -x "$ci_dir/libvirt-bench" ] || [ bench/libvirt-c/libvirt-bench.c -nt "$ci_dir/libvirt-bench" ]; then
  cc -O2 -Wall -o "$ci_dir/libvirt-bench" bench/libvirt-c/libvirt-bench.c -lvirt
fi
