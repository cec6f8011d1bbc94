//! POSIX ACLs between the kernel's form (the `system.posix_acl_access` / `_default`
//! attribute: a version word, then tag, permissions and id per entry) and the text GNU tar
//! keeps in `SCHILY.acl.*` records (`getfacl -c`'s lines: `user:1000:rwx`). The text is
//! written with numeric ids, like the archive's owners under `--numeric-owner`; names are
//! accepted when read (GNU tar writes them), looked up on this machine.

use std::fmt::Write;

const VERSION: u32 = 2;
const USER_OBJ: u16 = 0x01;
const USER: u16 = 0x02;
const GROUP_OBJ: u16 = 0x04;
const GROUP: u16 = 0x08;
const MASK: u16 = 0x10;
const OTHER: u16 = 0x20;
const UNDEFINED_ID: u32 = u32::MAX;

/// The kernel's attribute as text, one entry a line.
pub fn to_text(xattr: &[u8]) -> Result<String, String> {
    let bad = || "malformed POSIX ACL attribute".to_string();
    let (head, body) = xattr.split_at_checked(4).ok_or_else(bad)?;
    if u32::from_le_bytes(head.try_into().map_err(|_| bad())?) != VERSION || body.len() % 8 != 0 {
        return Err(bad());
    }
    let mut text = String::new();
    for e in body.chunks_exact(8) {
        let tag = u16::from_le_bytes([e[0], e[1]]);
        let perm = u16::from_le_bytes([e[2], e[3]]);
        let id = u32::from_le_bytes([e[4], e[5], e[6], e[7]]);
        let (name, qualified) = match tag {
            USER_OBJ => ("user", false),
            USER => ("user", true),
            GROUP_OBJ => ("group", false),
            GROUP => ("group", true),
            MASK => ("mask", false),
            OTHER => ("other", false),
            _ => return Err(format!("unknown POSIX ACL entry tag {tag:#x}")),
        };
        let q = if qualified {
            id.to_string()
        } else {
            String::new()
        };
        let _ = writeln!(text, "{name}:{q}:{}", perms_text(perm));
    }
    Ok(text)
}

fn perms_text(p: u16) -> String {
    [(4, 'r'), (2, 'w'), (1, 'x')]
        .iter()
        .map(|&(bit, c)| if p & bit != 0 { c } else { '-' })
        .collect()
}

/// Text (entries separated by newlines or commas, `#` comments, an optional `default:`
/// prefix) as the kernel's attribute, entries in the order the kernel requires.
pub fn from_text(text: &str) -> Result<Vec<u8>, String> {
    let mut entries = Vec::new();
    for raw in text.split(['\n', ',']) {
        let entry = raw.split('#').next().unwrap_or("").trim();
        if entry.is_empty() {
            continue;
        }
        entries.push(parse_entry(entry).map_err(|e| format!("ACL entry {entry:?}: {e}"))?);
    }
    if entries.is_empty() {
        return Err("an empty ACL".into());
    }
    entries.sort_by_key(|&(tag, _, id)| (tag, id));
    let mut out = VERSION.to_le_bytes().to_vec();
    for (tag, perm, id) in entries {
        out.extend_from_slice(&tag.to_le_bytes());
        out.extend_from_slice(&perm.to_le_bytes());
        out.extend_from_slice(&id.to_le_bytes());
    }
    Ok(out)
}

fn parse_entry(entry: &str) -> Result<(u16, u16, u32), String> {
    let entry = entry
        .strip_prefix("default:")
        .or_else(|| entry.strip_prefix("d:"))
        .unwrap_or(entry);
    let mut parts = entry.splitn(3, ':');
    let (Some(tag), Some(q), Some(perms)) = (parts.next(), parts.next(), parts.next()) else {
        return Err("not TAG:QUALIFIER:PERMISSIONS".into());
    };
    let perm = parse_perms(perms.trim())?;
    let q = q.trim();
    let (tag, id) = match (tag.trim(), q.is_empty()) {
        ("user" | "u", true) => (USER_OBJ, UNDEFINED_ID),
        ("user" | "u", false) => (USER, id(q, "user", user_by_name)?),
        ("group" | "g", true) => (GROUP_OBJ, UNDEFINED_ID),
        ("group" | "g", false) => (GROUP, id(q, "group", group_by_name)?),
        ("mask" | "m", true) => (MASK, UNDEFINED_ID),
        ("other" | "o", true) => (OTHER, UNDEFINED_ID),
        (t, _) => return Err(format!("unknown tag {t:?}")),
    };
    Ok((tag, perm, id))
}

fn parse_perms(p: &str) -> Result<u16, String> {
    let mut bits = 0;
    for c in p.chars() {
        bits |= match c {
            'r' => 4,
            'w' => 2,
            'x' => 1,
            '-' => 0,
            _ => return Err(format!("bad permissions {p:?}")),
        };
    }
    Ok(bits)
}

fn user_by_name(n: &str) -> Option<u32> {
    let u = nix::unistd::User::from_name(n).ok().flatten()?;
    Some(u.uid.as_raw())
}

fn group_by_name(n: &str) -> Option<u32> {
    let g = nix::unistd::Group::from_name(n).ok().flatten()?;
    Some(g.gid.as_raw())
}

/// A numeric id, or a name looked up on this machine.
fn id(q: &str, what: &str, lookup: impl Fn(&str) -> Option<u32>) -> Result<u32, String> {
    q.parse()
        .ok()
        .or_else(|| lookup(q))
        .ok_or_else(|| format!("no {what} {q:?} on this machine"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `getfattr -e hex -n system.posix_acl_access` of a file after
    /// `setfacl -m u:1000:rwx,g:100:r-x` (mode 0644).
    const KERNEL: &str = "0200000001000600ffffffff02000700e803000004000400ffffffff080005006400000010000700ffffffff20000400ffffffff";
    const TEXT: &str =
        "user::rw-\nuser:1000:rwx\ngroup::r--\ngroup:100:r-x\nmask::rwx\nother::r--\n";

    #[test]
    fn the_kernel_form_reads_as_getfacl_text() {
        assert_eq!(to_text(&hex::decode(KERNEL).unwrap()).unwrap(), TEXT);
    }

    #[test]
    fn text_becomes_the_kernel_form_in_its_order() {
        assert_eq!(hex::encode(from_text(TEXT).unwrap()), KERNEL);
        // Commas, another order, comments, short tags and a default: prefix, as GNU tar
        // and setfacl accept them.
        let loose =
            "other::r--, g:100:r-x,mask::rwx # the mask\nuser::rw-,default:u:1000:rwx,group::r--";
        assert_eq!(hex::encode(from_text(loose).unwrap()), KERNEL);
        // Names are looked up here.
        let root =
            from_text("user::rwx\nuser:root:r--\ngroup::---\nmask::r--\nother::---").unwrap();
        assert_eq!(&root[12..20], &[2, 0, 4, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn bad_acls_are_errors() {
        for bad in [
            "",
            "user:rwx",
            "bogus::rwx",
            "user::rwz",
            "user:no-such-user-here:rwx",
        ] {
            assert!(from_text(bad).is_err(), "{bad:?}");
        }
        assert!(to_text(&[2, 0, 0, 0, 1]).is_err());
        assert!(to_text(&[1, 0, 0, 0]).is_err());
        assert!(to_text(&hex::decode("0200000040000700ffffffff").unwrap()).is_err());
    }
}
