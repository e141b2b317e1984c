import { TIMESYNCD_CONF } from "./wifiImport.js";

/**
 * Test images only (`statusTty`): once the system settles, write one status
 * line to a second serial port, which a qemu test reads from a file. It says
 * whether first boot ran, which units failed, which user the node runs as, and
 * the network facts (resolver, DNS servers, a lookup, timesyncd, the clock).
 */
export function statusService(tty: string): { unit: string; script: string } {
  const script = `#!/bin/sh
# Type=simple so that boot can finish while this waits for it.
systemctl is-system-running --wait >/dev/null 2>&1
# Up to 5 minutes: under software emulation on a loaded host the node's start alone can take minutes.
for i in $(seq 1 300); do systemctl is-active -q sovereign.service && break; sleep 1; done
pid=$(systemctl show -p MainPID --value sovereign.service)
# /proc/<pid> is owned by the process's user (no procps in a minbase image).
user=$(stat -c %U "/proc/$pid" 2>/dev/null || echo none)
failed=$(systemctl --failed --no-legend --plain | awk '{print $1}' | tr '\\n' ',')
fb=$(tr -d '\\n' < /var/lib/sovereign/firstboot.json 2>/dev/null || echo '{}')
# The network facts a shell-less node cannot be asked for: resolv.conf's target, the DNS servers resolved
# got from DHCP, a lookup through the stub, timesyncd and the clock, and the service's MemoryMax.
resolv=$(readlink /etc/resolv.conf || echo file)
dns=$(resolvectl dns 2>/dev/null | awk -F': ' 'NF > 1 { print $2 }' | tr ' \\n' ',,')
lookup=$(getent ahostsv4 deb.debian.org 2>/dev/null | awk 'NR == 1 { print $1 }')
ntp=$(timedatectl show -p NTPSynchronized --value 2>/dev/null)
memmax=$(systemctl show -p MemoryMax --value sovereign.service)
# timedatectl asks timesyncd over D-Bus, which can time out on a loaded emulated boot: retry, and say what the
# drop-in file and the import unit say beside it, so an empty answer can be told from a missing import.
for i in 1 2 3 4 5; do
  ntpservers=$(timedatectl show-timesync -p SystemNTPServers --value 2>/dev/null | tr ' ' ',')
  [ -n "$ntpservers" ] && break
  sleep 5
done
ntpconf=$(sed -n 's/^NTP=//p' /${TIMESYNCD_CONF} 2>/dev/null | tr ' ' ',')
netimport=$(systemctl show -p ConditionResult,Result --value sovereign-network.service | tr '\\n' '/')
# The boot partition's network file: what is left there, and what the import wrote (mode, and a digest of
# the secret line rather than the secret).
boot=$(for d in /boot/efi /boot/firmware; do [ -d "$d" ] && echo "$d"; done | head -n 1)
netfiles=$(ls "$boot" 2>/dev/null | grep '^sovereign-network' | tr '\\n' ',')
donesecret=$(grep -ci '^passphrase' "$boot/sovereign-network.txt.done" 2>/dev/null)
iwd=$(for f in /var/lib/iwd/*.psk /var/lib/iwd/*.open; do [ -f "$f" ] && echo "$(basename "$f" | tr ' ' '_'):$(stat -c %a "$f"):$(grep '^Passphrase=' "$f" | sha256sum | cut -c1-16)"; done | tr '\\n' ',')
regdom=$(sed -n 's/.*ieee80211_regdom=//p' /etc/modprobe.d/sovereign-wifi.conf 2>/dev/null)
# The boot partition as the system sees it and as the node's sandbox does (A/B images write it from the node).
esp=$(findmnt -n -o FSTYPE,OPTIONS --mountpoint "$boot" 2>/dev/null | tr ' ' ',')
nodeesp=$(nsenter -t "$pid" -m -- stat -c '%m,%A,%g' "$boot" 2>/dev/null),$(nsenter -t "$pid" -m -- stat -f -c '%T' "$boot" 2>/dev/null)
# Sockets systemd-ssh-generator made for sshd (none: configure masks it).
sshgen=$(ls /run/systemd/generator 2>/dev/null | grep '^sshd-' | tr '\\n' ',')
# The hardware watchdogs the kernel drives, and whether one is running (PID 1 opened and pets it).
wdt=$(for w in /sys/class/watchdog/watchdog*; do [ -d "$w" ] && echo "$(tr ' ' '_' < "$w/identity"):$(cat "$w/state" 2>/dev/null)"; done | tr '\n' ',')
echo "SOVSTATUS state=$(systemctl is-system-running) user=$user failed=[$failed] active=$(systemctl is-active sovereign.service) restarts=$(systemctl show -p NRestarts --value sovereign.service) resolv=$resolv dns=[$dns] lookup=\${lookup:-none} resolved=$(systemctl is-active systemd-resolved) timesyncd=$(systemctl is-active systemd-timesyncd) ntpsync=\${ntp:-unknown} ntpservers=[$ntpservers] ntpconf=[$ntpconf] netimport=$netimport clock=$(date -u +%s) memmax=$memmax netfiles=[$netfiles] donesecret=\${donesecret:-none} iwd=[$iwd] regdom=\${regdom:-none} esp=[$esp] nodeesp=[$nodeesp] rootfs=$(stat -f -c %T /) watchdog=$(systemctl show -p RuntimeWatchdogUSec --value) wdt=[$wdt] sshgen=[$sshgen] firstboot=$fb" > /dev/${tty}
# A node that restarted or is not active: its last journal lines follow the status line, for the test's log.
if [ "$(systemctl show -p NRestarts --value sovereign.service)" != 0 ] || ! systemctl is-active -q sovereign.service; then
  journalctl -b -u sovereign.service --no-pager -o short-monotonic -n 60 2>&1 | sed 's/^/SOVJOURNAL /' > /dev/${tty}
fi
# Then the node's journal (and the kernel's, for an OOM kill or a seccomp denial) as it comes, so a test that
# drives the node afterwards sees why a request failed on a machine it has no shell on.
journalctl -b -f -n 0 -k -o short-monotonic 2>&1 | sed -u 's/^/SOVKERNEL /' > /dev/${tty} &
journalctl -b -f -n 100 -u sovereign.service -o short-monotonic 2>&1 | sed -u 's/^/SOVJOURNAL /' > /dev/${tty}
`;
  const unit = `[Unit]
Description=Sovereign test status line on /dev/${tty}
After=multi-user.target

[Service]
Type=simple
ExecStart=/usr/local/sbin/sovereign-status

[Install]
WantedBy=multi-user.target
`;
  return { unit, script };
}
