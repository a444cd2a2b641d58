//! The write endpoints restore uses, as typed methods on [`NotionClient`]: creating pages,
//! appending blocks, creating databases and data sources, changing data source schemas and
//! page properties, comments, and the File Upload API (single part and multi-part, the bytes
//! sent as `multipart/form-data`). Every call goes through [`NotionClient::send`], so writes
//! share the rate limiter, the retries and the error types of the reads.
//!
//! Creates are sent with [`Replay::NotAfterSent`]: when their answer is lost the caller gets
//! [`NotionError::Unsure`] instead of a blind second attempt that could make a duplicate. Updates
//! that give the same result twice ([`Replay::Always`]) are retried as reads are. This module
//! builds no request bodies of its own beyond the upload form: what to create is the caller's
//! business (`crate::restore`).

use reqwest::Method;
use serde::Deserialize;
use serde_json::{json, Value};

use super::client::{Body, Replay};
use super::{NotionClient, NotionError};
use crate::ids;

/// Largest file sent in one part (Notion: 20 MB).
pub const SINGLE_PART_MAX: u64 = 20 * 1024 * 1024;
/// Size of each part of a multi-part upload but the last (Notion: 5 to 20 MB).
pub const PART_SIZE: u64 = 10 * 1024 * 1024;

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// A file upload object (`POST /file_uploads` and friends).
#[derive(Debug, Clone, Deserialize)]
pub struct FileUpload {
    pub id: String,
    /// `pending`, `uploaded`, `expired` or `failed`.
    pub status: String,
    #[serde(default)]
    pub expiry_time: Option<String>,
}

/// One list of blocks as `PATCH /blocks/{id}/children` answers it.
#[derive(Debug, Clone, Deserialize)]
struct Appended {
    results: Vec<Value>,
}

impl NotionClient {
    /// `POST /pages`. Returns the page object.
    pub async fn create_page(&self, body: &Value, what: &str) -> Result<Value, NotionError> {
        self.send(Method::POST, "/pages", &[], Some(Body::Json(body)), what, Replay::NotAfterSent).await
    }

    /// `PATCH /pages/{id}` (properties, icon, cover).
    pub async fn update_page(&self, page_id: &str, body: &Value, what: &str) -> Result<Value, NotionError> {
        let path = format!("/pages/{}", enc(&ids::dashed(page_id)));
        self.send(Method::PATCH, &path, &[], Some(Body::Json(body)), what, Replay::Always).await
    }

    /// `PATCH /blocks/{id}/children` with `body` (`children`, optional `position`). Returns the
    /// new first-level blocks, in order.
    pub async fn append_children(&self, block_id: &str, body: &Value, what: &str) -> Result<Vec<Value>, NotionError> {
        let path = format!("/blocks/{}/children", enc(&ids::dashed(block_id)));
        let a: Appended =
            self.send(Method::PATCH, &path, &[], Some(Body::Json(body)), what, Replay::NotAfterSent).await?;
        Ok(a.results)
    }

    /// `POST /databases` (with `initial_data_source`). Returns the database object.
    pub async fn create_database(&self, body: &Value, what: &str) -> Result<Value, NotionError> {
        self.send(Method::POST, "/databases", &[], Some(Body::Json(body)), what, Replay::NotAfterSent).await
    }

    /// `POST /data_sources`: another data source in an existing database.
    pub async fn create_data_source(&self, body: &Value, what: &str) -> Result<Value, NotionError> {
        self.send(Method::POST, "/data_sources", &[], Some(Body::Json(body)), what, Replay::NotAfterSent).await
    }

    /// `PATCH /data_sources/{id}`: add or change properties (setting the same schema twice
    /// changes nothing, so it is retried like a read).
    pub async fn update_data_source(&self, id: &str, body: &Value, what: &str) -> Result<Value, NotionError> {
        let path = format!("/data_sources/{}", enc(&ids::dashed(id)));
        self.send(Method::PATCH, &path, &[], Some(Body::Json(body)), what, Replay::Always).await
    }

    /// `POST /comments`.
    pub async fn create_comment(&self, body: &Value, what: &str) -> Result<Value, NotionError> {
        self.send(Method::POST, "/comments", &[], Some(Body::Json(body)), what, Replay::NotAfterSent).await
    }

    /// `GET /file_uploads/{id}`.
    pub async fn get_file_upload(&self, id: &str) -> Result<FileUpload, NotionError> {
        let path = format!("/file_uploads/{}", enc(&ids::dashed(id)));
        self.request(Method::GET, &path, &[], None, &format!("file upload {id}")).await
    }

