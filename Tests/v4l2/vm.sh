#!/usr/bin/env bash
# Runs a shell command inside a small qemu VM (software emulation, no KVM needed) that boots
# Debian's own kernel with the `vivid` V4L2 test driver (and optionally `v4l2loopback`), so
# host programs (the Swift `bedside` binary, v4l2-ctl, ffmpeg, python3) run unchanged against
# a real /dev/video* driven by a real kernel V4L2 stack.
#
#   Tests/v4l2/vm.sh [options] -- 'command'
#
# The host's root filesystem is shared read-only into the guest (virtio-9p) with a throw-away
# tmpfs overlay on top, and the command runs in a chroot of it: same paths, same binaries,
# same libraries. The command starts in the directory vm.sh was started from. Its stdout and
# stderr reach this script's stdout (the guest's serial console); vm.sh exits with the command's
# exit status (124: timed out, 125: the VM failed before or while running the command).
#
# Options:
#   --vivid "PARAMS"  vivid module parameters, as kernel command-line words
#                     (default: "vivid.n_devs=1 vivid.node_types=0x1 vivid.num_inputs=1
#                     vivid.input_types=0x3": one capture-only device, one HDMI input).
#                     "none" does not load vivid.
#   --loopback        also load v4l2loopback as /dev/video10 (exclusive_caps=1), e.g. to feed
#                     MJPEG into it with ffmpeg from inside the guest.
#   --timeout S       kill the VM after S seconds (default 300); vm.sh then exits 124.
#   --out DIR         a host folder shared read-write into the guest at the same path
#                     (default: a temporary folder, removed afterwards). Inside the guest its
#                     path is in $BEDSIDE_VM_OUT: write results there to keep them.
#   --setup-only      prepare the cache and exit.
#   --rebuild         redo the setup (e.g. to pick up a newer Debian kernel).
#   --verbose         kernel messages and the guest's /init steps on the console.
#
# Inside the guest: a clean environment with only HOME=/root, PATH = the host's PATH plus the
# usual system folders, TMPDIR on its own tmpfs, LANG=C.UTF-8, TERM=dumb, BEDSIDE_VM=1 and
# BEDSIDE_VM_OUT=the shared results folder (pass anything else inline: -- 'FOO=1 cmd'). Networking:
# loopback only (127.0.0.1 works; nothing outside the guest is reachable). Everything
# else the command writes is discarded at power-off. The guest has 1 GiB of memory and 2 vCPUs;
# CPU-heavy work runs 5-20x slower than on the host, the capture path at full rate. The serial
# console carries ~300 KB/s: write big logs into $BEDSIDE_VM_OUT rather than to stdout.
#
# The first run (as root, Debian 12, Debian's apt repositories reachable) installs
# qemu-system-x86 busybox-static v4l-utils cpio xz-utils kmod gcc-12 make, downloads and
# unpacks (never installs) the current Debian kernel, builds v4l2loopback against its headers
# and builds an initramfs into ${BEDSIDE_VM_CACHE:-/var/cache/bedside-vm} (30-40 s). Later runs
# skip all that and take ~5 s for a trivial command (boot to power-off).
set -euo pipefail

readonly SETUP_REV=3
CACHE="${BEDSIDE_VM_CACHE:-/var/cache/bedside-vm}"
VIVID_DEFAULT="vivid.n_devs=1 vivid.node_types=0x1 vivid.num_inputs=1 vivid.input_types=0x3"
VIVID="$VIVID_DEFAULT"
LOOPBACK=0
TIMEOUT=300
OUT=""
SETUP_ONLY=0
REBUILD=0
VERBOSE=0
APT_PACKAGES=(qemu-system-x86 busybox-static v4l-utils cpio xz-utils kmod gcc-12 make)
# Modules the guest loads (everything modules.dep lists for them comes along).
MODULES=(virtio_pci 9pnet_virtio 9p overlay vivid)

