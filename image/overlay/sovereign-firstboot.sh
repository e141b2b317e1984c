#!/bin/sh
# Sovereign Node first boot (run once by sovereign-firstboot.service).
# 1. re-encrypt root online to a new, device-unique volume key (progress on the console);
# 2. grow partition, LUKS and ext4 to fill the medium;
# 3. keep the recovery key's keyslot, replace the build passphrase with the chosen unlock method;
# 4. give the device its own LUKS and ext4 UUIDs (every copy of the image shares the build's);
# 5. generate machine-id, SSH host keys, the one-time setup code; print URL + code.
# Each stage is idempotent so a power cut mid-way resumes on the next boot
# (cryptsetup keeps its own reencryption checkpoint in the LUKS2 header).
set -eu
. /etc/sovereign/firstboot.conf
# MAPPER: the LUKS volume (root, or the data partition of the A/B layout); KEY_DIR: where its build and
# recovery keys wait (inside that volume either way).
MAPPER=${MAPPER:-sovroot}
KEY_DIR=${KEY_DIR:-/etc/sovereign}
BUILD_KEY=$KEY_DIR/build.key
RECOVERY_KEY=$KEY_DIR/recovery.key
say() { echo "sovereign-firstboot: $*"; echo "sovereign-firstboot: $*" > /dev/console 2>/dev/null || true; }
now() { date +%s.%N; }

ROOTDEV=$(cryptsetup status "$MAPPER" | awk '$1 == "device:" { print $2 }')
[ -b "$ROOTDEV" ] || { say "cannot find the device under /dev/mapper/$MAPPER"; exit 1; }
PARTNAME=$(basename "$(readlink -f "$ROOTDEV")")
PARTNUM=$(cat "/sys/class/block/$PARTNAME/partition")
DISK="/dev/$(basename "$(readlink -f "/sys/class/block/$PARTNAME/..")")"
mkdir -p "$DATA_DIR"
STATE="$DATA_DIR/firstboot.json"
PBKDF="--pbkdf argon2id --pbkdf-memory $PBKDF_MEMORY_KIB"

grow_root() {
  BEFORE=$(blockdev --getsize64 "/dev/mapper/$MAPPER")
  # The disk is in use (it is root), hence --force; partx tells the kernel the new size of just this partition.
  if sfdisk -d "$DISK" 2>/dev/null | grep -q "^label: gpt"; then sfdisk --relocate gpt-bak-std "$DISK" || true; fi
  # Whole MiB, so the size stays a multiple of the LUKS2 4 KiB sector (the segment is "dynamic": it maps the whole partition).
  START=$(cat "/sys/class/block/$PARTNAME/start")
  SIZE=$(( ($(blockdev --getsz "$DISK") - 34 - START) / 2048 * 2048 ))
  echo ", $SIZE" | sfdisk --force --no-reread --no-tell-kernel -N "$PARTNUM" "$DISK" || say "sfdisk could not grow partition $PARTNUM"
  partx --update --nr "$PARTNUM" "$DISK" || say "partx could not update partition $PARTNUM"
  if [ -n "${1:-}" ] && [ -f "$1" ]; then cryptsetup resize --key-file "$1" "$MAPPER" || say "cryptsetup resize failed"
  else cryptsetup resize "$MAPPER" || say "cryptsetup resize failed"; fi
  resize2fs "/dev/mapper/$MAPPER" || say "resize2fs failed"
  # The image is built without reserved blocks to stay small; on the device keep 1 % for root.
  tune2fs -m 1 "/dev/mapper/$MAPPER" >/dev/null || true
  AFTER=$(blockdev --getsize64 "/dev/mapper/$MAPPER")
  say "root filesystem: $BEFORE -> $AFTER bytes"
}

