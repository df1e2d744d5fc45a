//! Articles found on listing pages: tracked from their discovery on, with
//! the listing links already seen, so that a link is announced once.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use sled::transaction::ConflictableTransactionError;
use sled::Transactional;

use super::codec::{decode_json, to_json};
use super::error::tx_error;
use super::keys::seen_key;
use super::{Result, Store};

/// An article found on a listing page and tracked from then on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tracked {
    pub id: String,
    pub url: String,
    pub title: String,
    /// The listing source it was discovered on.
    pub listing: String,
    pub discovered_at: Timestamp,
}

impl Store {
    /// Whether a listing link was seen before.
    pub fn seen(&self, listing: &str, url: &str) -> Result<bool> {
        Ok(self.seen.contains_key(seen_key(listing, url))?)
    }

    /// Records that `listing` links `url` without tracking it again: the
    /// article is already watched from another listing.
    pub fn note_seen(&self, listing: &str, url: &str) -> Result<()> {
        self.write(|| {
            self.seen.insert(
                seen_key(listing, url),
                Timestamp::now().to_string().as_bytes(),
            )?;
            Ok(())
        })
    }

    /// Records a newly discovered article: tracked from now on, its link seen.
    pub fn track(&self, t: &Tracked) -> Result<()> {
        self.write(|| self.track_inner(t))
    }

    fn track_inner(&self, t: &Tracked) -> Result<()> {
        let json = to_json(t)?;
        (&self.tracked, &self.seen)
            .transaction(|(tr, se)| {
                tr.insert(t.id.as_bytes(), json.as_slice())?;
                se.insert(
                    seen_key(&t.listing, &t.url),
                    t.discovered_at.to_string().as_bytes(),
                )?;
                Ok::<_, ConflictableTransactionError<()>>(())
            })
            .map_err(tx_error(&t.id))?;
        self.flush()
    }

    /// One discovered article, if `id` names one.
    pub fn tracked_one(&self, id: &str) -> Result<Option<Tracked>> {
        match self.tracked.get(id.as_bytes())? {
            Some(v) => Ok(Some(decode_json(id.as_bytes(), &v)?)),
            None => Ok(None),
        }
    }

    /// Every article discovered on listings, in id order.
    pub fn tracked(&self) -> Result<Vec<Tracked>> {
        self.tracked
            .iter()
            .map(|kv| {
                let (k, v) = kv?;
                decode_json(&k, &v)
            })
            .collect()
    }
}
