//! The store's own tests: round trips, old formats, deltas, backups, the
//! pending index, decide-before-commit and a full disk.

use jiff::Timestamp;

use super::backup::BlobExporter;
use super::codec::{decode_entry, encode_entry, to_json};
use super::fs::temp_sibling;
use super::keys::{version_key, VersionLocs};
use super::pack::Loc;
use super::*;
use crate::model::{sha256_hex, AlertKind, Document, EncodingSource, Section, Validators};
use blobs::MAX_DELTA_DEPTH;

/// Opens a store this test closed a moment ago: sled's background flush
/// still holds the folder's lock for a moment after the drop.
fn reopen(dir: &std::path::Path) -> Store {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        match Store::open(dir) {
            Err(StoreError::Locked { .. }) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            other => return other.unwrap(),
        }
    }
}

/// Commits `nv` after whatever is latest, with no alerts.
fn commit(s: &Store, nv: &NewVersion) -> Result<Commit> {
    let latest = s.latest(&nv.source)?.map(|r| r.version);
    s.commit_version(nv, latest, Vec::new())
}

fn doc(text: &str) -> Document {
    Document {
        title: "标题".into(),
        published: None,
        encoding: "UTF-8".into(),
        preamble: "导语".into(),
        sections: vec![Section {
            label: "(一)".into(),
            raw_label: "（一）".into(),
            path: vec!["(一)".into()],
            level: 1,
            heading: String::new(),
            text: text.into(),
        }],
    }
}

fn new_version(raw: &[u8], d: Document) -> NewVersion {
    NewVersion {
        source: "s".into(),
        fetched_at: Timestamp::now(),
        url: "http://x/".into(),
        final_url: "http://x/".into(),
        status: 200,
        content_type: None,
        validators: Validators::default(),
        raw: raw.to_vec(),
        document: d,
        encoding_source: EncodingSource::Header,
    }
}

#[test]
fn versions_chain_dedupe_and_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(dir.path()).unwrap();
    let page1 = "页面内容".repeat(2000);
    let c1 = commit(&s, &new_version(page1.as_bytes(), doc("一二三"))).unwrap();
    let Commit::Stored { record: r1, .. } = c1 else {
        panic!("first version not stored")
    };
    // Whitespace-only change: same fingerprint, nothing stored.
    let c = commit(&s, &new_version(b"other bytes", doc("一 二\u{3000}三"))).unwrap();
    assert!(matches!(c, Commit::Unchanged(_)));
    let page2 = page1.replacen("页面", "页码", 1);
    let c2 = commit(&s, &new_version(page2.as_bytes(), doc("一二四"))).unwrap();
    let Commit::Stored { record: r2, .. } = c2 else {
        panic!("edit not stored")
    };
    assert_eq!(r2.version, 2);
    assert_eq!(r2.prev_hash.as_deref(), Some(r1.record_hash.as_str()));
    assert_eq!(r2.record_hash, r2.compute_record_hash());
    assert_eq!(s.raw(&r2).unwrap(), page2.as_bytes());
    assert_eq!(s.raw(&r1).unwrap(), page1.as_bytes());
    assert_eq!(s.document(&r2).unwrap().sections[0].text, "一二四");
    // The second raw blob is a small delta, not a second copy.
    let stored = s.raw_stored_len(&r2).unwrap();
    assert!(stored < 200, "delta blob is {stored} bytes");
    assert_eq!(s.versions("s").unwrap().len(), 2);
    assert_eq!(s.source_ids().unwrap(), vec!["s".to_string()]);
}

#[test]
fn second_open_is_a_clear_lock_error() {
    let dir = tempfile::tempdir().unwrap();
    let _s = Store::open(dir.path()).unwrap();
    match Store::open(dir.path()) {
        Err(StoreError::Locked { path }) => assert_eq!(path, dir.path()),
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("second open succeeded"),
    }
}

#[test]
fn one_tracked_article_is_read_by_its_id() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(dir.path()).unwrap();
    for n in 1..=3 {
        s.track(&Tracked {
            id: format!("list~a{n}"),
            url: format!("http://127.0.0.1/a{n}.html"),
            title: format!("第{n}篇"),
            listing: "list".into(),
            discovered_at: Timestamp::from_second(1_767_225_600 + n).unwrap(),
        })
        .unwrap();
    }
    let two = s.tracked_one("list~a2").unwrap().unwrap();
    assert_eq!(two.title, "第2篇");
    assert_eq!(Some(&two), s.tracked().unwrap().get(1));
    assert_eq!(s.tracked_one("list~a9").unwrap(), None);
}