# cryptsetup --progress-json prints one object per line ({"device_bytes":"…","device_size":"…","speed":"…",
# "eta_ms":"…",…}, numbers as strings): one line each, percent, rate and time left, which say() puts on the console.
# It reports after each hotzone, and with checksum resilience one hotzone can span a whole small volume (the
# x86 test image's 435 MiB gave only 0 % and 100 %): --hotzone-size 32M makes a report every few seconds.
progress() {
  awk -F'"' '{
    for (i = 2; i + 2 <= NF; i += 4) v[$i] = $(i + 2)
    if (v["device_size"] + 0 <= 0) next
    eta = int(v["eta_ms"] / 1000)
    # The first report comes before anything is measured: no rate, no estimate yet.
    if (v["speed"] + 0 <= 0) { printf "re-encrypting: %d MiB, estimating the time\n", v["device_size"] / 1048576; fflush(); next }
    printf "re-encrypting: %d%% (%d of %d MiB) at %.1f MiB/s, about %dm%02ds left\n",
      100 * v["device_bytes"] / v["device_size"], v["device_bytes"] / 1048576, v["device_size"] / 1048576, v["speed"] / 1048576, eta / 60, eta % 60
    fflush()
  }'
}

# 1. New volume key. Skipped if the build key is already gone (an earlier run finished it).
REENC_S=0
if [ -f "$BUILD_KEY" ]; then
  OLD_KEY_DIGEST=$(cryptsetup luksDump "$ROOTDEV" | sed -n '/^Digests:/,$p' | sha256sum | cut -c1-16)
  say "re-encrypting $ROOTDEV to a new volume key (this takes a while; progress every few seconds)"
  # Name the build key's keyslot: a key file opens one keyslot, and cryptsetup drops the keyslots it
  # cannot re-wrap. The recovery key's slot is added back from $RECOVERY_KEY below.
  BUILD_SLOT=$(cryptsetup open --test-passphrase --verbose --key-file "$BUILD_KEY" "$ROOTDEV" 2>&1 | sed -n 's/^Key slot \([0-9]*\) unlocked.*/\1/p' | head -n 1)
  t0=$(now)
  RC_FILE=/run/sovereign-reencrypt.rc
  rm -f "$RC_FILE"
  # shellcheck disable=SC2086
  { rc=0; cryptsetup reencrypt --batch-mode --key-file "$BUILD_KEY" ${BUILD_SLOT:+--key-slot "$BUILD_SLOT"} $PBKDF --cipher "$CIPHER" --key-size "$KEY_SIZE" \
      --resilience checksum --hotzone-size 32M --progress-json --progress-frequency 5 "$ROOTDEV" || rc=$?; echo "$rc" > "$RC_FILE"; } | progress | while IFS= read -r l; do say "$l"; done
  [ "$(cat "$RC_FILE")" = 0 ] || { say "re-encryption failed (cryptsetup exit $(cat "$RC_FILE")); it resumes at the next boot"; exit 1; }
  t1=$(now)
  REENC_S=$(echo "$t1 $t0" | awk '{ printf "%.1f", $1 - $2 }')
  say "re-encryption done in ${REENC_S}s"

  # 2. Grow to fill the medium: partition, then LUKS, then ext4. Done here, while the build key
  # still opens a keyslot: resizing LUKS2 needs a key when the volume key sits in the kernel keyring.
  grow_root "$BUILD_KEY"

  # 3. The recovery key (made at build, in its own keyslot) opens the disk whatever the unlock method.
  # Re-encryption kept only the build key's keyslot: add it back while the build key still opens one.
  if [ -f "$RECOVERY_KEY" ]; then
    if ! cryptsetup open --test-passphrase --key-file "$RECOVERY_KEY" "$ROOTDEV" 2>/dev/null; then
      # shellcheck disable=SC2086
      cryptsetup luksAddKey --batch-mode --key-file "$BUILD_KEY" $PBKDF "$ROOTDEV" "$RECOVERY_KEY"
    fi
    say "the recovery key written beside the image opens this disk, with every unlock method"
  fi

  # Unlock method.
  case "$UNLOCK" in
    usb-key)
      NEW_KEY=/run/sovereign-new.key
      umask 077
      head -c 64 /dev/urandom > "$NEW_KEY"
      mkdir -p /run/sovkey
      mount LABEL=SOVKEY /run/sovkey
      cp "$NEW_KEY" /run/sovkey/sovereign.key.new && sync
      # shellcheck disable=SC2086
      cryptsetup luksAddKey --batch-mode --key-file "$BUILD_KEY" $PBKDF "$ROOTDEV" "$NEW_KEY"
      mv /run/sovkey/sovereign.key.new /run/sovkey/sovereign.key && sync
      umount /run/sovkey
      rm -f "$NEW_KEY"
      if [ "$KEEP_RECOVERY_PASSPHRASE" != yes ]; then cryptsetup luksRemoveKey --batch-mode "$ROOTDEV" "$BUILD_KEY"; fi
      ;;
    tpm2)
      # The passphrase stays as the recovery key; the TPM unlocks unattended through the token that
      # systemd-cryptsetup in the initrd reads. PCR 7 (Secure Boot state) keeps the key sealed to this
      # machine's firmware policy across kernel and initrd updates.
      systemd-cryptenroll --unlock-key-file="$BUILD_KEY" --tpm2-device=auto --tpm2-pcrs=7 "$ROOTDEV"
      say "enrolled this machine's TPM for the root key (systemd-cryptenroll, PCR 7); the passphrase stays for recovery"
      ;;
    ssh|passphrase)
      # The passphrase (typed at the console, or over ssh into the initramfs) is the unlock method.
      ;;
  esac
  NEW_KEY_DIGEST=$(cryptsetup luksDump "$ROOTDEV" | sed -n '/^Digests:/,$p' | sha256sum | cut -c1-16)

  # 4. This device's own LUKS and ext4 UUIDs. crypttab finds root by the LUKS label, so only dracut
  # images (tpm2) name the UUID, on the kernel command line: the ESP's loader entry is rewritten beside
  # the header change (written first, renamed after it). fstab names /dev/mapper, not the ext4 UUID.
  # The ESP is mounted "nofail", so not necessarily yet.
  if [ -d /boot/efi ]; then systemctl start boot-efi.mount 2>/dev/null || true; fi
  OLD_UUID=$(cryptsetup luksUUID "$ROOTDEV")
  NEW_UUID=$(cat /proc/sys/kernel/random/uuid)
  # The single layout's sovereign.conf, or the A/B layout's slot entries (sovereign-a.conf, counted ones too).
  ENTRIES=$(grep -ls "$OLD_UUID" /boot/efi/loader/entries/sovereign*.conf 2>/dev/null || true)
  if grep -q "$OLD_UUID" /proc/cmdline && [ -z "$ENTRIES" ]; then
    say "keeping the LUKS UUID: the kernel command line names it and no loader entry is there to rewrite"
  else
    for e in $ENTRIES; do sed "s/$OLD_UUID/$NEW_UUID/g" "$e" > "$e.new"; done
    cryptsetup luksUUID --batch-mode --uuid "$NEW_UUID" "$ROOTDEV"
    for e in $ENTRIES; do mv "$e.new" "$e"; done
    sync
    say "LUKS UUID $OLD_UUID -> $NEW_UUID"
  fi
  # metadata_csum_seed (set at build) lets the UUID change while root is mounted.
  if tune2fs -U random "/dev/mapper/$MAPPER" >/dev/null 2>&1; then say "root filesystem UUID $(blkid -s UUID -o value "/dev/mapper/$MAPPER")"
  else say "could not give the root filesystem its own UUID (tune2fs -U)"; fi

  shred -u "$RECOVERY_KEY" 2>/dev/null || rm -f "$RECOVERY_KEY"
  shred -u "$BUILD_KEY" 2>/dev/null || rm -f "$BUILD_KEY"