say() { echo "vm.sh: $*" >&2; }
die() { echo "vm.sh: error: $*" >&2; exit 125; }
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
  case "$1" in
    --vivid) [ $# -ge 2 ] || die "--vivid needs a value"; VIVID="$2"; shift 2 ;;
    --vivid=*) VIVID="${1#*=}"; shift ;;
    --loopback) LOOPBACK=1; shift ;;
    --timeout) [ $# -ge 2 ] || die "--timeout needs a value"; TIMEOUT="$2"; shift 2 ;;
    --timeout=*) TIMEOUT="${1#*=}"; shift ;;
    --out) [ $# -ge 2 ] || die "--out needs a value"; OUT="$2"; shift 2 ;;
    --out=*) OUT="${1#*=}"; shift ;;
    --setup-only) SETUP_ONLY=1; shift ;;
    --rebuild) REBUILD=1; shift ;;
    --verbose) VERBOSE=1; shift ;;
    -h|--help) usage; exit 0 ;;
    --) shift; break ;;
    *) die "unknown option '$1' (usage: $0 [--vivid PARAMS] [--loopback] [--timeout S] [--out DIR] -- 'command')" ;;
  esac
done
CMD="$*"
[[ "$TIMEOUT" =~ ^[0-9]+$ ]] && [ "$TIMEOUT" -gt 0 ] || die "--timeout wants a whole number of seconds, got '$TIMEOUT'"
if [ "$SETUP_ONLY" = 0 ] && [ -z "$CMD" ]; then
  die "no command given (usage: $0 [options] -- 'command')"
fi
for w in $VIVID; do
  case "$w" in none|vivid.*=*) ;; *) die "--vivid takes words like vivid.n_devs=1, got '$w'" ;; esac
done

# ---------------------------------------------------------------------------------------------
# The guest's /init (busybox sh). Its text is part of the cache key: edit it and the next run
# rebuilds the initramfs.
init_script() {
  cat <<'INIT'
#!/bin/sh
# bedside vm.sh guest init
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
stty -onlcr 2>/dev/null    # plain \n on the serial console, as on the host
arg() { sed -n "s/.*[[:space:]]$1=\([^[:space:]]*\).*/\1/p" /proc/cmdline; }
CTL="$(arg bedside.ctl)"
VERBOSE="$(arg bedside.verbose)"
[ "$VERBOSE" = 1 ] && set -x
# Leave through qemu's isa-debug-exit port (instant, no shutdown messages), else power off.
halt_now() { sync; printf '\000' | dd of=/dev/port bs=1 seek=244 count=1 2>/dev/null; poweroff -f; sleep 5; echo o >/proc/sysrq-trigger; }
fail() {
  echo "vm.sh (guest): $*" >&2
  [ -n "$CTL" ] && [ -d "/out/$CTL" ] && echo "$*" >"/out/$CTL/init-error"
  halt_now
}
ip link set lo up || ifconfig lo 127.0.0.1 up || fail "bringing up the loopback interface failed"   # localhost servers
for m in virtio_pci 9pnet_virtio 9p overlay; do
  modprobe "$m" || fail "modprobe $m failed"
done
mkdir -p /out /lower /upper /hostroot
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 out /out || fail "mounting the results share failed"
[ -n "$CTL" ] && [ -f "/out/$CTL/config" ] || fail "no control files (bedside.ctl=$CTL) on the results share"
. "/out/$CTL/config"    # HOSTOUT LOOPBACK LOAD_VIVID
if [ "$LOAD_VIVID" = 1 ]; then
  modprobe vivid || fail "modprobe vivid failed"    # parameters come from the kernel command line
fi
if [ "$LOOPBACK" = 1 ]; then
  modprobe v4l2loopback video_nr=10 exclusive_caps=1 || fail "modprobe v4l2loopback failed"
fi
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=512000,cache=loose hostroot /lower || fail "mounting the host root (9p) failed"
mount -t tmpfs -o mode=0755 tmpfs /upper || fail "tmpfs for the overlay failed"
mkdir -p /upper/u /upper/w
mount -t overlay -o lowerdir=/lower,upperdir=/upper/u,workdir=/upper/w overlay /hostroot || fail "overlay on the host root failed"
R=/hostroot
mount -o bind /proc $R/proc && mount -o bind /sys $R/sys && mount -o bind /dev $R/dev || fail "binding /proc /sys /dev failed"
mkdir -p $R/dev/pts $R/dev/shm
mount -t devpts -o newinstance,ptmxmode=0666 devpts $R/dev/pts || fail "devpts failed"
mount -t tmpfs -o mode=1777 tmpfs $R/dev/shm || fail "/dev/shm failed"
mkdir -p $R/tmp/bedside-vm-tmp && mount -t tmpfs -o mode=1777 tmpfs $R/tmp/bedside-vm-tmp || fail "tmpfs for TMPDIR failed"
mkdir -p "$R$HOSTOUT" && mount -o bind /out "$R$HOSTOUT" || fail "mounting the results share at $HOSTOUT failed"
# Driver control for the scenarios (unplug and replug): the chroot cannot load modules (they live in this
# initramfs), so it writes a request to /run/vmctl/request and this loop answers in /run/vmctl/done.
mkdir -p /vmctl $R/run/vmctl && mount -t tmpfs tmpfs /vmctl && mount -o bind /vmctl $R/run/vmctl || fail "vmctl failed"
(
  while :; do
    if [ -f /vmctl/request ]; then
      req="$(cat /vmctl/request)"; rm -f /vmctl/request
      rc=0
      case "$req" in
        "unload vivid")
          # Retried until the last user (Bedside) closes the device, for up to 30 s.
          end=$(( $(date +%s) + 30 ))
          until rmmod vivid 2>/vmctl/err; do [ "$(date +%s)" -ge "$end" ] && { rc=1; break; }; done ;;
        "load vivid"*) modprobe vivid ${req#load vivid} 2>/vmctl/err || rc=1 ;;
        *) echo "unknown request: $req" >/vmctl/err; rc=2 ;;
      esac
      echo "$rc" >/vmctl/done.tmp && mv /vmctl/done.tmp /vmctl/done
    fi
    sleep 0.1
  done
) &
set +x
chroot $R /bin/bash --noprofile --norc "$HOSTOUT/$CTL/cmd.sh" </dev/null
echo $? >"/out/$CTL/rc"
halt_now
INIT
}

