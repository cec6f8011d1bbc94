# backup-agent %preun (RPM): on erase ($1 = 0), stop and disable the service, as
# %systemd_preun does. On upgrade ($1 = 1) it keeps running.
if [ "$1" -eq 0 ] && [ -d /run/systemd/system ]; then
    systemctl --no-reload disable --now backup-agent.service >/dev/null 2>&1 || :
fi
exit 0