else
  OLD_KEY_DIGEST=unknown; NEW_KEY_DIGEST=unknown
  grow_root ""
fi

# 5. Identity.
if [ ! -s /etc/machine-id ] || grep -q uninitialized /etc/machine-id; then
  # Emptied in place, not removed: in the A/B layout it is a bind mount from the data partition.
  : > /etc/machine-id
  systemd-machine-id-setup
fi
if command -v ssh-keygen >/dev/null; then
  if [ -n "${SSH_HOST_KEY_DIR:-}" ]; then
    # A/B layout: on the data partition (an sshd_config.d drop-in names them), so an update keeps them.
    mkdir -p "$SSH_HOST_KEY_DIR" && chmod 0700 "$SSH_HOST_KEY_DIR"
    for t in ed25519 ecdsa rsa; do
      k="$SSH_HOST_KEY_DIR/ssh_host_${t}_key"
      # ssh-keygen asks before overwriting: an empty leftover is removed first.
      [ -s "$k" ] || { rm -f "$k" "$k.pub"; ssh-keygen -q -t "$t" -N "" -C "" -f "$k"; }
    done
  else ssh-keygen -A; fi
fi
# ssh unlock: the build's dropbear host keys are in every copy of this image; make the device's own.
DB=/etc/dropbear/initramfs
if [ -n "${UNLOCK_ARCHIVE:-}" ]; then
  # A/B layout: the slot stays as built (an update writes a slot whole, and its root filesystem has no room
  # for mkinitramfs). The device's keys go to the data partition, and reach every slot's initramfs through
  # the ESP's archive, loaded after the slot's own initrd (image/lib/abLayout.ts NODE_UNLOCK_CPIO).
  mkdir -p "$UNLOCK_KEY_DIR" && chmod 0700 "$UNLOCK_KEY_DIR"
  for t in ed25519 ecdsa; do
    k="$UNLOCK_KEY_DIR/dropbear_${t}_host_key"
    [ -s "$k" ] || { rm -f "$k"; dropbearkey -t "$t" -f "$k" >/dev/null; }
  done
  [ -s "$UNLOCK_KEY_DIR/authorized_keys" ] || cp "$DB/authorized_keys" "$UNLOCK_KEY_DIR/authorized_keys"
  if sovereign-unlock-archive "$UNLOCK_KEY_DIR" "$UNLOCK_HOME" "$UNLOCK_ARCHIVE"; then say "made this device's own ssh host keys for the unlock prompt ($UNLOCK_ARCHIVE)"
  else say "could not write $UNLOCK_ARCHIVE: the unlock prompt keeps the build's ssh host keys"; fi