#[test]
fn fetch_state_is_not_rewritten_when_only_time_moves() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(dir.path()).unwrap();
    let hour = std::time::Duration::from_secs(3600);
    let mut st = FetchState {
        last_checked: Some(Timestamp::now()),
        ..Default::default()
    };
    assert!(s.put_fetch_state("a", &st, hour).unwrap());
    st.last_checked = Some(Timestamp::now());
    assert!(!s.put_fetch_state("a", &st, hour).unwrap());
    st.validators.etag = Some("\"x\"".into());
    assert!(s.put_fetch_state("a", &st, hour).unwrap());
}

#[test]
fn an_interrupted_compact_is_not_mistaken_for_an_empty_store() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store");
    {
        let s = Store::open(&path).unwrap();
        commit(&s, &new_version(b"x", doc("甲"))).unwrap();
    }
    // The crash window of `compact`: data moved aside, fresh copy not yet in place.
    std::fs::rename(&path, temp_sibling(&path, "old")).unwrap();
    match Store::open(&path) {
        Err(StoreError::Open { message, .. }) => {
            assert!(message.contains("interrupted"), "{message}")
        }
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("an empty store was opened over the moved data"),
    }
    assert!(!path.exists(), "nothing created in its place");
}

#[cfg(unix)]
#[test]
fn backups_are_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(&dir.path().join("store")).unwrap();
    let backup = dir.path().join("b.bwb");
    s.backup_to(&backup).unwrap();
    let mode = std::fs::metadata(&backup).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
}

/// A 20 KB page edited one sentence at a time, far past the delta
/// depth: every version reads back byte-exact, and the history costs a
/// small fraction of its raw size in the pack.
#[test]
fn long_edit_chains_stay_small_and_exact() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(dir.path()).unwrap();
    let sentences: Vec<String> = (0..200u64)
        .map(|i| {
            format!(
                "第{i}句：加强应急管理体系和能力建设，编号{}。",
                i * 7919 % 10007
            )
        })
        .collect();
    let mut pages = Vec::new();
    let mut current = sentences.clone();
    for v in 0..(3 * MAX_DELTA_DEPTH as usize) {
        let at = (v * 37) % current.len();
        current[at] = format!("修改后的第{v}句，内容有所调整。");
        let body = current.concat();
        let page = format!("<html><body><p>{body}</p></body></html>");
        let nv = new_version(page.as_bytes(), doc(&body));
        let Commit::Stored { record, .. } = commit(&s, &nv).unwrap() else {
            panic!("version {v} stored")
        };
        pages.push((record, page));
    }
    let raw_total: usize = pages.iter().map(|(_, p)| p.len()).sum();
    let pack_len = std::fs::metadata(dir.path().join(PACK_FILE)).unwrap().len() as usize;
    assert!(
        pack_len * 10 < raw_total,
        "pack {pack_len} B for {raw_total} B of pages"
    );
    for (rec, page) in &pages {
        assert_eq!(s.raw(rec).unwrap(), page.as_bytes(), "v{}", rec.version);
        assert_eq!(sha256_hex(&s.raw(rec).unwrap()), rec.raw_hash);
        let body = page
            .trim_start_matches("<html><body><p>")
            .trim_end_matches("</p></body></html>");
        assert_eq!(s.document(rec).unwrap().sections[0].text, body);
    }
}

