//! User and group names for tar headers, looked up once per id: GNU tar restores by name
//! unless `--numeric-owner`, so the names the source machine had are kept beside the ids.

use std::collections::HashMap;
use std::fs::Metadata;
use std::os::unix::fs::MetadataExt;

use tar::Header;

/// User and group names for headers, looked up once per id.
#[derive(Default)]
pub struct Names {
    users: HashMap<u32, Option<String>>,
    groups: HashMap<u32, Option<String>>,
}

impl Names {
    pub fn set(&mut self, header: &mut Header, meta: &Metadata) {
        let user = self.users.entry(meta.uid()).or_insert_with(|| {
            nix::unistd::User::from_uid(meta.uid().into())
                .ok()
                .flatten()
                .map(|u| u.name)
        });
        if let Some(u) = user {
            let _ = header.set_username(u);
        }
        let group = self.groups.entry(meta.gid()).or_insert_with(|| {
            nix::unistd::Group::from_gid(meta.gid().into())
                .ok()
                .flatten()
                .map(|g| g.name)
        });
        if let Some(g) = group {
            let _ = header.set_groupname(g);
        }
    }
}
