# backup-agent %post (RPM): state directory; never enable or start the service (the shipped
# config has no job; `systemctl enable --now backup-agent` once configured), as Fedora's
# default preset does for services it does not list.
install -d -m 0700 -o backup-agent -g backup-agent /var/lib/backup-agent
install -d -m 0750 -o root -g backup-agent /etc/backup-agent/jobs.d
if [ -d /run/systemd/system ]; then
    systemctl daemon-reload >/dev/null 2>&1 || :
fi
exit 0