/// Stores written before the pack hold blobs and records inline in
/// sled; they read as before, and compaction moves them into the pack.
#[test]
fn inline_values_read_and_compact_into_the_pack() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store");
    let (rec, raw) = {
        let s = Store::open(&path).unwrap();
        let nv = new_version(b"<p>first page</p>", doc("一二三"));
        let Commit::Stored { record, .. } = commit(&s, &nv).unwrap() else {
            panic!("stored")
        };
        // Rewrite the values the way the first release stored them:
        // the record's JSON and the blobs by hash, inline.
        let key = version_key("s", 1);
        let locs = VersionLocs::decode(&s.versions.get(&key).unwrap().unwrap()).unwrap();
        let mut exporter = BlobExporter {
            store: &s,
            done: Default::default(),
            written: Default::default(),
        };
        let mut blobs = Vec::new();
        for loc in [locs.raw, locs.doc] {
            exporter
                .export(loc, 0, &mut |h, b| blobs.push((h.to_string(), b)))
                .unwrap();
        }
        for (hash, blob) in blobs {
            s.blobs.insert(hash.as_bytes(), blob).unwrap();
        }
        s.versions.insert(&key, to_json(&record).unwrap()).unwrap();
        for kv in s.meta.scan_prefix("site-base:") {
            let (k, v) = kv.unwrap();
            s.meta.insert(k, &v[..64]).unwrap();
        }
        s.flush().unwrap();
        (record, nv.raw)
    };
    // The old pack is gone, as in a store written before the pack;
    // nothing may need it.
    std::fs::remove_file(path.join(PACK_FILE)).unwrap();
    {
        let db = sled::open(&path).unwrap();
        db.open_tree("meta").unwrap().remove("pack").unwrap();
        db.flush().unwrap();
    }
    let s = Store::open(&path).unwrap();
    assert_eq!(s.latest("s").unwrap().unwrap(), rec);
    assert_eq!(s.raw(&rec).unwrap(), raw);
    drop(s);
    Store::compact(&path).unwrap();
    let s = Store::open(&path).unwrap();
    let value = s.versions.get(version_key("s", 1)).unwrap().unwrap();
    assert!(
        Loc::decode(&value).is_some(),
        "compaction moved the record into the pack"
    );
    assert_eq!(s.latest("s").unwrap().unwrap(), rec);
    assert_eq!(s.raw(&rec).unwrap(), raw);
    assert_eq!(s.document(&rec).unwrap().sections[0].text, "一二三");
}

/// A crash between appending to the pack and committing to sled leaves
/// bytes nothing points to: the history reads as before and the next
/// version goes after them.
#[test]
fn a_torn_pack_tail_is_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let v1 = new_version(b"<p>one</p>", doc("一"));
    {
        let s = Store::open(dir.path()).unwrap();
        commit(&s, &v1).unwrap();
    }
    let pack = dir.path().join(PACK_FILE);
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&pack)
        .unwrap();
    std::io::Write::write_all(&mut f, &[0x17, 0, 0, 0, 0xde, 0xad, b'x', b'y']).unwrap();
    drop(f);
    let s = reopen(dir.path());
    assert_eq!(s.latest("s").unwrap().unwrap().version, 1);
    let v2 = new_version(b"<p>two</p>", doc("二"));
    let Commit::Stored { record, .. } = commit(&s, &v2).unwrap() else {
        panic!("stored")
    };
    assert_eq!(s.raw(&record).unwrap(), b"<p>two</p>");
    assert_eq!(s.versions("s").unwrap().len(), 2);
}

/// Small values that sled rewrites often are stored compressed with a
/// dictionary; values written before that read as before.
#[test]
fn state_and_entries_are_small_and_old_forms_still_read() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(dir.path()).unwrap();
    let state = FetchState {
        validators: Validators {
            etag: Some("\"9d8a-5f3b2c1a\"".into()),
            last_modified: Some("Mon, 30 Nov 2026 01:34:31 GMT".into()),
        },
        last_checked: Some(Timestamp::now()),
        last_success: Some(Timestamp::now()),
        ..FetchState::default()
    };
    s.put_fetch_state("a", &state, std::time::Duration::ZERO)
        .unwrap();
    let stored = s.state.get("a").unwrap().unwrap();
    assert!(
        stored.len() * 2 < to_json(&state).unwrap().len(),
        "{} B",
        stored.len()
    );
    assert_eq!(s.fetch_state("a").unwrap(), state);
    s.state.insert("b", to_json(&state).unwrap()).unwrap();
    assert_eq!(s.fetch_state("b").unwrap(), state);

    let entry = OutboxEntry::new("changed/a/v2".into(), AlertKind::Changed, "a", Some(2));
    let stored = encode_entry(&entry).unwrap();
    assert!(
        stored.len() * 2 < to_json(&entry).unwrap().len(),
        "{} B",
        stored.len()
    );
    assert_eq!(decode_entry(b"k", &stored).unwrap(), entry);
    let plain = zstd::bulk::compress(&to_json(&entry).unwrap(), 3).unwrap();
    assert_eq!(decode_entry(b"k", &plain).unwrap(), entry);
    assert_eq!(
        decode_entry(b"k", &to_json(&entry).unwrap()).unwrap(),
        entry
    );
}