# ---------------------------------------------------------------------------------------------
# Setup (first run, or after an interrupted/outdated one).
cache_key() {
  # the setup code and the guest's /init are part of the key: edit either and the next run redoes the setup
  { echo "rev=$SETUP_REV modules=${MODULES[*]} packages=${APT_PACKAGES[*]}"; declare -f do_setup dep_of; init_script; } \
    | sha256sum | cut -c1-16
}

missing_packages() {
  local p
  for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q "install ok installed" || echo "$p"
  done
}

apt_updated=0
apt_update() {
  [ "$apt_updated" = 1 ] && return 0
  say "apt-get update"
  apt-get update -qq -o DPkg::Lock::Timeout=300 >/dev/null || die "apt-get update failed: Debian's apt repositories must be reachable for the first run"
  apt_updated=1
}

# apt-cache depends PKG | the first "Depends: <prefix>..." name
dep_of() {
  apt-cache depends "$1" 2>/dev/null | awk -v pre="$2" '$1 == "Depends:" && index($2, pre) == 1 { print $2; exit }'
}

do_setup() {
  local t0=$SECONDS stage kpkg kver hpkg hcommon kbuild lbpkg
  [ "$(id -u)" = 0 ] || die "the first run sets up $CACHE and installs packages: run it as root once (or set BEDSIDE_VM_CACHE to a folder you own after a root has installed: ${APT_PACKAGES[*]})"
  command -v apt-get >/dev/null || die "apt-get not found: vm.sh's setup needs Debian 12 (bookworm) or a derivative"

  local missing
  missing="$(missing_packages | tr '\n' ' ')"
  if [ -n "${missing// /}" ]; then
    apt_update
    say "installing $missing"
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=300 --no-install-recommends $missing \
      >"$CACHE/apt-install.log" 2>&1 \
      || { tail -20 "$CACHE/apt-install.log" >&2; die "apt-get install $missing failed (log: $CACHE/apt-install.log)"; }
  fi
  apt_update    # the kernel package must be the one the mirror has now

  stage="$CACHE/stage.$$"
  rm -rf "$CACHE"/stage.* "$CACHE/ready"
  mkdir -p "$stage/debs"
  chown _apt "$stage/debs" 2>/dev/null || true   # apt-get download drops root to _apt when it can

  # The versioned kernel behind linux-image-amd64 (Debian's security updates rename it).
  kpkg="$(dep_of linux-image-amd64 linux-image-)"
  [ -n "$kpkg" ] || die "could not resolve linux-image-amd64 to a versioned kernel package (apt-cache depends linux-image-amd64)"
  kver="${kpkg#linux-image-}"
  kver="${kver%-unsigned}"
  hpkg="linux-headers-$kver"
  hcommon="$(dep_of "$hpkg" linux-headers-)"
  kbuild="$(dep_of "$hpkg" linux-kbuild-)"
  [ -n "$hcommon" ] && [ -n "$kbuild" ] || die "could not resolve the dependencies of $hpkg (apt-cache depends $hpkg)"
  lbpkg=v4l2loopback-dkms
  say "kernel $kver: downloading $kpkg $hpkg $hcommon $kbuild $lbpkg"
  (cd "$stage/debs" && apt-get download -qq "$kpkg" "$hpkg" "$hcommon" "$kbuild" "$lbpkg" >/dev/null 2>"$stage/download.log") \
    || { cat "$stage/download.log" >&2; die "apt-get download of the kernel packages failed"; }

  say "unpacking"
  local k="$stage/kernel" h="$stage/headers" s="$stage/v4l2loopback-src" f
  mkdir -p "$k" "$h" "$s"
  dpkg-deb -x "$stage"/debs/"$kpkg"_*.deb "$k" || die "dpkg-deb -x $kpkg failed"
  for f in "$hpkg" "$hcommon" "$kbuild"; do
    dpkg-deb -x "$stage"/debs/"$f"_*.deb "$h" || die "dpkg-deb -x $f failed"
  done
  dpkg-deb -x "$stage"/debs/"$lbpkg"_*.deb "$s" || die "dpkg-deb -x $lbpkg failed"
  local vmlinuz="$k/boot/vmlinuz-$kver"
  [ -f "$vmlinuz" ] || die "$kpkg has no /boot/vmlinuz-$kver"

  # The uncompressed vmlinux boots ~2 s faster under TCG (PVH entry) than the bzImage:
  # it is the xz stream inside vmlinuz.
  local off
  off="$(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "$vmlinuz" | head -1 | cut -d: -f1 || true)"
  # (process substitution: xz stops reading after the stream, and tail's SIGPIPE would fail a pipe)
  if [ -n "$off" ] && xz -dc --single-stream < <(tail -c +$((off + 1)) "$vmlinuz") >"$stage/vmlinux" 2>/dev/null \
     && [ "$(head -c 4 "$stage/vmlinux" | od -An -tx1 | tr -d ' ')" = 7f454c46 ]; then
    :
  else
    say "warning: no xz-compressed vmlinux inside vmlinuz; booting the bzImage (slower)"
    cp "$vmlinuz" "$stage/vmlinux"
  fi

  # v4l2loopback, built against the unpacked headers (whose Makefile names /usr/src by path).
  say "building v4l2loopback"
  local hdir="$h/usr/src/linux-headers-$kver" lbsrc
  lbsrc="$(echo "$s"/usr/src/v4l2loopback-*)"
  [ -d "$hdir" ] && [ -d "$lbsrc" ] || die "unexpected layout of $hpkg or $lbpkg"
  sed -i "s#^include /usr/src/#include $h/usr/src/#" "$hdir/Makefile"
  make -C "$hdir" M="$lbsrc" modules >"$stage/v4l2loopback-build.log" 2>&1 \
    || { tail -20 "$stage/v4l2loopback-build.log" >&2; die "building v4l2loopback failed (log: $stage/v4l2loopback-build.log; needs gcc-12 and make)"; }
  strip --strip-debug "$lbsrc/v4l2loopback.ko" 2>/dev/null || true
  local moddir="$k/lib/modules/$kver"
  mkdir -p "$moddir/updates"
  cp "$lbsrc/v4l2loopback.ko" "$moddir/updates/"
  depmod -b "$k" "$kver" || die "depmod on the unpacked kernel failed"

  # The initramfs: busybox, the modules and what they need, /init.
  say "building the initramfs"
  local ir="$stage/initramfs" m line path
  mkdir -p "$ir"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,etc,lib/modules/"$kver"}
  cp /bin/busybox "$ir/bin/busybox"
  if LC_ALL=C readelf -l "$ir/bin/busybox" 2>/dev/null | grep -q 'Requesting program interpreter'; then
    die "/bin/busybox is dynamically linked: install busybox-static (apt-get install busybox-static)"
  fi
  "$ir/bin/busybox" --list-full | while read -r path; do
    [ -e "$ir/$path" ] || ln -s /bin/busybox "$ir/$path"
  done
  for m in "${MODULES[@]}" v4l2loopback; do
    modprobe -d "$k" -S "$kver" --show-depends "$m" >"$stage/deps" || die "module $m or one it needs is missing from $kpkg"
    while read -r line; do
      case "$line" in
        insmod\ *) path="${line#insmod }"; path="${path%% *}"; rel="${path#"$k"/}"
                   mkdir -p "$ir/$(dirname "$rel")"; cp "$path" "$ir/$rel" ;;
      esac
    done <"$stage/deps"
  done
  cp "$moddir"/modules.builtin "$moddir"/modules.order "$ir/lib/modules/$kver/" 2>/dev/null || true
  "$ir/bin/busybox" depmod -b "$ir" "$kver" || die "busybox depmod in the initramfs failed"
  mknod -m 600 "$ir/dev/console" c 5 1 || die "mknod /dev/console failed (run as root)"
  init_script >"$ir/init"
  chmod 755 "$ir/init"
  (cd "$ir" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) >"$stage/initrd" || die "cpio failed"
  echo "$kver" >"$stage/kernel-version"

  # Keep what boots; drop the downloads and unpacked trees.
  rm -rf "$stage/debs" "$k" "$h" "$s" "$ir" "$stage/deps"
  rm -rf "$CACHE/img.old"
  [ -d "$CACHE/img" ] && mv "$CACHE/img" "$CACHE/img.old"
  mv "$stage" "$CACHE/img"
  rm -rf "$CACHE/img.old"
  cache_key >"$CACHE/ready.tmp" && mv "$CACHE/ready.tmp" "$CACHE/ready"
  say "setup done in $((SECONDS - t0)) s (kernel $kver, cache $CACHE)"
}

