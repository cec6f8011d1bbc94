# backup-agent %postun (RPM): reload units; on upgrade ($1 >= 1) restart a running service so
# the new binary runs. Erase keeps the user, /var/lib/backup-agent and any config the operator
# changed (saved as .rpmsave), as Fedora's packaging guidelines ask: RPM has no "purge";
# remove them by hand with `userdel backup-agent; rm -rf /var/lib/backup-agent`.
if [ -d /run/systemd/system ]; then
    systemctl daemon-reload >/dev/null 2>&1 || :
    if [ "$1" -ge 1 ]; then
        systemctl try-restart backup-agent.service >/dev/null 2>&1 || :
    fi
fi
exit 0