/// Two sources with the same first page: the second is stored as a
/// delta of the first (the site's base) with the same hash. A backup
/// must still restore into blobs that all decode, whichever sorts first.
#[test]
fn identical_pages_of_two_sources_back_up_and_restore() {
    let dir = tempfile::tempdir().unwrap();
    let store_path = dir.path().join("store");
    let page = |id: &str, body: &str| NewVersion {
        source: id.into(),
        url: format!("http://yjt.example.gov.cn/{id}.html"),
        raw: format!("<html><body><p>{body}</p></body></html>").into_bytes(),
        ..new_version(b"", doc(body))
    };
    let mut records = Vec::new();
    {
        let s = Store::open(&store_path).unwrap();
        for nv in [
            page("zz", "同一页面"),
            page("aa", "同一页面"),
            page("zz", "同一页面，已修改"),
            page("aa", "另一个修改"),
        ] {
            let Commit::Stored { record, .. } = commit(&s, &nv).unwrap() else {
                panic!("stored")
            };
            records.push((record, nv.raw));
        }
        assert_eq!(records[0].0.raw_hash, records[1].0.raw_hash);
        s.backup_to(&dir.path().join("b.bwb")).unwrap();
    }
    let restored = dir.path().join("restored");
    Store::restore_from(&dir.path().join("b.bwb"), &restored).unwrap();
    let s = Store::open(&restored).unwrap();
    for (rec, raw) in &records {
        let got = s.version(&rec.source, rec.version).unwrap().unwrap();
        assert_eq!(&got, rec);
        assert_eq!(&s.raw(rec).unwrap(), raw, "{} v{}", rec.source, rec.version);
        assert_eq!(sha256_hex(&s.document_bytes(rec).unwrap()), rec.doc_hash);
    }
}

#[test]
fn a_new_source_is_stored_as_a_delta_of_its_site_base() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(dir.path()).unwrap();
    let template: String = (0..600u64)
        .map(|i| {
            format!(
                "<li><a href=\"/col/{}.html\">第{i}条 栏目{}</a></li>",
                i * 7919 % 10007,
                i * 104729 % 997
            )
        })
        .collect();
    let page = |id: &str, body: &str| NewVersion {
        source: id.into(),
        url: format!("http://yjt.example.gov.cn/{id}.html"),
        raw: format!("{template}<p>{body}</p>").into_bytes(),
        ..new_version(b"", doc(body))
    };
    let first = commit(&s, &page("a", "甲文")).unwrap();
    let second = commit(&s, &page("b", "乙文")).unwrap();
    let (Commit::Stored { record: a, .. }, Commit::Stored { record: b, .. }) = (first, second)
    else {
        panic!("both stored")
    };
    let full = s.raw_stored_len(&a).unwrap();
    let delta = s.raw_stored_len(&b).unwrap();
    assert!(delta * 4 < full, "site delta {delta} B vs full {full} B");
    assert_eq!(
        s.raw(&b).unwrap(),
        page("b", "乙文").raw,
        "evidence byte-exact"
    );
    // Another site does not use it.
    let other = NewVersion {
        url: "http://other.example.org/c.html".into(),
        ..page("c", "丙文")
    };
    let Commit::Stored { record: c, .. } = commit(&s, &other).unwrap() else {
        panic!("stored")
    };
    let other_len = s.raw_stored_len(&c).unwrap();
    assert!(
        other_len > delta * 4,
        "another site starts from a full blob: {other_len} B"
    );
    assert_eq!(s.raw(&c).unwrap(), other.raw);
}

