//! Making an uploaded snapshot real: `SHA256SUMS`, then `manifest.json` last, then the rename
//! of `.<id>.partial/` to `<id>/`. For servers that cannot rename a directory, the files are
//! moved one by one into `<id>/` and the manifest is written there last: either way a directory
//! named by an id that holds `manifest.json` is complete.

use crate::layout::{self, JobDir, Manifest, SnapshotId};
use crate::remote::{RemoteError, Sftp};

pub async fn commit(
    sftp: &Sftp,
    dir: &JobDir,
    id: SnapshotId,
    sums: &[(String, String)],
    manifest: &Manifest,
) -> Result<(), RemoteError> {
    let partial = dir.partial(id);
    let text = layout::sums::render(sums);
    sftp.write_small(&format!("{partial}/{}", layout::SUMS_FILE), text.as_bytes())
        .await?;
    let json = manifest.to_json();
    sftp.write_small(
        &format!("{partial}/{}", layout::MANIFEST_FILE),
        json.as_bytes(),
    )
    .await?;
    let target = dir.snapshot(id);
    match sftp.rename(&partial, &target).await {
        Ok(()) => Ok(()),
        Err(e @ RemoteError::Sftp { code: Some(_), .. }) => {
            tracing::info!(
                "the server cannot rename the snapshot directory ({e}); moving its files one by one instead"
            );
            move_files(sftp, &partial, &target, json.as_bytes()).await
        }
        Err(e) => Err(e),
    }
}

async fn move_files(
    sftp: &Sftp,
    partial: &str,
    target: &str,
    manifest: &[u8],
) -> Result<(), RemoteError> {
    sftp.mkdir(target).await?;
    for e in sftp.list(partial).await? {
        if e.name == layout::MANIFEST_FILE {
            continue;
        }
        sftp.rename(
            &format!("{partial}/{}", e.name),
            &format!("{target}/{}", e.name),
        )
        .await?;
    }
    let tmp = format!("{target}/.{}.tmp", layout::MANIFEST_FILE);
    sftp.write_small(&tmp, manifest).await?;
    sftp.rename(&tmp, &format!("{target}/{}", layout::MANIFEST_FILE))
        .await?;
    sftp.remove_tree(partial).await
}
