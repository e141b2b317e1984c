/**
 * Test images only (`statusTty`): once the system settles, write one status
 * line to a second serial port, which a qemu test reads from a file. It says
 * whether first boot ran, which units failed and which user the node runs as.
 */
export function statusService(tty: string): { unit: string; script: string } {
  const script = `#!/bin/sh
# Type=simple so that boot can finish while this waits for it.
systemctl is-system-running --wait >/dev/null 2>&1
for i in $(seq 1 120); do systemctl is-active -q sovereign.service && break; sleep 1; done
pid=$(systemctl show -p MainPID --value sovereign.service)
# /proc/<pid> is owned by the process's user (no procps in a minbase image).
user=$(stat -c %U "/proc/$pid" 2>/dev/null || echo none)
failed=$(systemctl --failed --no-legend --plain | awk '{print $1}' | tr '\\n' ',')
fb=$(tr -d '\\n' < /var/lib/sovereign/firstboot.json 2>/dev/null || echo '{}')
echo "SOVSTATUS state=$(systemctl is-system-running) user=$user failed=[$failed] active=$(systemctl is-active sovereign.service) firstboot=$fb" > /dev/${tty}
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