cache_ok() {
  [ -f "$CACHE/ready" ] && [ "$(cat "$CACHE/ready")" = "$(cache_key)" ] \
    && [ -s "$CACHE/img/vmlinux" ] && [ -s "$CACHE/img/initrd" ] \
    && command -v qemu-system-x86_64 >/dev/null
}

if [ "$REBUILD" = 1 ] || ! cache_ok; then
  mkdir -p "$CACHE" || die "cannot create the cache folder $CACHE (set BEDSIDE_VM_CACHE to a writable folder)"
  exec 9>"$CACHE/.lock"
  flock 9    # one setup at a time; a second caller waits, then finds the cache ready
  if [ "$REBUILD" = 1 ] || ! cache_ok; then
    if [ "$REBUILD" = 1 ]; then say "--rebuild: redoing the setup in $CACHE"
    elif [ -f "$CACHE/ready" ]; then say "the setup in $CACHE is from another version of vm.sh: redoing it"
    elif [ -d "$CACHE/img" ] || compgen -G "$CACHE/stage.*" >/dev/null; then say "found an unfinished setup in $CACHE: redoing it"
    else say "first run: setting up $CACHE (about a minute)"
    fi
    do_setup
  fi
  exec 9>&-
fi
[ "$SETUP_ONLY" = 1 ] && exit 0

