#!/usr/bin/env bash
# Image tests: Debian's glance-api serving Glance v2 on loopback (SQLite database, file store, no authentication),
# qemu-img for probing and converting images, and a bootable disk of the CI guest (a FAT disk with SYSLINUX, the
# guest's kernel and initramfs from 20-libvirt.sh) that the Glance boot test uploads.
# Idempotent: packages, configuration, database and disk are only made when missing; the API is started only when
# nothing answers on its port. The tests share this one glance-api and remove every image they upload.
set -euo pipefail
cd "$(dirname "$0")/../.."
source .ci/lib.sh

ci_dir=/var/lib/hypervisors-ci
glance_dir=$ci_dir/glance
guest_dir=$ci_dir/guest
port=9292
url=http://127.0.0.1:$port

need_packages glance-api qemu-utils syslinux syslinux-common mtools dosfstools curl

mkdir -p "$glance_dir/images" "$glance_dir/staging" "$glance_dir/tasks" "$glance_dir/log"
config=$glance_dir/glance-api.conf
cat > "$config.new" <<EOF
[DEFAULT]
bind_host = 127.0.0.1
bind_port = $port
enabled_backends = fs:file
log_file = $glance_dir/log/glance-api.log
workers = 1
image_size_cap = 4294967296
[database]
connection = sqlite:///$glance_dir/glance.sqlite
[paste_deploy]
flavor =
[glance_store]
default_backend = fs
[fs]
filesystem_store_datadir = $glance_dir/images
[os_glance_staging_store]
filesystem_store_datadir = $glance_dir/staging
[os_glance_tasks_store]
filesystem_store_datadir = $glance_dir/tasks
EOF
if ! cmp -s "$config.new" "$config"; then
  mv "$config.new" "$config"
  rm -f "$glance_dir/.db-synced"
else
  rm -f "$config.new"
fi

if [ ! -e "$glance_dir/.db-synced" ]; then
  log "glance: creating the database"
  glance-manage --config-file "$config" db_sync >"$glance_dir/log/db_sync.log" 2>&1
  touch "$glance_dir/.db-synced"
fi

if ! curl -fsS -o /dev/null "$url/versions" 2>/dev/null; then
  log "glance: starting glance-api on $url"
  # Detached from this script's session: it keeps serving the test run after the setup scripts exit.
  setsid glance-api --config-file "$config" >>"$glance_dir/log/console.log" 2>&1 < /dev/null &
  echo $! > "$glance_dir/glance-api.pid"
  for _ in $(seq 1 120); do
    curl -fsS -o /dev/null "$url/versions" 2>/dev/null && break
    sleep 0.5
  done
  curl -fsS -o /dev/null "$url/versions" || { log "glance: glance-api did not answer on $url"; tail -n 30 "$glance_dir/log/console.log" >&2; exit 1; }
fi

# The bootable guest disk: an unpartitioned FAT file system whose boot sector is SYSLINUX's, holding the CI guest's
# kernel and initramfs; SeaBIOS boots it and the guest prints its marker on ttyS0, as the kernel-boot guest does.
disk=$guest_dir/boot-disk.qcow2
if [ ! -s "$disk" ] || [ "$guest_dir/initramfs.gz" -nt "$disk" ]; then
  log "glance: building the bootable CI guest disk $disk"
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  raw=$work/disk.raw
  truncate -s 64M "$raw"
  mkfs.vfat -n HVCI "$raw" >/dev/null
  cat > "$work/syslinux.cfg" <<'EOF'
SERIAL 0 115200
DEFAULT guest
PROMPT 0
TIMEOUT 0
LABEL guest
  KERNEL /vmlinuz
  INITRD /initrd.gz
  APPEND console=ttyS0 quiet panic=-1
EOF
  mcopy -i "$raw" "$guest_dir/vmlinuz" ::/vmlinuz
  mcopy -i "$raw" "$guest_dir/initramfs.gz" ::/initrd.gz
  mcopy -i "$raw" "$work/syslinux.cfg" ::/syslinux.cfg
  syslinux --install "$raw"
  qemu-img convert -q -f raw -O qcow2 "$raw" "$disk.new"
  mv "$disk.new" "$disk"
  chmod 644 "$disk"
  rm -rf "$work"
  trap - EXIT
fi
