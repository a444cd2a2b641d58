//! Git blob ids: SHA-1 over `"blob <len>\0" + content`, the id git and Gitea give a file's bytes.
//!
//! Used to skip unchanged files without downloading anything. Files are hashed in a stream, never
//! read whole into memory. SHA-256 repositories are not supported here.

use std::io::Read;
use std::path::Path;

use sha1::{Digest, Sha1};

use super::Content;

/// Blob id of in-memory bytes (lowercase hex).
pub fn blob_id(bytes: &[u8]) -> String {
    let mut h = Sha1::new();
    h.update(format!("blob {}\0", bytes.len()).as_bytes());
    h.update(bytes);
    hex::encode(h.finalize())
}

/// Blob id and size of a file on disk, streamed in 64 KiB chunks.
pub fn blob_id_of_file(path: &Path) -> std::io::Result<(String, u64)> {
    let mut file = std::fs::File::open(path)?;
    let len = file.metadata()?.len();
    let mut h = Sha1::new();
    h.update(format!("blob {len}\0").as_bytes());
    let mut buf = vec![0u8; 64 * 1024];
    let mut seen = 0u64;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        seen += n as u64;
        h.update(&buf[..n]);
    }
    if seen != len {
        return Err(std::io::Error::other(format!(
            "{} changed size while it was being hashed ({len} -> {seen} bytes)",
            path.display()
        )));
    }
    Ok((hex::encode(h.finalize()), len))
}

/// Blob id and size of a [`Content`]; staged files are hashed on a blocking thread.
pub async fn blob_id_of_content(content: &Content) -> std::io::Result<(String, u64)> {
    match content {
        Content::Bytes(b) => Ok((blob_id(b), b.len() as u64)),
        Content::File(p) => {
            let p = p.clone();
            tokio::task::spawn_blocking(move || blob_id_of_file(&p))
                .await
                .map_err(|e| std::io::Error::other(format!("hashing task failed: {e}")))?
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vectors() {
        assert_eq!(blob_id(b""), "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391");
        assert_eq!(blob_id(b"hello\n"), "ce013625030ba8dba906f756967f9e9ca394464a");
    }

    #[test]
    fn file_matches_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("big.bin");
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&p, &data).unwrap();
        let (id, len) = blob_id_of_file(&p).unwrap();
        assert_eq!(id, blob_id(&data));
        assert_eq!(len, 200_000);
    }
}