#[test]
fn pending_index_follows_delivery_and_is_rebuilt_for_old_stores() {
    let dir = tempfile::tempdir().unwrap();
    {
        let s = Store::open(dir.path()).unwrap();
        let a = OutboxEntry::new("changed/a/v2".into(), AlertKind::Changed, "a", Some(2));
        let b = OutboxEntry::new("changed/b/v2".into(), AlertKind::Changed, "b", Some(2));
        assert!(s.enqueue(&a).unwrap());
        assert!(
            !s.enqueue(&a).unwrap(),
            "the same alert is never queued twice"
        );
        assert!(s.enqueue(&b).unwrap());
        assert_eq!(s.pending().unwrap().len(), 2);
        let mut done = a.clone();
        done.state = DeliveryState::Delivered;
        s.update_entry(&done).unwrap();
        let pending: Vec<_> = s.pending().unwrap().into_iter().map(|e| e.key).collect();
        assert_eq!(pending, vec!["changed/b/v2".to_string()]);
        assert_eq!(
            s.outbox().unwrap().len(),
            2,
            "delivered alerts stay in the outbox"
        );
        // A store from before the index: no flag, no index.
        s.pending.clear().unwrap();
        s.meta.remove("pending-index").unwrap();
    }
    let s = reopen(dir.path());
    let pending: Vec<_> = s.pending().unwrap().into_iter().map(|e| e.key).collect();
    assert_eq!(pending, vec!["changed/b/v2".to_string()]);
}

/// The checker decides a version's alerts against the latest version it
/// read; the store refuses the commit when that is no longer the latest,
/// and writes nothing, so alerts always describe the diff they claim.
#[test]
fn a_commit_after_a_version_that_is_no_longer_latest_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(dir.path()).unwrap();
    let alert = |v: u32| {
        vec![OutboxEntry::new(
            format!("changed/s/v{v}"),
            AlertKind::Changed,
            "s",
            Some(v),
        )]
    };
    let v1 = new_version(b"<p>one</p>", doc("一"));
    assert!(matches!(
        s.commit_version(&v1, None, Vec::new()).unwrap(),
        Commit::Stored { .. }
    ));
    // Two checks both read v1 as latest; the first stores v2.
    let v2 = new_version(b"<p>two</p>", doc("二"));
    let Commit::Stored { record, alerts, .. } = s.commit_version(&v2, Some(1), alert(2)).unwrap()
    else {
        panic!("v2 stored")
    };
    assert_eq!((record.version, alerts), (2, 1));
    // The second, decided against v1 too, is refused.
    let late = new_version(b"<p>three</p>", doc("三"));
    match s.commit_version(&late, Some(1), alert(2)) {
        Err(StoreError::Moved {
            id,
            expected,
            found,
        }) => assert_eq!((id.as_str(), expected, found), ("s", Some(1), Some(2))),
        other => panic!("expected Moved, got {other:?}"),
    }
    // So is a first version over an existing history.
    assert!(matches!(
        s.commit_version(&late, None, Vec::new()),
        Err(StoreError::Moved { found: Some(2), .. })
    ));
    assert_eq!(s.versions("s").unwrap().len(), 2, "nothing written");
    assert_eq!(s.pending().unwrap().len(), 1, "only v2's alert queued");
    // Decided against v2, it is stored as v3.
    let Commit::Stored { record, .. } = s.commit_version(&late, Some(2), alert(3)).unwrap() else {
        panic!("v3 stored")
    };
    assert_eq!(record.version, 3);
    let numbers: Vec<u32> = s.history("s").map(|slot| slot.unwrap().number).collect();
    assert_eq!(numbers, vec![1, 2, 3]);
}

/// The injected full disk (the hook the integration test falls back on)
/// is latched: the first failure is `DiskFull`, every later write is
/// refused with it, reads go on.
#[test]
fn an_injected_full_disk_is_latched() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(dir.path()).unwrap();
    let Commit::Stored { record, .. } = commit(&s, &new_version(b"<p>one</p>", doc("一"))).unwrap()
    else {
        panic!("stored")
    };
    assert_eq!(s.disk_full(), None);
    s.tamper().fill_disk();
    let e = commit(&s, &new_version(b"<p>two</p>", doc("二"))).unwrap_err();
    assert!(e.is_disk_full(), "{e}");
    assert_eq!(s.disk_full(), Some(dir.path().join(PACK_FILE).as_path()));
    assert!(s.flush().unwrap_err().is_disk_full());
    assert_eq!(s.raw(&record).unwrap(), b"<p>one</p>");
    assert_eq!(s.latest("s").unwrap().unwrap(), record);
}