elif [ -f "$DB/.build-host-keys" ] && command -v dropbearkey >/dev/null; then
  rm -f "$DB"/dropbear_*_host_key "$DB"/dropbear_*_host_key.pub
  for t in ed25519 ecdsa; do dropbearkey -t "$t" -f "$DB/dropbear_${t}_host_key" >/dev/null; done
  rm -f "$DB/.build-host-keys"
  # UEFI images keep the initrd only on the ESP: create it here; the post-update hook copies it there.
  KVER=$(uname -r)
  if [ -e "/boot/initrd.img-$KVER" ]; then update-initramfs -u -k "$KVER"; else update-initramfs -c -k "$KVER"; fi
  say "made this device's own ssh host keys for the unlock prompt"
fi
CODE_FILE="$DATA_DIR/setup-code"
if [ ! -s "$CODE_FILE" ]; then
  umask 077
  if [ -s "$KEY_DIR/setup-code" ]; then mv "$KEY_DIR/setup-code" "$CODE_FILE"
  elif [ -s /etc/sovereign/setup-code ]; then mv /etc/sovereign/setup-code "$CODE_FILE"
  # Crockford base32, 16 characters: the alphabet and length the auth service accepts as a pre-seeded code.
  # A bounded read (about 120 usable characters from 1 KiB), so no writer is cut off mid-pipe.
  else CODE=$(head -c 1024 /dev/urandom | LC_ALL=C tr -dc '0-9ABCDEFGHJKMNPQRSTVWXYZ' | cut -c1-16)
    echo "$CODE" | sed 's/..../&-/g; s/-$//' > "$CODE_FILE"; fi
fi
chown -R sovereign:sovereign "$DATA_DIR"
chmod 0600 "$CODE_FILE"

cat > "$STATE" <<JSON
{"reencryptSeconds": $REENC_S, "rootBytesBefore": $BEFORE, "rootBytesAfter": $AFTER,
 "volumeKeyDigestBefore": "$OLD_KEY_DIGEST", "volumeKeyDigestAfter": "$NEW_KEY_DIGEST", "unlock": "$UNLOCK", "board": "$BOARD",
 "luksUuid": "$(cryptsetup luksUUID "$ROOTDEV")", "rootFsUuid": "$(blkid -s UUID -o value "/dev/mapper/$MAPPER")"}
JSON
touch "$DATA_DIR/.firstboot-done"
HOST=$(cat /etc/hostname)
say "ready: open http://$HOST.local:$PORT/ and enter the setup code $(cat "$CODE_FILE")"