# ---------------------------------------------------------------------------------------------
# Run.
tmpout=0
if [ -z "$OUT" ]; then
  OUT="$(mktemp -d "${TMPDIR:-/tmp}/bedside-vm.XXXXXX")"
  tmpout=1
else
  mkdir -p "$OUT" || die "cannot create --out folder $OUT"
fi
OUT="$(cd "$OUT" && pwd -P)"
case "$OUT" in
  /|/proc|/proc/*|/sys|/sys/*|/dev|/dev/*) die "--out $OUT cannot be used: it hides a system folder in the guest" ;;
esac
CTL=".bedside-vm.$$"
CTLDIR="$OUT/$CTL"
QPID=""
cleanup() {
  if [ -n "$QPID" ] && kill -0 "$QPID" 2>/dev/null; then kill -TERM "$QPID" 2>/dev/null || true; wait "$QPID" 2>/dev/null || true; fi
  rm -rf "$CTLDIR"
  [ "$tmpout" = 1 ] && rm -rf "$OUT"
  return 0
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP
mkdir "$CTLDIR"

sq() { printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"; }    # single-quote for sh
LOAD_VIVID=1
[ "$VIVID" = none ] && { LOAD_VIVID=0; VIVID=""; }
{
  echo "HOSTOUT=$(sq "$OUT")"
  echo "LOOPBACK=$LOOPBACK"
  echo "LOAD_VIVID=$LOAD_VIVID"
} >"$CTLDIR/config"
GUEST_PATH=""
IFS=: read -r -a path_dirs <<<"${PATH:-}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
for d in "${path_dirs[@]}"; do
  case ":$GUEST_PATH:" in *":$d:"*) ;; *) [ -n "$d" ] && GUEST_PATH="${GUEST_PATH:+$GUEST_PATH:}$d" ;; esac
done
{
  echo "export PATH=$(sq "$GUEST_PATH") HOME=/root TMPDIR=/tmp/bedside-vm-tmp LANG=C.UTF-8 TERM=dumb"
  echo "export BEDSIDE_VM=1 BEDSIDE_VM_OUT=$(sq "$OUT")"
  echo "cd $(sq "$PWD") || { echo $(sq "vm.sh (guest): cannot cd to $PWD inside the guest") >&2; exit 125; }"
  printf '%s\n' "$CMD"
} >"$CTLDIR/cmd.sh"

if [ "$VERBOSE" = 1 ]; then KARGS="console=ttyS0 loglevel=7"; else KARGS="console=ttyS0 quiet loglevel=3"; fi
# mitigations=off, init_on_alloc=0 and no 5-level paging (la57=off): 1.5-2x faster programs
# under TCG (no page-table switch per syscall, no zeroing of every page). A test VM needs neither.
KARGS="$KARGS panic=-1 oops=panic mitigations=off init_on_alloc=0 bedside.ctl=$CTL bedside.verbose=$VERBOSE $VIVID"

timeout --kill-after=10 "$TIMEOUT" qemu-system-x86_64 \
  -accel tcg,thread=multi -cpu max,la57=off -smp 2 -m 1024 \
  -nodefaults -no-user-config -display none -serial stdio -no-reboot \
  -device isa-debug-exit,iobase=0xf4,iosize=0x04 \
  -kernel "$CACHE/img/vmlinux" -initrd "$CACHE/img/initrd" \
  -append "$KARGS" \
  -virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
  -virtfs "local,path=${OUT//,/,,},mount_tag=out,security_model=none,multidevs=remap" \
  </dev/null &
QPID=$!
qrc=0
wait "$QPID" || qrc=$?
QPID=""

if [ -f "$CTLDIR/rc" ]; then
  rc="$(cat "$CTLDIR/rc")"
  [[ "$rc" =~ ^[0-9]+$ ]] || rc=125
  exit "$rc"
fi
if [ "$qrc" = 124 ] || [ "$qrc" = 137 ]; then
  say "the VM did not finish within --timeout $TIMEOUT s and was killed"
  exit 124
fi
if [ -f "$CTLDIR/init-error" ]; then
  say "the guest's setup failed: $(cat "$CTLDIR/init-error") (rerun with --verbose to see the kernel's messages)"
else
  say "the VM stopped before the command finished (qemu exit status $qrc; a kernel panic or an early /init failure: rerun with --verbose)"
fi
exit 125
