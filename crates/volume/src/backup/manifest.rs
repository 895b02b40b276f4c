//! A backup's manifest: what the volume held, chunk by chunk.

use serde::{Deserialize, Serialize};

/// The content of one chunk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    /// All zeros: recorded, not stored.
    Zero,
    /// The lowercase hex SHA-256 of the chunk, also its file name in
    /// `chunks/`.
    Sha256(String),
}

impl Serialize for Content {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Content::Zero => s.serialize_str("zero"),
            Content::Sha256(h) => s.serialize_str(h),
        }
    }
}

impl<'de> Deserialize<'de> for Content {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if s == "zero" {
            Ok(Content::Zero)
        } else if s.len() == 64
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            Ok(Content::Sha256(s))
        } else {
            Err(serde::de::Error::custom(format!(
                "chunk content {s:?} is neither \"zero\" nor a sha256"
            )))
        }
    }
}

/// One chunk of a backup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkEntry {
    /// Its index: it covers `index * chunk_size` onwards.
    pub index: u64,
    /// What it holds (`sha256` in JSON).
    pub sha256: Content,
    /// Where the source's bytes were (a digest of stable file names and
    /// offsets), when every byte came from an immutable file: an
    /// incremental backup whose chunk has the same source reuses this
    /// entry without reading.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// A backup: `manifests/<id>.json` in the backup store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// The backup id.
    pub id: String,
    /// The backup this one is an increment of.
    pub parent_id: Option<String>,
    /// The volume backed up.
    pub volume_id: String,
    /// The volume's size, bytes.
    pub size: u64,
    /// Chunk size, bytes.
    pub chunk_size: u64,
    /// Every chunk, in order (an incremental backup lists them all too:
    /// a restore reads one manifest).
    pub chunks: Vec<ChunkEntry>,
}

impl Manifest {
    /// The hashes of the stored chunks it needs.
    pub fn hashes(&self) -> impl Iterator<Item = &str> {
        self.chunks.iter().filter_map(|c| match &c.sha256 {
            Content::Sha256(h) => Some(h.as_str()),
            Content::Zero => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_contents_are_zero_or_a_sha256_and_nothing_else() {
        let h = "ab".repeat(32);
        let m = Manifest {
            id: "b".into(),
            parent_id: None,
            volume_id: "v".into(),
            size: 8 << 20,
            chunk_size: 4 << 20,
            chunks: vec![
                ChunkEntry {
                    index: 0,
                    sha256: Content::Zero,
                    source: None,
                },
                ChunkEntry {
                    index: 1,
                    sha256: Content::Sha256(h.clone()),
                    source: Some("s".into()),
                },
            ],
        };
        let json = serde_json::to_value(&m).expect("serializes");
        assert_eq!(json["chunks"][0]["sha256"], "zero");
        assert!(json["chunks"][0].get("source").is_none());
        assert_eq!(json["chunks"][1]["sha256"], h.as_str());
        let back: Manifest = serde_json::from_value(json).expect("parses back");
        assert_eq!(back, m);
        assert_eq!(back.hashes().collect::<Vec<_>>(), vec![h.as_str()]);
        for bad in ["", "../x", "ZERO", &"AB".repeat(32), &"ab".repeat(31)] {
            let r: Result<Content, _> = serde_json::from_value(serde_json::json!(bad));
            assert!(r.is_err(), "{bad:?} accepted");
        }
    }
}
