# backup-agent %pre (RPM): the service user and group exist before the files are laid down,
# so /etc/backup-agent and its config can be owned by group backup-agent.
NAME=backup-agent
getent group "$NAME" >/dev/null || groupadd --system "$NAME"
getent passwd "$NAME" >/dev/null ||
    useradd --system --gid "$NAME" --home-dir /var/lib/backup-agent --no-create-home \
        --shell /sbin/nologin --comment "backup-agent daemon" "$NAME"
exit 0
