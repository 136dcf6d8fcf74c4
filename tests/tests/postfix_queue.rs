//! Queue counts from directory entries are exact, and the postqueue -j listing gives a
//! plausible true age of the oldest message, after injecting N messages that defer
//! (relayhost is a closed loopback port).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use headroom_engine::mta::postfix::Postfix;
use headroom_engine::mta::{merge_details, MtaSource};
use headroom_tests::bins::wait_for;
use headroom_tests::postfix::{unavailable, Instance, Options};

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

#[test]
fn queue_counts_are_exact_after_injecting_deferring_messages() {
    if let Some(why) = unavailable() {
        headroom_tests::skip_or_fail(why);
        return;
    }
    const N: usize = 25;
    let pf = Instance::start(&Options::default()).expect("private postfix starts");
    let before = now();
    pf.inject(N).expect("inject");
    wait_for(Duration::from_secs(60), || {
        (pf.postqueue_deferred() == N && pf.find_files("active") == 0).then_some(())
    })
    .unwrap_or_else(|| panic!("messages never all deferred\n{}", pf.maillog()));

    let mut source = Postfix::new(Some(pf.etc.clone()));
    let mut s = source.sample().expect("sample");
    let q = s.queue.clone().expect("queue counted");
    assert_eq!(q.method.as_str(), "directory");
    assert_eq!(q.deferred, Some(N as u64));
    assert_eq!(q.deferred, Some(pf.find_files("deferred") as u64));
    assert_eq!(q.active, Some(0));
    assert_eq!(q.incoming, Some(0));
    assert_eq!(q.maildrop, Some(0));
    assert_eq!(q.hold, Some(0));

    let d = source
        .lister()
        .expect("postfix has a listing")
        .list(Duration::from_secs(20))
        .expect("postqueue -j");
    assert!(d.complete);
    assert_eq!(d.counts.get("deferred"), Some(&(N as u64)));
    assert_eq!(d.top_domains.len(), 3, "{:?}", d.top_domains);
    assert!(
        d.top_reasons[0].key.contains("127.0.0.1"),
        "{:?}",
        d.top_reasons
    );
    let t = now();
    merge_details(&mut s, Some(&d), t);
    let age = s.queue.and_then(|q| q.oldest_age_s).expect("age");
    // Postfix stamps arrival in whole seconds.
    assert!(age >= 0.0 && age <= t - before + 1.0, "age {age}");
}

#[test]
fn a_hanging_listing_is_killed_at_its_budget() {
    use headroom_engine::mta::postfix::showq::PostqueueLister;
    use headroom_engine::mta::QueueLister;
    let start = std::time::Instant::now();
    // A stand-in postqueue that never answers.
    let mut l = PostqueueLister::new("/bin/sleep".into(), None);
    // `sleep -j` fails at once, so use a wrapper that really hangs.
    let dir = tempfile::tempdir().expect("tmp");
    let script = dir.path().join("postqueue");
    std::fs::write(&script, "#!/bin/sh\nexec sleep 30\n").expect("write");
    headroom_tests::postfix::run("/bin/chmod", &["+x", &script.to_string_lossy()]).expect("chmod");
    l.postqueue = script;
    let d = l
        .list(Duration::from_millis(500))
        .expect("killed, not failed");
    assert!(!d.complete);
    assert!(d.note.unwrap_or_default().contains("killed"));
    assert!(start.elapsed() < Duration::from_secs(10));
}