    /// Upload `bytes` as `filename` and return the id of an `uploaded` file upload, ready to be
    /// attached (within the hour). Files up to [`SINGLE_PART_MAX`] go in one part, larger ones in
    /// parts of [`PART_SIZE`]. A lost answer to the create is harmless (an unused upload
    /// expires); a lost answer to a part or the completion is checked with `GET` before
    /// anything is sent again.
    pub async fn upload_file(&self, filename: &str, content_type: &str, bytes: &[u8]) -> Result<String, NotionError> {
        let what = format!("uploading {filename:?}");
        let size = bytes.len() as u64;
        if size <= SINGLE_PART_MAX {
            let body = json!({"mode": "single_part", "filename": filename, "content_type": content_type});
            let up: FileUpload =
                self.send(Method::POST, "/file_uploads", &[], Some(Body::Json(&body)), &what, Replay::Always).await?;
            self.send_part(&up.id, filename, content_type, bytes, None, &what).await?;
            return Ok(up.id);
        }
        let parts = size.div_ceil(PART_SIZE);
        let body = json!({"mode": "multi_part", "filename": filename, "content_type": content_type,
                          "number_of_parts": parts});
        let up: FileUpload =
            self.send(Method::POST, "/file_uploads", &[], Some(Body::Json(&body)), &what, Replay::Always).await?;
        for (i, chunk) in bytes.chunks(PART_SIZE as usize).enumerate() {
            self.send_part(&up.id, filename, content_type, chunk, Some(i as u64 + 1), &what).await?;
        }
        let path = format!("/file_uploads/{}/complete", enc(&ids::dashed(&up.id)));
        match self.send::<FileUpload>(Method::POST, &path, &[], None, &what, Replay::NotAfterSent).await {
            Ok(_) => {}
            Err(NotionError::Unsure { .. }) if self.get_file_upload(&up.id).await?.status == "uploaded" => {}
            Err(e) => return Err(e),
        }
        Ok(up.id)
    }

    async fn send_part(
        &self,
        upload_id: &str,
        filename: &str,
        content_type: &str,
        bytes: &[u8],
        part_number: Option<u64>,
        what: &str,
    ) -> Result<(), NotionError> {
        let path = format!("/file_uploads/{}/send", enc(&ids::dashed(upload_id)));
        let mut fields = Vec::new();
        if let Some(n) = part_number {
            fields.push(("part_number", n.to_string()));
        }
        let (ctype, body) = multipart_form(&fields, filename, content_type, bytes);
        let sent = self
            .send::<FileUpload>(
                Method::POST,
                &path,
                &[],
                Some(Body::Bytes { content_type: &ctype, bytes: &body }),
                what,
                Replay::NotAfterSent,
            )
            .await;
        match sent {
            Ok(_) => Ok(()),
            // A single part landed when the upload says so; a part of many cannot be told apart,
            // so it fails and the caller starts a new upload.
            Err(NotionError::Unsure { .. })
                if part_number.is_none() && self.get_file_upload(upload_id).await?.status == "uploaded" =>
            {
                Ok(())
            }
            Err(e) => Err(e),
        }
    }
}

/// A `multipart/form-data` body: text `fields`, then the file in field `file`. Returns the
/// `Content-Type` (with its boundary) and the bytes.
pub fn multipart_form(
    fields: &[(&str, String)],
    filename: &str,
    content_type: &str,
    bytes: &[u8],
) -> (String, Vec<u8>) {
    // A boundary that does not occur in the content (RFC 2046 5.1.1).
    let mut boundary;
    loop {
        boundary = format!("notion-git-backup-{:032x}", rand::random::<u128>());
        let b = boundary.as_bytes();
        if !bytes.windows(b.len()).any(|w| w == b) {
            break;
        }
    }
    let quoted = |s: &str| s.replace('\\', "\\\\").replace('"', "%22").replace(['\r', '\n'], " ");
    let mut out = Vec::with_capacity(bytes.len() + 512);
    for (name, value) in fields {
        out.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{}\"\r\n\r\n{value}\r\n", quoted(name))
                .as_bytes(),
        );
    }
    out.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{}\"\r\nContent-Type: {content_type}\r\n\r\n",
            quoted(filename)
        )
        .as_bytes(),
    );
    out.extend_from_slice(bytes);
    out.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multipart_form_has_the_fields_the_file_and_a_closing_boundary() {
        let (ct, body) = multipart_form(&[("part_number", "2".into())], "a \"b\".txt", "text/plain", b"hello");
        let boundary = ct.strip_prefix("multipart/form-data; boundary=").unwrap();
        let text = String::from_utf8(body).unwrap();
        assert!(text.starts_with(&format!("--{boundary}\r\n")));
        assert!(text.ends_with(&format!("\r\n--{boundary}--\r\n")));
        let parts: Vec<&str> = text.split(&format!("--{boundary}")).collect();
        // "", field, file, "--\r\n"
        assert_eq!(parts.len(), 4, "{text}");
        assert_eq!(parts[1], "\r\nContent-Disposition: form-data; name=\"part_number\"\r\n\r\n2\r\n");
        assert_eq!(
            parts[2],
            "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a %22b%22.txt\"\r\nContent-Type: text/plain\r\n\r\nhello\r\n"
        );
    }
}
